package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
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
	// roleARNRE is an IAM role ARN; the path is made of non-empty segments
	// of printable ASCII other than '/'.
	roleARNRE    = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:iam::([0-9]{12}):role/(?:[!-.0-~]+/)*[\w+=,.@-]{1,64}$`)
	externalIDRE = regexp.MustCompile(`^[\w+=,.@:/-]+$`) // as STS AssumeRole accepts, with 2-1224 characters
	accountRE    = regexp.MustCompile(`^[0-9]{12}$`)
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
	if !skip("max_idle_interval") {
		switch {
		case c.MaxIdleInterval < 0:
			p.add(line("max_idle_interval"), "max_idle_interval", "must be >= 0, got %s", durValue("max_idle_interval", c.MaxIdleInterval))
		case c.MaxIdleInterval > 0 && !skip("interval") && c.MaxIdleInterval < c.Interval:
			p.add(line("max_idle_interval"), "max_idle_interval", "must be \"0s\" (disabled) or >= interval %s, got %s",
				durValue("interval", c.Interval), durValue("max_idle_interval", c.MaxIdleInterval))
		}
	}
	if !skip("duration_buckets") && c.DurationBuckets != nil {
		bl := line("duration_buckets")
		switch n := len(c.DurationBuckets); {
		case n == 0:
			p.add(bl, "duration_buckets", "empty list; omit the key for the default buckets")
		case n > durable.MaxBuckets:
			p.add(bl, "duration_buckets", "at most %d buckets, got %d", durable.MaxBuckets, n)
		default:
			for i, b := range c.DurationBuckets {
				path := fmt.Sprintf("duration_buckets[%d]", i)
				switch {
				case b <= 0:
					p.add(bl, path, "must be > 0, got %q", fmtDur(b))
				case i > 0 && b <= c.DurationBuckets[i-1]:
					p.add(bl, path, "must be greater than duration_buckets[%d] %q, got %q", i-1, fmtDur(c.DurationBuckets[i-1]), fmtDur(b))
				}
			}
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

	if len(c.Functions) == 0 && len(c.Discovery) == 0 && !(info != nil &&
		(info.bad["functions"] || info.entries > 0 || info.bad["discovery"] || info.discEntries > 0)) {
		where := 0
		if info != nil {
			where = info.functionsLine
			if where == 0 {
				where = info.discoveryLine
			}
		}
		p.add(where, "functions", "at least one function or discovery entry is required")
	}

	// The account of the default credentials, for duplicate detection.
	defaultAccount := ""
	if !skip("account_id") && (c.AccountID != "" || set("account_id")) {
		if accountRE.MatchString(c.AccountID) {
			defaultAccount = c.AccountID
		} else {
			p.add(line("account_id"), "account_id", "invalid account ID %q (want 12 digits)", c.AccountID)
		}
	}

	type dupKey struct{ name, qualifier string }
	seen := map[dupKey][]int{}
	for i := range c.Functions {
		f := &c.Functions[i]
		e := entry{p: p, line: f.Line}
		idx := i
		if info != nil && i < len(info.funcs) {
			e.ei = info.funcs[i]
			idx = e.ei.index
		}
		e.path = fmt.Sprintf("functions[%d]", idx)

		// name -> derived fields
		var pn parsedName
		nameOK := false
		switch {
		case e.bad("name"):
		case f.Name == "" && e.ei != nil && !e.set("name"):
			p.add(f.Line, e.path, "missing required key \"name\"")
		case f.Name == "":
			e.add("name", "must not be empty")
		default:
			if pn, nameOK = parseFunctionName(f.Name); !nameOK {
				e.add("name", "%s", nameProblem(f.Name))
			}
		}
		f.FunctionName = pn.functionName

		// qualifier
		qualOK := !e.bad("qualifier")
		if qualOK && f.Qualifier != "" && !qualifierRE.MatchString(f.Qualifier) {
			e.add("qualifier", "invalid qualifier %q (want a version number, $LATEST or an alias of 1-128 letters, digits, '-' or '_')", f.Qualifier)
			qualOK = false
		}
		if nameOK && qualOK && pn.qualifier != "" {
			if f.Qualifier == "" {
				f.Qualifier = pn.qualifier
			} else if f.Qualifier != pn.qualifier {
				e.add("qualifier", "%q conflicts with qualifier %q in ARN %q", f.Qualifier, pn.qualifier, f.Name)
				qualOK = false
			}
		}

		// region: the ARN's, else the function's own, else the global one
		// (A Region equal to the ARN's is not checked again: ARN regions
		// follow their own pattern, and Validate may have filled it in.)
		regOK := !e.bad("region")
		if regOK && f.Region != "" && !(nameOK && f.Region == pn.region) && !regionRE.MatchString(f.Region) {
			e.add("region", "invalid region %q (want e.g. us-east-1)", f.Region)
			regOK = false
		}
		if nameOK && regOK && pn.region != "" && f.Region != "" && f.Region != pn.region {
			e.add("region", "%q conflicts with region %q in ARN %q", f.Region, pn.region, f.Name)
			regOK = false
		}
		if nameOK && regOK {
			if pn.region != "" {
				f.Region = pn.region
			} else if f.Region == "" {
				f.Region = c.Region
			}
		}

		// role_arn, external_id -> account
		roleAccount, roleOK := e.role(f.RoleARN, f.ExternalID)
		f.AccountID = pn.account
		acctOK := true
		if roleAccount != "" {
			if f.AccountID == "" {
				f.AccountID = roleAccount
			} else if nameOK && f.AccountID != roleAccount {
				e.add("role_arn", "account %q of %q conflicts with account %q in ARN %q", roleAccount, f.RoleARN, f.AccountID, f.Name)
				acctOK = false
			}
		}

		e.statuses(f.Statuses)
		e.window(&f.Window, c.Window)

		// duplicates: the same (bare name, qualifier) pair in the same region
		// and account as far as both are known (a function whose account is
		// not derived is in the account_id account, when that is set).
		// Series are labelled by function, qualifier, region and account, so
		// two entries that differ just by execution_name or credentials would
		// export the same series.
		if !nameOK || !qualOK || !regOK || !roleOK || !acctOK {
			continue
		}
		account := func(g *Function) string {
			if g.AccountID != "" {
				return g.AccountID
			}
			return defaultAccount
		}
		k := dupKey{f.FunctionName, f.Qualifier}
		for _, j := range seen[k] {
			g := &c.Functions[j]
			if !compatible(g.Region, f.Region) || !compatible(account(g), account(f)) {
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
			p.add(f.Line, e.path, "%s (first at %s)", desc, firstAt)
			break
		}
		seen[k] = append(seen[k], i)
	}

	for i := range c.Discovery {
		d := &c.Discovery[i]
		e := entry{p: p, line: d.Line}
		idx := i
		if info != nil && i < len(info.discs) {
			e.ei = info.discs[i]
			idx = e.ei.index
		}
		e.path = fmt.Sprintf("discovery[%d]", idx)

		// regions
		switch {
		case e.bad("regions"):
		case d.Regions == nil && e.ei != nil && !e.set("regions"):
			p.add(d.Line, e.path, "missing required key \"regions\"")
		case len(d.Regions) == 0:
			e.add("regions", "empty list; at least one region is required")
		default:
			first := map[string]int{}
			for j, r := range d.Regions {
				if e.itemBad("regions", j) {
					continue
				}
				k, dup := first[r]
				valid := regionRE.MatchString(r)
				switch {
				case valid && !dup:
					first[r] = j
				case len(p.list) >= maxProblems: // skip formatting
					p.dropped++
				case !valid:
					e.addItem("regions", j, "invalid region %q (want e.g. us-east-1)", r)
				default:
					e.addItem("regions", j, "duplicate region %q (first at regions[%d])", r, k)
				}
			}
		}

		d.AccountID, _ = e.role(d.RoleARN, d.ExternalID)

		// tags
		if !e.bad("tags") && d.Tags != nil {
			if len(d.Tags) == 0 {
				e.add("tags", "empty mapping; omit the key to match any tags")
			}
			if _, ok := d.Tags[""]; ok {
				where := e.lineOf("tags")
				if e.ei != nil {
					if l, ok := e.ei.tagLines[""]; ok {
						where = l
					}
				}
				p.add(where, e.path+".tags", "empty tag key")
			}
		}

		// name_pattern
		d.Pattern = nil
		if !e.bad("name_pattern") && d.NamePattern != "" {
			re, err := regexp.Compile(d.NamePattern)
			if err != nil {
				msg := err.Error()
				var se *syntax.Error
				if errors.As(err, &se) {
					msg = se.Code.String() + ": `" + se.Expr + "`"
				}
				e.add("name_pattern", "invalid regular expression %q: %s", d.NamePattern, msg)
			} else {
				d.Pattern = re
			}
		}

		// refresh
		if !e.bad("refresh") {
			if d.Refresh == 0 && !e.set("refresh") {
				d.Refresh = DefaultDiscoveryRefresh
			} else if d.Refresh <= 0 {
				e.add("refresh", "must be > 0, got %s", e.durValue("refresh", d.Refresh))
			}
		}

		// qualifier ("" = unqualified)
		if !e.bad("qualifier") && d.Qualifier != "" && !qualifierRE.MatchString(d.Qualifier) {
			e.add("qualifier", "invalid qualifier %q (want a version number, $LATEST or an alias of 1-128 letters, digits, '-' or '_')", d.Qualifier)
		}

		e.statuses(d.Statuses)
		e.window(&d.Window, c.Window)
	}
}

// entry is one entry of the functions or discovery list being validated.
type entry struct {
	p    *problems
	path string     // e.g. "functions[1]"
	line int        // line of the entry, 0 when not from a file
	ei   *entryInfo // nil for configs built in code
}

// bad reports whether key already failed to decode.
func (e entry) bad(key string) bool { return e.ei != nil && e.ei.bad[key] }

// set reports whether key was decoded from the file.
func (e entry) set(key string) bool {
	_, ok := e.ei.src(key)
	return ok
}

// lineOf is the line of key's value, else the entry's line.
func (e entry) lineOf(key string) int {
	if s, ok := e.ei.src(key); ok {
		return s.line
	}
	return e.line
}

// add reports a problem with the value of key.
func (e entry) add(key, format string, args ...any) {
	e.p.add(e.lineOf(key), e.path+"."+key, format, args...)
}

// itemBad reports whether item j of the list under key failed to decode.
func (e entry) itemBad(key string, j int) bool {
	return e.ei != nil && e.ei.lists[key] != nil && e.ei.lists[key].bad[j]
}

// addItem reports a problem with item j of the list under key.
func (e entry) addItem(key string, j int, format string, args ...any) {
	where := e.line
	if e.ei != nil {
		if li := e.ei.lists[key]; li != nil && j < len(li.lines) {
			where = li.lines[j]
		}
	}
	e.p.add(where, fmt.Sprintf("%s.%s[%d]", e.path, key, j), format, args...)
}

// durValue quotes a duration as written in the file, else formatted.
func (e entry) durValue(key string, d time.Duration) string {
	if s, ok := e.ei.src(key); ok {
		return strconv.Quote(s.raw)
	}
	return strconv.Quote(fmtDur(d))
}

// statuses checks a status filter (nil = all).
func (e entry) statuses(statuses []string) {
	if e.bad("statuses") || statuses == nil {
		return
	}
	if len(statuses) == 0 {
		e.add("statuses", "empty list; omit the key to export all statuses")
	}
	first := map[string]int{}
	for j, s := range statuses {
		if e.itemBad("statuses", j) {
			continue
		}
		k, dup := first[s]
		switch {
		case isStatus(s) && !dup:
			first[s] = j
		case len(e.p.list) >= maxProblems: // skip formatting
			e.p.dropped++
		case !isStatus(s):
			e.addItem("statuses", j, "unknown status %q (want one of %s)", s, strings.Join(AllStatuses(), ", "))
		default:
			e.addItem("statuses", j, "duplicate status %q (first at statuses[%d])", s, k)
		}
	}
}

// window checks a per-entry window, resolving an unset one to global.
func (e entry) window(w *time.Duration, global time.Duration) {
	if e.bad("window") {
		return
	}
	if *w == 0 && !e.set("window") {
		*w = global
	} else if *w <= 0 {
		e.add("window", "must be > 0, got %s", e.durValue("window", *w))
	}
}

// role checks role_arn and external_id and returns the role's account ("" when
// there is no valid role) and whether both are valid.
func (e entry) role(roleARN, externalID string) (account string, ok bool) {
	ok = !e.bad("role_arn") && !e.bad("external_id")
	if !e.bad("role_arn") && roleARN != "" {
		if m := roleARNRE.FindStringSubmatch(roleARN); m != nil {
			account = m[1]
		} else {
			e.add("role_arn", "invalid role ARN %q (want arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME with a 12-digit ACCOUNT)", roleARN)
			ok = false
		}
	}
	if !e.bad("external_id") && externalID != "" {
		switch {
		case roleARN == "" && !e.bad("role_arn"):
			e.add("external_id", "requires role_arn")
			ok = false
		case len(externalID) < 2 || len(externalID) > 1224 || !externalIDRE.MatchString(externalID):
			e.add("external_id", "invalid external ID %q (want 2-1224 letters, digits or any of _+=,.@:/-)", externalID)
			ok = false
		}
	}
	return account, ok
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

func (ei *entryInfo) src(key string) (src, bool) {
	if ei == nil {
		return src{}, false
	}
	s, ok := ei.fields[key]
	return s, ok
}
