package config

import (
	"cmp"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
)

const (
	qualifierPattern = `\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9_-]{1,128}`
	badRegion        = "invalid region %q (want e.g. us-east-1)"
)

var (
	// functionRE matches a function name, a partial ARN ACCOUNT:function:NAME
	// and a full ARN, with an optional :QUALIFIER (which a name cannot have).
	functionRE = regexp.MustCompile(`^(?:(?:arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-[a-z]+)+-[0-9]+):)?([0-9]{12}):function:)?` +
		`([a-zA-Z0-9_-]{1,64})(?::(` + qualifierPattern + `))?$`)
	qualifierRE = regexp.MustCompile(`^(?:` + qualifierPattern + `)$`)
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
	m := functionRE.FindStringSubmatch(s)
	if m == nil || (m[2] == "" && m[4] != "") {
		return parsedName{}, false
	}
	p := parsedName{region: m[1], account: m[2], functionName: m[3], qualifier: m[4]}
	p.apiName = strings.TrimSuffix(s, ":"+p.qualifier)
	return p, true
}

// nameProblem says what is wrong with s, a name parseFunctionName rejects.
func nameProblem(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case strings.HasPrefix(s, "arn:"):
		return fmt.Sprintf("invalid function ARN %q (want arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] with a 12-digit ACCOUNT)", s)
	case strings.Contains(s, ":function:"):
		return fmt.Sprintf("invalid partial function ARN %q (want ACCOUNT:function:NAME[:QUALIFIER] with a 12-digit ACCOUNT)", s)
	case functionRE.MatchString(s): // NAME:QUALIFIER
		return fmt.Sprintf("invalid function name %q (set the version or alias with the qualifier key)", s)
	}
	return fmt.Sprintf("invalid function name %q (want 1-64 letters, digits, '-' or '_', a partial ARN ACCOUNT:function:NAME or a full function ARN)", s)
}

func isStatus(s string) bool { return slices.Contains(AllStatuses(), s) }

// fmtDur formats a duration the way it would be written in the file.
func fmtDur(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return model.Duration(d).String()
	}
	return d.String()
}

// scope is the part of a Config being validated: the top level (path "")
// or one entry of the functions or discovery list, whose methods take keys
// relative to it.
type scope struct {
	p      *problems
	fields map[string]field // from the file; nil for a Config built in code
	path   string           // "" or e.g. "functions[1]"
	line   int              // of the entry, 0 when unknown
}

// validate checks c, fills the derived fields of its entries and adds every
// problem to p. fields supplies lines and values as written, and which keys
// already failed to decode (those are not checked again).
func validate(c *Config, fields map[string]field, p *problems) {
	top := scope{p: p, fields: fields}
	top.settings(c)
	if len(c.Functions) == 0 && len(c.Discovery) == 0 && !top.bad("functions") && !top.bad("discovery") {
		line := cmp.Or(top.field("functions").keyLine, top.field("discovery").keyLine)
		p.add(line, "functions", "at least one function or discovery entry is required")
	}
	top.check("functions", len(c.Functions) > MaxFunctions, "at most %d functions, got %d", MaxFunctions, len(c.Functions))
	top.check("discovery", len(c.Discovery) > MaxDiscovery, "at most %d discovery entries, got %d", MaxDiscovery, len(c.Discovery))
	account := ""
	if top.check("account_id", (c.AccountID != "" || top.set("account_id")) && !accountRE.MatchString(c.AccountID),
		"invalid account ID %q (want 12 digits)", c.AccountID) {
		account = c.AccountID
	}

	// Series are labelled by function, qualifier, region and account, so
	// two entries that differ just by execution_name or credentials would
	// export the same series. A function whose account is not derived is in
	// the account_id account, when that is set; an unknown region or
	// account may be any.
	type dupKey struct{ name, qualifier string }
	seen := map[dupKey][]int{}
	compatible := func(a, b string) bool { return a == "" || b == "" || a == b }
	for i := range c.Functions {
		f := &c.Functions[i]
		e := scope{p: p, fields: fields, path: index("functions", i), line: f.Line}
		if top.bad(e.path) || !e.function(f, c) {
			continue
		}
		k := dupKey{f.FunctionName, f.Qualifier}
		for _, j := range seen[k] {
			g := &c.Functions[j]
			if !compatible(g.Region, f.Region) || !compatible(cmp.Or(g.AccountID, account), cmp.Or(f.AccountID, account)) {
				continue
			}
			desc, firstAt := fmt.Sprintf("duplicate function %q", f.FunctionName), index("functions", j)
			if f.Qualifier != "" {
				desc += fmt.Sprintf(" with qualifier %q", f.Qualifier)
			}
			if g.Line != 0 {
				firstAt = fmt.Sprintf("line %d", g.Line)
			}
			p.add(f.Line, e.path, "%s (first at %s)", desc, firstAt)
			break
		}
		seen[k] = append(seen[k], i)
	}
	for i := range c.Discovery {
		e := scope{p: p, fields: fields, path: index("discovery", i), line: c.Discovery[i].Line}
		if !top.bad(e.path) {
			e.discovery(&c.Discovery[i], c)
		}
	}
}

// settings checks the top-level settings other than the lists, one check
// per line in the order they are reported.
func (s scope) settings(c *Config) {
	s.check("region", c.Region != "" && !regionRE.MatchString(c.Region), badRegion, c.Region)
	u, err := url.Parse(c.Endpoint)
	s.check("endpoint", c.Endpoint != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == ""),
		"invalid URL %q (want an absolute http:// or https:// URL)", c.Endpoint)
	s.within("interval", c.Interval, MinInterval, MaxInterval)
	s.within("window", c.Window, 0, MaxWindow)
	s.positive("overlap", c.Overlap)
	// An unset resync_interval is DefaultResyncInterval, or interval when
	// that is longer: a default must not conflict with what the file sets.
	if s.fields != nil && !s.set("resync_interval") && !s.bad("resync_interval") {
		c.ResyncInterval = max(DefaultResyncInterval, c.Interval)
	}
	s.offOrAtLeastInterval("resync_interval", c.ResyncInterval, c.Interval)
	s.offOrAtLeastInterval("max_idle_interval", c.MaxIdleInterval, c.Interval)
	s.increasing("duration_buckets", c.DurationBuckets, durable.MaxBuckets, "buckets", "the default buckets")
	s.increasing("running_age_thresholds", c.RunningAgeThresholds, MaxAgeThresholds, "thresholds", "the default thresholds")
	s.check("page_size", c.PageSize < 1 || c.PageSize > MaxPageSize, "must be between 1 and %d, got %d", MaxPageSize, c.PageSize)
	s.check("max_concurrency", c.MaxConcurrency < 1, "must be >= 1, got %d", c.MaxConcurrency)
	s.rate("list_requests_per_second", c.ListRequestsPerSecond)
	s.rate("get_requests_per_second", c.GetRequestsPerSecond)
	s.breakdown(c.Breakdown)
	// Zero in a Config built in code means the default, as for a window.
	if c.MaxErrorTypes == 0 && !s.set("max_error_types") && !s.bad("max_error_types") {
		c.MaxErrorTypes = DefaultMaxErrorTypes
	}
	if c.ErrorReadsPerSecond == 0 && !s.set("error_reads_per_second") && !s.bad("error_reads_per_second") {
		c.ErrorReadsPerSecond = DefaultErrorReadsPerSecond
	}
	s.check("max_error_types", c.MaxErrorTypes < 1 || c.MaxErrorTypes > MaxMaxErrorTypes,
		"must be between 1 and %d, got %d", MaxMaxErrorTypes, c.MaxErrorTypes)
	s.rate("error_reads_per_second", c.ErrorReadsPerSecond)
}

func isBreakdown(s string) bool { return s == BreakdownVersion || s == BreakdownErrorType }

// breakdown checks a breakdown list: known items, no repeats. An empty
// list is valid (none; in an entry it replaces the top-level list).
func (s scope) breakdown(list []string) {
	if s.bad("breakdown") || len(list) == 0 {
		return
	}
	s.items("breakdown", list, "", "breakdown", isBreakdown,
		"unknown breakdown %q (want "+BreakdownVersion+" or "+BreakdownErrorType+")")
}

// resolveBreakdown checks an entry's breakdown list and resolves it: the
// entry's own list when the key is set (or, for a Config built in code,
// non-nil), else the top-level one.
func (s scope) resolveBreakdown(list *[]string, top []string) {
	s.breakdown(*list)
	own := *list != nil
	if s.fields != nil {
		own = s.set("breakdown")
	}
	if !own {
		*list = slices.Clone(top)
	} else if *list == nil {
		*list = []string{}
	}
}

func (s scope) positive(key string, d time.Duration) bool {
	return s.check(key, d <= 0, "must be > 0, got %q", s.raw(key, fmtDur(d)))
}

// within checks a duration that is > 0, at least lo (when lo > 0) and at
// most hi.
func (s scope) within(key string, d, lo, hi time.Duration) {
	switch {
	case !s.positive(key, d):
	case lo > 0:
		s.check(key, d < lo || d > hi, "must be between %q and %q, got %q", fmtDur(lo), fmtDur(hi), s.raw(key, fmtDur(d)))
	default:
		s.check(key, d > hi, "must be at most %q, got %q", fmtDur(hi), s.raw(key, fmtDur(d)))
	}
}

// offOrAtLeastInterval checks a duration that is 0 (disabled) or >= interval.
func (s scope) offOrAtLeastInterval(key string, d, interval time.Duration) {
	ok := s.check(key, d < 0, "must be >= 0, got %q", s.raw(key, fmtDur(d)))
	if !ok || d == 0 || d >= interval || s.bad("interval") {
		return
	}
	s.p.add(s.lineOf(key), key, "must be \"0s\" (disabled) or >= interval %q, got %q",
		s.raw("interval", fmtDur(interval)), s.raw(key, fmtDur(d)))
}

func (s scope) rate(key string, r float64) {
	s.check(key, !(r > 0) || math.IsInf(r, 0), "must be a finite number > 0, got %s",
		s.raw(key, strconv.FormatFloat(r, 'g', -1, 64)))
}

// increasing checks a list of durations that must be > 0 and strictly
// increasing, with at most maxN items; problems are reported at the list's
// line.
func (s scope) increasing(key string, bs []time.Duration, maxN int, what, def string) {
	switch n := len(bs); {
	case s.bad(key) || bs == nil:
	case n == 0:
		s.add(key, "empty list; omit the key for %s", def)
	case n > maxN:
		s.add(key, "at most %d %s, got %d", maxN, what, n)
	default:
		for i, b := range bs {
			switch path := index(key, i); {
			case b <= 0:
				s.p.add(s.lineOf(key), path, "must be > 0, got %q", fmtDur(b))
			case i > 0 && b <= bs[i-1]:
				s.p.add(s.lineOf(key), path, "must be greater than %s[%d] %q, got %q", key, i-1, fmtDur(bs[i-1]), fmtDur(b))
			}
		}
	}
}

// function checks a static function entry and fills its derived fields. It
// reports whether the entry is sound enough to be checked for duplicates.
func (s scope) function(f *Function, c *Config) bool {
	pn, nameOK := parseFunctionName(f.Name)
	if s.required("name", f.Name == "") && !nameOK {
		s.add("name", "%s", nameProblem(f.Name))
	}
	f.FunctionName = pn.functionName
	qualOK := s.qualifier(f.Qualifier)
	if nameOK && qualOK {
		qualOK = s.fromARN("qualifier", &f.Qualifier, pn.qualifier, f.Name)
	}
	// region: the ARN's, else the function's own, else the global one.
	// (A Region equal to the ARN's is not checked again: ARN regions follow
	// their own pattern, and Validate may have filled it in.)
	own := f.Region != "" && (!nameOK || f.Region != pn.region)
	regOK := s.check("region", own && !regionRE.MatchString(f.Region), badRegion, f.Region)
	if nameOK && regOK {
		regOK = s.fromARN("region", &f.Region, pn.region, f.Name)
		f.Region = cmp.Or(f.Region, c.Region)
	}
	// account: the ARN's, else the role's.
	roleAccount, roleOK := s.role(f.RoleARN, f.ExternalID)
	f.AccountID = cmp.Or(pn.account, roleAccount)
	acctOK := pn.account == "" || roleAccount == "" || pn.account == roleAccount
	if !acctOK {
		s.add("role_arn", "account %q of %q conflicts with account %q in ARN %q", roleAccount, f.RoleARN, pn.account, f.Name)
	}
	s.statuses(f.Statuses)
	s.resolveBreakdown(&f.Breakdown, c.Breakdown)
	s.defaulted("window", &f.Window, c.Window)
	return nameOK && qualOK && regOK && roleOK && acctOK
}

// fromARN fills in *v, the value of key, from a function ARN's value arn,
// reporting a conflict between the two.
func (s scope) fromARN(key string, v *string, arn, name string) bool {
	*v = cmp.Or(*v, arn)
	return s.check(key, arn != "" && *v != arn, "%q conflicts with %s %q in ARN %q", *v, key, arn, name)
}

// discovery checks a discovery entry and fills in its derived fields.
func (s scope) discovery(d *Discovery, c *Config) {
	switch {
	case d.Regions == nil && !s.set("regions") && !s.bad("regions"):
		// Omitted: the default region, else the SDK's (which the fleet
		// resolves, as for functions that name no region).
		if c.Region != "" {
			d.Regions = []string{c.Region}
		}
	case !s.bad("regions"):
		s.items("regions", d.Regions, "at least one region is required", "region", regionRE.MatchString, badRegion)
	}
	d.AccountID, _ = s.role(d.RoleARN, d.ExternalID)
	if !s.bad("tags") && d.Tags != nil {
		s.check("tags", len(d.Tags) == 0, "empty mapping; omit the key to match any tags")
		if _, ok := d.Tags[""]; ok {
			line := cmp.Or(s.field("tags.").keyLine, s.lineOf("tags")) // of the key "", if in the file
			s.p.add(line, join(s.path, "tags"), "empty tag key")
		}
	}
	d.Pattern = nil
	if !s.bad("name_pattern") && d.NamePattern != "" {
		var err error
		if d.Pattern, err = regexp.Compile(d.NamePattern); err != nil {
			msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ") // leaves "CODE: `EXPR`"
			s.add("name_pattern", "invalid regular expression %q: %s", d.NamePattern, msg)
		}
	}
	s.defaulted("refresh", &d.Refresh, DefaultDiscoveryRefresh)
	s.qualifier(d.Qualifier)
	s.statuses(d.Statuses)
	s.resolveBreakdown(&d.Breakdown, c.Breakdown)
	s.defaulted("window", &d.Window, c.Window)
}

// required reports a required key missing from an entry of the file, and
// whether the key holds a value to check (zero says if the value is zero).
func (s scope) required(key string, zero bool) bool {
	if zero && s.fields != nil && !s.set(key) && !s.bad(key) {
		s.p.add(s.line, s.path, "missing required key %q", key)
		return false
	}
	return !s.bad(key)
}

func (s scope) qualifier(q string) bool {
	return s.check("qualifier", q != "" && !qualifierRE.MatchString(q),
		"invalid qualifier %q (want a version number, $LATEST or an alias of 1-128 letters, digits, '-' or '_')", q)
}

// role checks role_arn and external_id and returns the role's account ("" if
// there is no valid role) and whether both are valid.
func (s scope) role(roleARN, externalID string) (account string, ok bool) {
	if m := roleARNRE.FindStringSubmatch(roleARN); m != nil {
		account = m[1]
	}
	roleOK := s.check("role_arn", roleARN != "" && account == "",
		"invalid role ARN %q (want arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME with a 12-digit ACCOUNT)", roleARN)
	var idProblem string
	switch {
	case externalID == "":
	case roleARN == "" && !s.bad("role_arn"):
		idProblem = "requires role_arn"
	case len(externalID) < 2 || len(externalID) > 1224 || !externalIDRE.MatchString(externalID):
		idProblem = fmt.Sprintf("invalid external ID %q (want 2-1224 letters, digits or any of _+=,.@:/-)", externalID)
	}
	idOK := s.check("external_id", idProblem != "", "%s", idProblem)
	return account, roleOK && idOK
}

func (s scope) statuses(statuses []string) {
	if !s.bad("statuses") && statuses != nil {
		s.items("statuses", statuses, "omit the key to export all statuses", "status", isStatus,
			"unknown status %q (want one of "+strings.Join(AllStatuses(), ", ")+")")
	}
}

// items checks the list under key: that it is not empty (hint says what to
// do instead), that every item is valid (else reported with format, given
// the item) and that none repeats an earlier one.
func (s scope) items(key string, list []string, hint, what string, valid func(string) bool, format string) {
	s.check(key, len(list) == 0, "empty list; %s", hint)
	first := map[string]int{}
	for j, item := range list {
		k, dup := first[item]
		switch ok := valid(item); {
		case ok && !dup:
			first[item] = j
		case !ok:
			s.check(index(key, j), true, format, item)
		default:
			s.check(index(key, j), true, "duplicate %s %q (first at %s[%d])", what, item, key, k)
		}
	}
}

// defaulted resolves a zero duration of an unset key to def, else checks
// that it is > 0.
func (s scope) defaulted(key string, d *time.Duration, def time.Duration) {
	if *d == 0 && !s.set(key) && !s.bad(key) {
		*d = def
	} else if s.positive(key, *d) && key == "window" {
		s.within(key, *d, 0, MaxWindow)
	}
}

// check reports format (with args) at key if failed, unless key failed to
// decode (it was reported then). It reports whether the value is good.
func (s scope) check(key string, failed bool, format string, args ...any) bool {
	if s.bad(key) {
		return false
	}
	if failed {
		s.add(key, format, args...)
	}
	return !failed
}

func (s scope) add(key, format string, args ...any) {
	s.p.add(s.lineOf(key), join(s.path, key), format, args...)
}

func (s scope) field(key string) field { return s.fields[join(s.path, key)] }

func (s scope) bad(key string) bool { return s.field(key).bad }

// set reports whether key was decoded from the file.
func (s scope) set(key string) bool { return s.field(key).line > 0 && !s.bad(key) }

// lineOf is the line of key's value, else the line of the scope.
func (s scope) lineOf(key string) int {
	if s.set(key) {
		return s.field(key).line
	}
	return s.line
}

// raw is the value of key as written, else formatted.
func (s scope) raw(key, formatted string) string {
	if s.set(key) {
		return s.field(key).raw
	}
	return formatted
}
