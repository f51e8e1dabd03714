package lambdasim

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ListFunctions (Lambda API version 2015-03-31).
const (
	listFunctionsPath = "/2015-03-31/functions"
	// maxFunctionsPage is what AWS returns at most per ListFunctions page,
	// whatever MaxItems says ("ListFunctions returns a maximum of 50 items
	// in each response, even if you set the number higher").
	maxFunctionsPage       = 50
	maxFunctionsMaxItems   = 10000
	functionExecTimeout    = 86400
	functionRetentionDays  = 14
	functionLastModifiedTZ = "2006-01-02T15:04:05.000-0700"
)

var masterRegionPattern = regexp.MustCompile(`^(ALL|[a-z]{2}(-gov)?-[a-z]+-\d)$`)

// AddPlainFunction registers a function without DurableConfig (or marks a
// registered one so): ListFunctions lists it without DurableConfig, so
// discovery of durable functions must skip it. Functions registered by any
// other method (AddFunction, Start, AddRaw, SetTags) are durable.
func (s *Server) AddPlainFunction(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.function(name).plain = true
}

// SetTags replaces the tags of the named function (registered, durable, if
// absent). A function whose tags were ever set is listed by the Tagging API
// GetResources, with an empty tag set when tags is empty, as AWS lists
// previously tagged resources; one never tagged is not listed.
func (s *Server) SetTags(function string, tags map[string]string) {
	cp := make(map[string]string, len(tags))
	for k, v := range tags {
		cp[k] = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.function(function)
	f.tags, f.tagged = cp, true
}

// Tags returns a copy of the named function's tags (nil if it has none).
func (s *Server) Tags(function string) map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f := s.funcs[function]
	if f == nil || len(f.tags) == 0 {
		return nil
	}
	out := make(map[string]string, len(f.tags))
	for k, v := range f.tags {
		out[k] = v
	}
	return out
}

type functionConfiguration struct {
	FunctionName     string
	FunctionArn      string
	Runtime          string
	Role             string
	Handler          string
	CodeSize         int64
	Description      string
	Timeout          int
	MemorySize       int
	LastModified     string
	CodeSha256       string
	Version          string
	TracingConfig    tracingConfig
	RevisionID       string `json:"RevisionId"`
	PackageType      string
	Architectures    []string
	EphemeralStorage ephemeralStorage
	SnapStart        snapStart
	LoggingConfig    loggingConfig
	DurableConfig    *durableConfig `json:",omitempty"`
}

type tracingConfig struct{ Mode string }

type ephemeralStorage struct{ Size int }

type snapStart struct{ ApplyOn, OptimizationStatus string }

type loggingConfig struct{ LogFormat, LogGroup string }

type listFunctionsResponse struct {
	Functions  []functionConfiguration
	NextMarker string `json:",omitempty"`
}

func validationError(format string, a ...any) *apiError {
	e := invalidParam(format, a...)
	e.code = "ValidationException"
	return e
}

// listFunctions serves ListFunctions: the partition's functions sorted by
// name ($LATEST only, with the unqualified ARN; with FunctionVersion=ALL
// every version, $LATEST first then ascending, with qualified ARNs), at most
// 50 per page, with an opaque NextMarker.
func (s *Server) listFunctions(v url.Values) (any, *apiError) {
	pageSize := maxFunctionsPage
	if m, ok := v["MaxItems"]; ok {
		n, err := strconv.Atoi(m[0])
		if err != nil || n < 1 || n > maxFunctionsMaxItems {
			return nil, validationError("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and %d", m[0], maxFunctionsMaxItems)
		}
		pageSize = min(n, maxFunctionsPage)
	}
	all := false
	switch fv := v.Get("FunctionVersion"); fv {
	case "":
	case "ALL":
		all = true
	default:
		return nil, validationError("1 validation error detected: Value '%s' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]", fv)
	}
	if mr := v.Get("MasterRegion"); mr != "" {
		if !masterRegionPattern.MatchString(mr) {
			return nil, validationError("1 validation error detected: Value '%s' at 'masterRegion' failed to satisfy constraint: Member must satisfy regular expression pattern: ALL|[a-z]{2}(-gov)?-[a-z]+-\\d{1}", mr)
		}
		if !all {
			return nil, invalidParam("MasterRegion can only be used with FunctionVersion ALL")
		}
		// Only Lambda@Edge replicas are listed then; none are simulated.
		return listFunctionsResponse{Functions: []functionConfiguration{}}, nil
	}
	var after *functionMarker
	if m := v.Get("Marker"); m != "" {
		fm, ok := decodeFunctionMarker(m)
		if !ok {
			return nil, invalidParam("Invalid marker: %s", m)
		}
		after = fm
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.funcs))
	for n := range s.funcs {
		names = append(names, n)
	}
	slices.Sort(names)
	start := 0
	if after != nil {
		start, _ = slices.BinarySearch(names, after.name)
	}
	resp := listFunctionsResponse{Functions: make([]functionConfiguration, 0, min(pageSize, len(names)))}
	for _, name := range names[start:] {
		f := s.funcs[name]
		versions := []string{"$LATEST"}
		if all {
			versions = sortedVersions(f.versions)
		}
		for _, ver := range versions {
			if after != nil && name == after.name && compareVersions(ver, after.version) <= 0 {
				continue
			}
			if len(resp.Functions) == pageSize {
				last := resp.Functions[pageSize-1]
				resp.NextMarker = encodeFunctionMarker(last.FunctionName, last.Version)
				return resp, nil
			}
			resp.Functions = append(resp.Functions, s.configuration(f, ver, all))
		}
	}
	return resp, nil
}

// configuration renders one version of f; qualified selects the
// version-qualified ARN. The caller holds the read lock.
func (s *Server) configuration(f *function, version string, qualified bool) functionConfiguration {
	arn := s.FunctionARN(f.name)
	if qualified {
		arn += ":" + version
	}
	sum := sha256.Sum256([]byte(s.opts.AccountID + "/" + f.name + "/" + version))
	c := functionConfiguration{
		FunctionName:     f.name,
		FunctionArn:      arn,
		Runtime:          "nodejs22.x",
		Role:             "arn:aws:iam::" + s.opts.AccountID + ":role/service-role/" + f.name + "-role",
		Handler:          "index.handler",
		CodeSize:         2048 + int64(sum[0])*16,
		Description:      "",
		Timeout:          60,
		MemorySize:       256,
		LastModified:     time.UnixMilli(f.createdMs).UTC().Format(functionLastModifiedTZ),
		CodeSha256:       base64.StdEncoding.EncodeToString(sum[:]),
		Version:          version,
		TracingConfig:    tracingConfig{Mode: "PassThrough"},
		RevisionID:       executionID(binary.BigEndian.Uint64(sum[8:16])),
		PackageType:      "Zip",
		Architectures:    []string{"x86_64"},
		EphemeralStorage: ephemeralStorage{Size: 512},
		SnapStart:        snapStart{ApplyOn: "None", OptimizationStatus: "Off"},
		LoggingConfig:    loggingConfig{LogFormat: "Text", LogGroup: "/aws/lambda/" + f.name},
	}
	if !f.plain {
		c.DurableConfig = &durableConfig{ExecutionTimeout: cmp.Or(f.execTimeout, functionExecTimeout), RetentionPeriodInDays: functionRetentionDays}
	}
	return c
}

// sortedVersions returns $LATEST first, then numeric versions ascending,
// then any others by name.
func sortedVersions(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, compareVersions)
	return out
}

func compareVersions(a, b string) int {
	rank := func(v string) (int, uint64) {
		if v == "$LATEST" {
			return 0, 0
		}
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			return 1, n
		}
		return 2, 0
	}
	ra, na := rank(a)
	rb, nb := rank(b)
	switch {
	case ra != rb:
		return ra - rb
	case na < nb:
		return -1
	case na > nb:
		return 1
	}
	return strings.Compare(a, b)
}

// functionMarker is the ListFunctions marker: the last item served.
type functionMarker struct{ name, version string }

func encodeFunctionMarker(name, version string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("lf1\x00" + name + "\x00" + version))
}

func decodeFunctionMarker(m string) (*functionMarker, bool) {
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil {
		return nil, false
	}
	p := strings.Split(string(b), "\x00")
	if len(p) != 3 || p[0] != "lf1" || p[1] == "" || p[2] == "" {
		return nil, false
	}
	return &functionMarker{name: p[1], version: p[2]}, true
}
