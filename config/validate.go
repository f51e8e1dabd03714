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

// scope is the part of a Config being validated: the top level (path "")
// or one entry of the functions or discovery list. Its methods take keys
// relative to it.
type scope struct {
	p      *problems
	fields map[string]field // keys decoded from the file; nil for a Config built in code
	path   string           // "" or e.g. "functions[1]"
	line   int              // line of the entry, 0 when unknown
}

// validate checks c, fills the derived fields of its entries and adds every
// problem to p. fields supplies lines and values as written, and which keys
// already failed to decode (those are not checked again).
func validate(c *Config, fields map[string]field, p *problems) {
	top := scope{p: p, fields: fields}
	top.settings(c)
	if len(c.Functions) == 0 && len(c.Discovery) == 0 && !top.bad("functions") && !top.bad("discovery") {
		line := top.keyLine("functions")
		if line == 0 {
			line = top.keyLine("discovery")
		}
		p.add(line, "functions", "at least one function or discovery entry is required")
	}
	account := top.defaultAccount(c)

	type dupKey struct{ name, qualifier string }
	seen := map[dupKey][]int{}
	for i := range c.Functions {
		f := &c.Functions[i]
		e, ok := top.entry("functions", i, f.Line)
		if !ok || !e.function(f, c) {
			continue
		}
		// Series are labelled by function, qualifier, region and account,
		// so two entries that differ just by execution_name or credentials
		// would export the same series. A function whose account is not
		// derived is in the account_id account, when that is set.
		k := dupKey{f.FunctionName, f.Qualifier}
		if j, dup := firstDuplicate(c.Functions, seen[k], f, account); dup {
			desc := fmt.Sprintf("duplicate function %q", f.FunctionName)
			if f.Qualifier != "" {
				desc += fmt.Sprintf(" with qualifier %q", f.Qualifier)
			}
			firstAt := fmt.Sprintf("line %d", c.Functions[j].Line)
			if c.Functions[j].Line == 0 {
				firstAt = fmt.Sprintf("functions[%d]", j)
			}
			p.add(f.Line, e.path, "%s (first at %s)", desc, firstAt)
		}
		seen[k] = append(seen[k], i)
	}
	for i := range c.Discovery {
		if e, ok := top.entry("discovery", i, c.Discovery[i].Line); ok {
			e.discovery(&c.Discovery[i], c)
		}
	}
}

// settings checks the top-level settings other than the lists.
func (s scope) settings(c *Config) {
	if !s.bad("region") && c.Region != "" && !regionRE.MatchString(c.Region) {
		s.add("region", "invalid region %q (want e.g. us-east-1)", c.Region)
	}
	if !s.bad("endpoint") && c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			s.add("endpoint", "invalid URL %q (want an absolute http:// or https:// URL)", c.Endpoint)
		}
	}
	s.positive("interval", c.Interval)
	s.positive("window", c.Window)
	s.positive("overlap", c.Overlap)
	s.offOrAtLeastInterval("resync_interval", c.ResyncInterval, c.Interval)
	s.offOrAtLeastInterval("max_idle_interval", c.MaxIdleInterval, c.Interval)
	s.buckets(c.DurationBuckets)
	if !s.bad("page_size") && (c.PageSize < 1 || c.PageSize > MaxPageSize) {
		s.add("page_size", "must be between 1 and %d, got %d", MaxPageSize, c.PageSize)
	}
	if !s.bad("max_concurrency") && c.MaxConcurrency < 1 {
		s.add("max_concurrency", "must be >= 1, got %d", c.MaxConcurrency)
	}
	s.rate("list_requests_per_second", c.ListRequestsPerSecond)
	s.rate("get_requests_per_second", c.GetRequestsPerSecond)
}

// offOrAtLeastInterval checks a duration that is 0 (disabled) or >= interval.
func (s scope) offOrAtLeastInterval(key string, d, interval time.Duration) {
	switch {
	case s.bad(key):
	case d < 0:
		s.add(key, "must be >= 0, got %s", s.dur(key, d))
	case d > 0 && !s.bad("interval") && d < interval:
		line, suffix := s.lineOf(key), ""
		if s.fields != nil && !s.set(key) {
			line, suffix = s.lineOf("interval"), " (the default)"
		}
		s.p.add(line, key, "must be \"0s\" (disabled) or >= interval %s, got %s%s",
			s.dur("interval", interval), s.dur(key, d), suffix)
	}
}

// buckets checks duration_buckets (nil = the default set).
func (s scope) buckets(bs []time.Duration) {
	if s.bad("duration_buckets") || bs == nil {
		return
	}
	switch n := len(bs); {
	case n == 0:
		s.add("duration_buckets", "empty list; omit the key for the default buckets")
	case n > durable.MaxBuckets:
		s.add("duration_buckets", "at most %d buckets, got %d", durable.MaxBuckets, n)
	default:
		for i, b := range bs {
			switch path := index("duration_buckets", i); {
			case b <= 0:
				s.p.add(s.lineOf("duration_buckets"), path, "must be > 0, got %q", fmtDur(b))
			case i > 0 && b <= bs[i-1]:
				s.p.add(s.lineOf("duration_buckets"), path, "must be greater than duration_buckets[%d] %q, got %q", i-1, fmtDur(bs[i-1]), fmtDur(b))
			}
		}
	}
}

// rate checks a request rate.
func (s scope) rate(key string, r float64) {
	if s.bad(key) || (r > 0 && !math.IsInf(r, 0)) {
		return
	}
	value := strconv.FormatFloat(r, 'g', -1, 64)
	if s.set(key) {
		value = s.raw(key)
	}
	s.add(key, "must be a finite number > 0, got %s", value)
}

// defaultAccount checks account_id and returns it if valid, else "".
func (s scope) defaultAccount(c *Config) string {
	if s.bad("account_id") || (c.AccountID == "" && !s.set("account_id")) {
		return ""
	}
	if !accountRE.MatchString(c.AccountID) {
		s.add("account_id", "invalid account ID %q (want 12 digits)", c.AccountID)
		return ""
	}
	return c.AccountID
}

// entry returns the scope of entry i of list, and false if the entry is not
// a mapping (reported already).
func (s scope) entry(list string, i, line int) (scope, bool) {
	path := index(list, i)
	return scope{p: s.p, fields: s.fields, path: path, line: line}, !s.bad(path)
}

// function checks a static function entry and fills its derived fields. It
// reports whether the entry is sound enough to be checked for duplicates.
func (e scope) function(f *Function, c *Config) bool {
	var pn parsedName
	nameOK := false
	if e.required("name", f.Name == "") {
		switch pn, nameOK = parseFunctionName(f.Name); {
		case f.Name == "":
			e.add("name", "must not be empty")
		case !nameOK:
			e.add("name", "%s", nameProblem(f.Name))
		}
	}
	f.FunctionName = pn.functionName

	qualOK := e.qualifier(f.Qualifier)
	if nameOK && qualOK && pn.qualifier != "" {
		if f.Qualifier == "" {
			f.Qualifier = pn.qualifier
		} else if f.Qualifier != pn.qualifier {
			e.add("qualifier", "%q conflicts with qualifier %q in ARN %q", f.Qualifier, pn.qualifier, f.Name)
			qualOK = false
		}
	}

	// region: the ARN's, else the function's own, else the global one.
	// (A Region equal to the ARN's is not checked again: ARN regions follow
	// their own pattern, and Validate may have filled it in.)
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

	// account: the ARN's, else the role's.
	roleAccount, roleOK := e.role(f.RoleARN, f.ExternalID)
	f.AccountID = pn.account
	acctOK := true
	if f.AccountID == "" {
		f.AccountID = roleAccount
	} else if roleAccount != "" && f.AccountID != roleAccount {
		e.add("role_arn", "account %q of %q conflicts with account %q in ARN %q", roleAccount, f.RoleARN, f.AccountID, f.Name)
		acctOK = false
	}

	e.statuses(f.Statuses)
	e.defaulted("window", &f.Window, c.Window)
	return nameOK && qualOK && regOK && roleOK && acctOK
}

// firstDuplicate returns the first of the functions at indexes that is the
// same function as f: same region and account as far as both are known.
func firstDuplicate(fs []Function, indexes []int, f *Function, defaultAccount string) (int, bool) {
	account := func(g *Function) string {
		if g.AccountID != "" {
			return g.AccountID
		}
		return defaultAccount
	}
	for _, j := range indexes {
		if g := &fs[j]; compatible(g.Region, f.Region) && compatible(account(g), account(f)) {
			return j, true
		}
	}
	return 0, false
}

// compatible reports whether two possibly unknown ("") values may be equal.
func compatible(a, b string) bool {
	return a == "" || b == "" || a == b
}

// discovery checks a discovery entry and fills its derived fields.
func (e scope) discovery(d *Discovery, c *Config) {
	if e.required("regions", d.Regions == nil) {
		if len(d.Regions) == 0 {
			e.add("regions", "empty list; at least one region is required")
		}
		e.items("regions", "region", d.Regions, regionRE.MatchString, "invalid region %q (want e.g. us-east-1)")
	}
	d.AccountID, _ = e.role(d.RoleARN, d.ExternalID)

	if !e.bad("tags") && d.Tags != nil {
		if len(d.Tags) == 0 {
			e.add("tags", "empty mapping; omit the key to match any tags")
		}
		if _, ok := d.Tags[""]; ok {
			line := e.keyLine("tags.")
			if line == 0 {
				line = e.lineOf("tags")
			}
			e.p.add(line, e.key("tags"), "empty tag key")
		}
	}

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
		}
		d.Pattern = re
	}

	e.defaulted("refresh", &d.Refresh, DefaultDiscoveryRefresh)
	e.qualifier(d.Qualifier)
	e.statuses(d.Statuses)
	e.defaulted("window", &d.Window, c.Window)
}

// required reports a required key missing from an entry of the file, and
// whether the key holds a value to check (zero says if the value is zero).
func (e scope) required(key string, zero bool) bool {
	switch {
	case e.bad(key):
		return false
	case zero && e.fields != nil && !e.set(key):
		e.p.add(e.line, e.path, "missing required key %q", key)
		return false
	}
	return true
}

// qualifier checks a version or alias ("" = unqualified) and reports
// whether it can be used.
func (e scope) qualifier(q string) bool {
	if e.bad("qualifier") {
		return false
	}
	if q != "" && !qualifierRE.MatchString(q) {
		e.add("qualifier", "invalid qualifier %q (want a version number, $LATEST or an alias of 1-128 letters, digits, '-' or '_')", q)
		return false
	}
	return true
}

// role checks role_arn and external_id and returns the role's account ("" when
// there is no valid role) and whether both are valid.
func (e scope) role(roleARN, externalID string) (account string, ok bool) {
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

// statuses checks a status filter (nil = all).
func (e scope) statuses(statuses []string) {
	if e.bad("statuses") || statuses == nil {
		return
	}
	if len(statuses) == 0 {
		e.add("statuses", "empty list; omit the key to export all statuses")
	}
	e.items("statuses", "status", statuses, isStatus, "unknown status %q (want one of "+strings.Join(AllStatuses(), ", ")+")")
}

// items reports the items of the list under key that are not valid (with
// format, given the item) or repeat an earlier one. Items that failed to
// decode were reported already.
func (e scope) items(key, what string, list []string, valid func(string) bool, format string) {
	first := map[string]int{}
	for j, item := range list {
		k, dup := first[item]
		switch ok := valid(item); {
		case ok && !dup:
			first[item] = j
		case e.bad(index(key, j)):
		case !ok:
			e.addItem(key, j, format, item)
		default:
			e.addItem(key, j, "duplicate %s %q (first at %s[%d])", what, item, key, k)
		}
	}
}

// positive reports a duration that is not > 0.
func (s scope) positive(key string, d time.Duration) {
	if !s.bad(key) && d <= 0 {
		s.add(key, "must be > 0, got %s", s.dur(key, d))
	}
}

// defaulted resolves a zero duration of an unset key to def, else checks
// that it is > 0.
func (s scope) defaulted(key string, d *time.Duration, def time.Duration) {
	if *d == 0 && !s.set(key) && !s.bad(key) {
		*d = def
	} else {
		s.positive(key, *d)
	}
}

// key is the path of key.
func (s scope) key(key string) string { return join(s.path, key) }

// bad reports whether key failed to decode.
func (s scope) bad(key string) bool { return s.fields[s.key(key)].bad }

// set reports whether key was decoded from the file.
func (s scope) set(key string) bool {
	f, ok := s.fields[s.key(key)]
	return ok && !f.bad
}

// lineOf is the line of key's value, else the line of the scope.
func (s scope) lineOf(key string) int {
	if s.set(key) {
		return s.fields[s.key(key)].val.Line
	}
	return s.line
}

// keyLine is the line of key itself, 0 if it is not in the file.
func (s scope) keyLine(key string) int {
	if f := s.fields[s.key(key)]; f.key != nil {
		return f.key.Line
	}
	return 0
}

// raw is the value of key as written.
func (s scope) raw(key string) string { return resolve(s.fields[s.key(key)].val).Value }

// dur quotes the duration under key as written, else d formatted.
func (s scope) dur(key string, d time.Duration) string {
	if s.set(key) {
		return strconv.Quote(s.raw(key))
	}
	return strconv.Quote(fmtDur(d))
}

// add reports a problem with the value of key.
func (s scope) add(key, format string, args ...any) {
	s.p.add(s.lineOf(key), s.key(key), format, args...)
}

// addItem reports a problem with item j of the list under key.
func (s scope) addItem(key string, j int, format string, args ...any) {
	line := s.line
	if s.set(key) {
		if items := resolve(s.fields[s.key(key)].val).Content; j < len(items) {
			line = items[j].Line
		}
	}
	s.p.add(line, index(s.key(key), j), format, args...)
}
