package config

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

const qualifierPattern = `\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9_-]{1,128}`

var (
	bareNameRE   = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	qualifierRE  = regexp.MustCompile(`^(?:` + qualifierPattern + `)$`)
	partialARNRE = regexp.MustCompile(`^([0-9]{12}):function:([a-zA-Z0-9_-]{1,64})(?::(` + qualifierPattern + `))?$`)
	fullARNRE    = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-[a-z]+)+-[0-9]+):([0-9]{12}):function:([a-zA-Z0-9_-]{1,64})(?::(` + qualifierPattern + `))?$`)
	// regionRE accepts any lowercase host label, so that simulators and
	// future regions work; it catches typos like spaces or upper case.
	regionRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
)

// parsedName is a function name, partial ARN or full ARN taken apart.
type parsedName struct {
	functionName string
	region       string // full ARN only
	account      string // partial or full ARN
	qualifier    string // ARN suffix
	apiName      string // the input minus any :QUALIFIER suffix
}

func parseFunctionName(s string) (parsedName, bool) {
	if bareNameRE.MatchString(s) {
		return parsedName{functionName: s, apiName: s}, true
	}
	var p parsedName
	if m := fullARNRE.FindStringSubmatch(s); m != nil {
		p = parsedName{region: m[1], account: m[2], functionName: m[3], qualifier: m[4]}
	} else if m := partialARNRE.FindStringSubmatch(s); m != nil {
		p = parsedName{account: m[1], functionName: m[2], qualifier: m[3]}
	} else {
		return parsedName{}, false
	}
	p.apiName = s
	if p.qualifier != "" {
		p.apiName = s[:len(s)-len(p.qualifier)-1]
	}
	return p, true
}

func nameProblem(s string) string {
	if strings.HasPrefix(s, "arn:") {
		return fmt.Sprintf("invalid function ARN %q (want arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] with a 12-digit ACCOUNT)", s)
	}
	if strings.Contains(s, ":function:") {
		return fmt.Sprintf("invalid partial function ARN %q (want ACCOUNT:function:NAME[:QUALIFIER] with a 12-digit ACCOUNT)", s)
	}
	if name, q, ok := strings.Cut(s, ":"); ok && bareNameRE.MatchString(name) && qualifierRE.MatchString(q) {
		return fmt.Sprintf("invalid function name %q (set the version or alias with the qualifier key)", s)
	}
	return fmt.Sprintf("invalid function name %q (want 1-64 letters, digits, '-' or '_', a partial ARN ACCOUNT:function:NAME or a full function ARN)", s)
}

func isStatus(s string) bool {
	switch s {
	case "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED":
		return true
	}
	return false
}

// fmtDur formats a duration the way it would be written in the file.
func fmtDur(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return model.Duration(d).String()
	}
	return d.String()
}

// validate checks c, fills the derived Function fields and adds every
// problem to p. info (nil for configs built in code) supplies lines, raw values
// and which keys already failed to decode (those are not checked again).
func validate(c *Config, info *fileInfo, p *problems) {
	set := func(key string) bool {
		_, ok := info.topSrc(key)
		return ok
	}
	line := func(key string) int {
		s, _ := info.topSrc(key)
		return s.line
	}
	skip := func(key string) bool { return info != nil && info.bad[key] }
	durValue := func(key string, d time.Duration) string {
		if s, ok := info.topSrc(key); ok {
			return strconv.Quote(s.raw)
		}
		return strconv.Quote(fmtDur(d))
	}
	numValue := func(key string, f float64) string {
		if s, ok := info.topSrc(key); ok {
			return s.raw
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	}

	if !skip("region") && c.Region != "" && !regionRE.MatchString(c.Region) {
		p.add(line("region"), "region", "invalid region %q (want e.g. us-east-1)", c.Region)
	}
	if !skip("endpoint") && c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(line("endpoint"), "endpoint", "invalid URL %q (want an absolute http:// or https:// URL)", c.Endpoint)
		}
	}
	for _, k := range []struct {
		key string
		d   time.Duration
	}{{"interval", c.Interval}, {"window", c.Window}, {"overlap", c.Overlap}} {
		if !skip(k.key) && k.d <= 0 {
			p.add(line(k.key), k.key, "must be > 0, got %s", durValue(k.key, k.d))
		}
	}
	if !skip("resync_interval") {
		switch {
		case c.ResyncInterval < 0:
			p.add(line("resync_interval"), "resync_interval", "must be >= 0, got %s", durValue("resync_interval", c.ResyncInterval))
		case c.ResyncInterval > 0 && !skip("interval") && c.ResyncInterval < c.Interval:
			where, suffix := line("resync_interval"), ""
			if info != nil && !set("resync_interval") {
				where, suffix = line("interval"), " (the default)"
			}
			p.add(where, "resync_interval", "must be \"0s\" (disabled) or >= interval %s, got %s%s",
				durValue("interval", c.Interval), durValue("resync_interval", c.ResyncInterval), suffix)
		}
	}
	if !skip("page_size") && (c.PageSize < 1 || c.PageSize > MaxPageSize) {
		p.add(line("page_size"), "page_size", "must be between 1 and %d, got %d", MaxPageSize, c.PageSize)
	}
	if !skip("max_concurrency") && c.MaxConcurrency < 1 {
		p.add(line("max_concurrency"), "max_concurrency", "must be >= 1, got %d", c.MaxConcurrency)
	}
	for _, k := range []struct {
		key string
		v   float64
	}{{"list_requests_per_second", c.ListRequestsPerSecond}, {"get_requests_per_second", c.GetRequestsPerSecond}} {
		if !skip(k.key) && !(k.v > 0 && !math.IsInf(k.v, 0)) {
			p.add(line(k.key), k.key, "must be a finite number > 0, got %s", numValue(k.key, k.v))
		}
	}

	if len(c.Functions) == 0 && !(info != nil && (info.bad["functions"] || info.entries > 0)) {
		where := 0
		if info != nil {
			where = info.functionsLine
		}
		p.add(where, "functions", "at least one function is required")
	}

	type dupKey struct{ name, qualifier string }
	seen := map[dupKey][]int{}
	for i := range c.Functions {
		f := &c.Functions[i]
		var fi *funcInfo
		idx := i
		if info != nil && i < len(info.funcs) {
			fi = info.funcs[i]
			idx = fi.index
		}
		path := fmt.Sprintf("functions[%d]", idx)
		fline := func(key string) int {
			if s, ok := fi.src(key); ok {
				return s.line
			}
			return f.Line
		}
		fbad := func(key string) bool { return fi != nil && fi.bad[key] }
		fset := func(key string) bool {
			_, ok := fi.src(key)
			return ok
		}

		// name -> derived fields
		var pn parsedName
		nameOK := false
		switch {
		case fbad("name"):
		case f.Name == "" && fi != nil && !fset("name"):
			p.add(f.Line, path, "missing required key \"name\"")
		case f.Name == "":
			p.add(fline("name"), path+".name", "must not be empty")
		default:
			if pn, nameOK = parseFunctionName(f.Name); !nameOK {
				p.add(fline("name"), path+".name", "%s", nameProblem(f.Name))
			}
		}
		f.FunctionName, f.AccountID, f.Region = pn.functionName, pn.account, pn.region
		if nameOK && f.Region == "" {
			f.Region = c.Region
		}

		// qualifier
		qualOK := !fbad("qualifier")
		if qualOK && f.Qualifier != "" && !qualifierRE.MatchString(f.Qualifier) {
			p.add(fline("qualifier"), path+".qualifier", "invalid qualifier %q (want a version number, $LATEST or an alias of 1-128 letters, digits, '-' or '_')", f.Qualifier)
			qualOK = false
		}
		if nameOK && qualOK && pn.qualifier != "" {
			if f.Qualifier == "" {
				f.Qualifier = pn.qualifier
			} else if f.Qualifier != pn.qualifier {
				p.add(fline("qualifier"), path+".qualifier", "%q conflicts with qualifier %q in ARN %q", f.Qualifier, pn.qualifier, f.Name)
				qualOK = false
			}
		}

		// statuses
		if !fbad("statuses") && f.Statuses != nil {
			if len(f.Statuses) == 0 {
				p.add(fline("statuses"), path+".statuses", "empty list; omit the key to export all statuses")
			}
			first := map[string]int{}
			for j, s := range f.Statuses {
				if fi != nil && fi.badStatus[j] {
					continue
				}
				sline := f.Line
				if fi != nil && j < len(fi.statusLines) {
					sline = fi.statusLines[j]
				}
				k, dup := first[s]
				switch {
				case isStatus(s) && !dup:
					first[s] = j
				case len(p.list) >= maxProblems: // skip formatting
					p.dropped++
				case !isStatus(s):
					p.add(sline, fmt.Sprintf("%s.statuses[%d]", path, j), "unknown status %q (want one of %s)", s, strings.Join(AllStatuses(), ", "))
				default:
					p.add(sline, fmt.Sprintf("%s.statuses[%d]", path, j), "duplicate status %q (first at statuses[%d])", s, k)
				}
			}
		}

		// window
		if !fbad("window") {
			if f.Window == 0 && !fset("window") {
				f.Window = c.Window
			} else if f.Window <= 0 {
				v := strconv.Quote(fmtDur(f.Window))
				if s, ok := fi.src("window"); ok {
					v = strconv.Quote(s.raw)
				}
				p.add(fline("window"), path+".window", "must be > 0, got %s", v)
			}
		}

		// duplicates: the same (bare name, qualifier) pair in the same region
		// as far as both are known. Series are labelled by function,
		// qualifier and region only, so two entries that differ just by
		// execution_name or account would export the same series.
		if !nameOK || !qualOK {
			continue
		}
		k := dupKey{f.FunctionName, f.Qualifier}
		for _, j := range seen[k] {
			g := c.Functions[j]
			if !compatible(g.Region, f.Region) {
				continue
			}
			desc := fmt.Sprintf("duplicate function %q", f.FunctionName)
			if f.Qualifier != "" {
				desc += fmt.Sprintf(" with qualifier %q", f.Qualifier)
			}
			firstAt := fmt.Sprintf("line %d", g.Line)
			if g.Line == 0 {
				gidx := j
				if info != nil && j < len(info.funcs) {
					gidx = info.funcs[j].index
				}
				firstAt = fmt.Sprintf("functions[%d]", gidx)
			}
			p.add(f.Line, path, "%s (first at %s)", desc, firstAt)
			break
		}
		seen[k] = append(seen[k], i)
	}
}

// compatible reports whether two possibly unknown ("") values may be equal.
func compatible(a, b string) bool {
	return a == "" || b == "" || a == b
}

func (info *fileInfo) topSrc(key string) (src, bool) {
	if info == nil {
		return src{}, false
	}
	s, ok := info.top[key]
	return s, ok
}

func (fi *funcInfo) src(key string) (src, bool) {
	if fi == nil {
		return src{}, false
	}
	s, ok := fi.fields[key]
	return s, ok
}
