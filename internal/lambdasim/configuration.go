package lambdasim

import (
	"net/url"
	"strings"
	"time"
)

// OpGetFunctionConfiguration is Lambda GetFunctionConfiguration
// (GET /2015-03-31/functions/{FunctionName}/configuration?Qualifier=).
const OpGetFunctionConfiguration = "GetFunctionConfiguration"

const configurationSuffix = "/configuration"

// SetExecutionTimeout sets the DurableConfig.ExecutionTimeout (whole
// seconds) that ListFunctions and GetFunctionConfiguration report for the
// named function (registered, durable, if absent); d <= 0 restores the
// default of one day.
func (s *Server) SetExecutionTimeout(function string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.function(function).execTimeout = max(int(d/time.Second), 0)
}

// routeConfiguration recognizes a GetFunctionConfiguration path and returns
// its (unescaped) FunctionName.
func routeConfiguration(p string) (string, bool) {
	raw, ok := strings.CutPrefix(p, listFunctionsPath+"/")
	if !ok {
		return "", false
	}
	raw, ok = strings.CutSuffix(raw, configurationSuffix)
	if !ok || raw == "" || strings.Contains(raw, "/") {
		return "", false
	}
	name, err := url.PathUnescape(raw)
	return name, err == nil && name != ""
}

// getFunctionConfiguration serves GetFunctionConfiguration: the
// configuration of $LATEST, of a version or of the version an alias points
// at (its FunctionArn qualified as asked), with DurableConfig unless the
// function is plain; 404 ResourceNotFoundException for an unknown function
// or qualifier.
func (s *Server) getFunctionConfiguration(label string, v url.Values) (any, *apiError) {
	ref, aerr := parseFunctionName(label)
	if aerr != nil {
		return nil, aerr
	}
	qualifier := ref.qualifier
	if q := v.Get("Qualifier"); q != "" {
		if !qualifierPattern.MatchString(q) {
			return nil, invalidParam("Invalid Qualifier %q", q)
		}
		if qualifier != "" && qualifier != q {
			return nil, invalidParam("The derived qualifier from the function name does not match the specified qualifier.")
		}
		qualifier = q
	}
	notFound := resourceNotFound("Function not found: %s", s.FunctionARN(ref.name)+suffix(qualifier))
	if (ref.account != "" && ref.account != s.opts.AccountID) || (ref.region != "" && ref.region != s.opts.Region) {
		return nil, notFound
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	f := s.funcs[ref.name]
	if f == nil {
		return nil, notFound
	}
	version := "$LATEST"
	if qualifier != "" {
		version = qualifier
		if target, ok := f.aliases[qualifier]; ok {
			version = target
		} else if !f.versions[qualifier] {
			return nil, notFound
		}
	}
	c := s.configuration(f, version, false)
	c.FunctionArn += suffix(qualifier)
	return c, nil
}
