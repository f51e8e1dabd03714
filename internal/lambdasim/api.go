package lambdasim

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	defaultMaxItems = 100
	maxMaxItems     = 1000
)

var qualifierPattern = regexp.MustCompile(`^[a-zA-Z0-9$_-]{1,128}$`)

// funcRef is a parsed FunctionName label.
type funcRef struct {
	name, qualifier, region, account string
}

// parseFunctionName accepts NAME[:QUALIFIER],
// ACCOUNT:function:NAME[:QUALIFIER] and
// arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER].
func parseFunctionName(s string) (funcRef, *apiError) {
	invalid := invalidParam("Invalid function name %q", s)
	p := strings.Split(s, ":")
	var r funcRef
	hasQualifier := false
	switch {
	case len(p) > 1 && p[0] == "arn":
		if (len(p) != 7 && len(p) != 8) || p[1] == "" || p[2] != "lambda" || p[5] != "function" {
			return r, invalid
		}
		r = funcRef{region: p[3], account: p[4], name: p[6]}
		hasQualifier = len(p) == 8
	case len(p) > 1 && p[1] == "function":
		if len(p) != 3 && len(p) != 4 {
			return r, invalid
		}
		r = funcRef{account: p[0], name: p[2]}
		hasQualifier = len(p) == 4
	case len(p) <= 2:
		r.name = p[0]
		hasQualifier = len(p) == 2
	default:
		return r, invalid
	}
	if hasQualifier {
		r.qualifier = p[len(p)-1]
		if !qualifierPattern.MatchString(r.qualifier) {
			return r, invalid
		}
	}
	if r.name == "" || strings.ContainsAny(r.name, "/ ") {
		return r, invalid
	}
	return r, nil
}

// listQuery is a validated ListDurableExecutionsByFunction request.
type listQuery struct {
	qualifier, version string
	// also is the alias's additional version (weighted routing), or "".
	also    string
	status  string
	name    string
	hasName bool
	// StartedAfter keeps executions with Start > afterMs (strictly after);
	// StartedBefore keeps Start < beforeMs (strictly before).
	afterMs, beforeMs   int64
	hasAfter, hasBefore bool
	desc                bool
	max                 int
	cursor              *cursor
	offset              int
	nowMs               int64
}

func (s *Server) parseListQuery(v url.Values) (*listQuery, *apiError) {
	q := &listQuery{max: defaultMaxItems, nowMs: s.now().UnixMilli()}
	if vs, ok := v["Qualifier"]; ok && vs[0] != "" {
		if !qualifierPattern.MatchString(vs[0]) {
			return nil, invalidParam("Invalid Qualifier %q", vs[0])
		}
		q.qualifier = vs[0]
	}
	// An empty DurableExecutionName is taken as no filter.
	if name := v.Get("DurableExecutionName"); name != "" {
		q.name, q.hasName = name, true
	}
	if st := v["Statuses"]; len(st) > 0 {
		if len(st) > 1 {
			return nil, invalidParam("Statuses accepts at most one value, got %d", len(st))
		}
		switch st[0] {
		case StatusRunning, StatusSucceeded, StatusFailed, StatusTimedOut, StatusStopped:
			q.status = st[0]
		default:
			return nil, invalidParam("Invalid value %q for Statuses", st[0])
		}
	}
	if a := v.Get("StartedAfter"); a != "" {
		t, err := parseQueryTime(a)
		if err != nil {
			return nil, invalidParam("Invalid StartedAfter %q", a)
		}
		// Start > t with Start in whole milliseconds: compare to t truncated.
		q.afterMs, q.hasAfter = floorMs(t), true
	}
	if b := v.Get("StartedBefore"); b != "" {
		t, err := parseQueryTime(b)
		if err != nil {
			return nil, invalidParam("Invalid StartedBefore %q", b)
		}
		// Start < t with Start in whole milliseconds: compare to t rounded up.
		q.beforeMs, q.hasBefore = ceilMs(t), true
	}
	reverse := false
	if r := v.Get("ReverseOrder"); r != "" {
		var err error
		if reverse, err = strconv.ParseBool(r); err != nil {
			return nil, invalidParam("Invalid ReverseOrder %q", r)
		}
	}
	// Default order is newest-first unless ReverseMeansNewestFirst.
	q.desc = reverse == s.opts.ReverseMeansNewestFirst
	if m := v.Get("MaxItems"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 || n > maxMaxItems {
			return nil, invalidParam("MaxItems must be between 1 and %d, got %q", maxMaxItems, m)
		}
		q.max = n
	}
	if m := v.Get("Marker"); m != "" {
		if s.opts.OffsetMarkers {
			n, err := strconv.Atoi(m)
			if err != nil || n < 0 {
				return nil, invalidParam("Invalid Marker")
			}
			q.offset = n
		} else {
			c, ok := decodeCursor(m)
			if !ok || c.desc != q.desc {
				return nil, invalidParam("Invalid Marker")
			}
			q.cursor = c
		}
	}
	return q, nil
}

// parseQueryTime accepts RFC 3339 date-times with or without a fraction,
// and without a zone (taken as UTC), as the SDK's own parser does.
func parseQueryTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		return t, nil
	}
	if t, err2 := time.Parse("2006-01-02T15:04:05.999999999", s); err2 == nil {
		return t, nil
	}
	return time.Time{}, err
}

func floorMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Before(time.UnixMilli(ms)) {
		ms--
	}
	return ms
}

func ceilMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.After(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}

// cursor is the default marker: the sort key of the last item served, in the
// sorted phase (tail false) or the tail of items without a start time.
type cursor struct {
	desc bool
	tail bool
	key  sortKey
}

func encodeCursor(desc bool, e *entry) string {
	dir, phase := "a", "s"
	if desc {
		dir = "d"
	}
	if !e.hasStart {
		phase = "t"
	}
	raw := strings.Join([]string{"c1", dir, phase, strconv.FormatInt(e.startMs, 10), strconv.FormatUint(e.seq, 10), e.arn}, ":")
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(m string) (*cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil {
		return nil, false
	}
	p := strings.SplitN(string(b), ":", 6)
	if len(p) != 6 || p[0] != "c1" || (p[1] != "a" && p[1] != "d") || (p[2] != "s" && p[2] != "t") {
		return nil, false
	}
	ms, err1 := strconv.ParseInt(p[3], 10, 64)
	seq, err2 := strconv.ParseUint(p[4], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	return &cursor{desc: p[1] == "d", tail: p[2] == "t", key: sortKey{ms, p[5], seq}}, true
}

func (q *listQuery) match(e *entry) bool {
	return (e.raw != nil || e.visibleMs <= q.nowMs) &&
		(q.version == "" || e.version == q.version || (q.also != "" && e.version == q.also)) &&
		(q.status == "" || e.status == q.status) &&
		(!q.hasName || e.name == q.name)
}

// page returns up to q.max matching items after the marker, and the next
// marker ("" when there are no more). The caller holds the read lock with f
// sorted. Cost: O(log n) to find the window and cursor, then linear in the
// items scanned (plus the offset with offset markers).
func (f *function) page(q *listQuery, offsetMarkers bool) ([]*entry, string) {
	sorted := f.sorted
	lo, hi := 0, len(sorted)
	if q.hasAfter {
		lo = sort.Search(len(sorted), func(i int) bool { return sorted[i].startMs > q.afterMs })
	}
	if q.hasBefore {
		hi = sort.Search(len(sorted), func(i int) bool { return sorted[i].startMs >= q.beforeMs })
	}
	want := q.max + 1
	out := make([]*entry, 0, min(want, 128))
	skip := q.offset
	take := func(e *entry) {
		if !q.match(e) {
			return
		}
		if skip > 0 {
			skip--
			return
		}
		out = append(out, e)
	}
	c := q.cursor
	if c == nil || !c.tail {
		if q.desc {
			i := hi - 1
			if c != nil {
				j := sort.Search(len(sorted), func(i int) bool { return compareKeys(sorted[i].key(), c.key) >= 0 }) - 1
				i = min(i, j)
			}
			for ; i >= lo && len(out) < want; i-- {
				take(sorted[i])
			}
		} else {
			i := lo
			if c != nil {
				i = max(i, sort.Search(len(sorted), func(i int) bool { return compareKeys(sorted[i].key(), c.key) > 0 }))
			}
			for ; i < hi && len(out) < want; i++ {
				take(sorted[i])
			}
		}
	}
	// Items without a start time cannot satisfy a time filter; otherwise
	// they come last in either direction.
	if !q.hasAfter && !q.hasBefore {
		tail := f.tail
		i := 0
		if c != nil && c.tail {
			i = sort.Search(len(tail), func(i int) bool { return tail[i].seq > c.key.seq })
		}
		for ; i < len(tail) && len(out) < want; i++ {
			take(tail[i])
		}
	}
	if len(out) <= q.max {
		return out, ""
	}
	out = out[:q.max]
	if offsetMarkers {
		return out, strconv.Itoa(q.offset + q.max)
	}
	return out, encodeCursor(q.desc, out[len(out)-1])
}

type listResponse struct {
	DurableExecutions []any
	NextMarker        string `json:",omitempty"`
}

type executionSummary struct {
	DurableExecutionArn  string
	DurableExecutionName string
	FunctionArn          string
	Status               string
	StartTimestamp       epochMs
	EndTimestamp         *epochMs `json:",omitempty"`
}

func (s *Server) list(label string, v url.Values) (any, *apiError) {
	ref, aerr := parseFunctionName(label)
	if aerr != nil {
		return nil, aerr
	}
	q, aerr := s.parseListQuery(v)
	if aerr != nil {
		return nil, aerr
	}
	if ref.qualifier != "" {
		if q.qualifier != "" && q.qualifier != ref.qualifier {
			return nil, invalidParam("The derived qualifier from the function name does not match the specified qualifier.")
		}
		q.qualifier = ref.qualifier
	}
	notFound := resourceNotFound("Function not found: %s", s.FunctionARN(ref.name)+suffix(q.qualifier))
	if (ref.account != "" && ref.account != s.opts.AccountID) || (ref.region != "" && ref.region != s.opts.Region) {
		return nil, notFound
	}
	s.mu.RLock()
	f := s.funcs[ref.name]
	s.mu.RUnlock()
	if f == nil {
		return nil, notFound
	}
	s.readLock(f)
	defer s.mu.RUnlock()
	if q.qualifier != "" {
		q.version = q.qualifier
		if v, ok := f.aliases[q.qualifier]; ok {
			q.version, q.also = v, f.routing[q.qualifier]
		} else if !f.versions[q.qualifier] {
			return nil, notFound
		}
	}
	items, next := f.page(q, s.opts.OffsetMarkers)
	resp := listResponse{DurableExecutions: make([]any, len(items)), NextMarker: next}
	for i, e := range items {
		if e.raw != nil {
			resp.DurableExecutions[i] = json.RawMessage(e.raw)
			continue
		}
		sum := &executionSummary{
			DurableExecutionArn:  e.arn,
			DurableExecutionName: e.name,
			FunctionArn:          e.functionARN,
			Status:               e.status,
			StartTimestamp:       epochMs(e.startMs),
		}
		if e.ended {
			end := epochMs(e.endMs)
			sum.EndTimestamp = &end
		}
		resp.DurableExecutions[i] = sum
	}
	return resp, nil
}

func suffix(qualifier string) string {
	if qualifier == "" {
		return ""
	}
	return ":" + qualifier
}

type errorObject struct {
	ErrorType    string
	ErrorMessage string
	ErrorData    string   `json:",omitempty"`
	StackTrace   []string `json:",omitempty"`
}

type durableConfig struct {
	ExecutionTimeout      int
	RetentionPeriodInDays int
}

// get serves GetDurableExecution. It finds executions before they become
// visible in listings (reads by ARN are taken as consistent). Error
// {ErrorType, ErrorMessage, ErrorData, StackTrace}, InputPayload and Result
// are present only when IncludeExecutionData is true (the default), as the
// API documents. Options.PayloadBytes makes InputPayload, Result and
// ErrorData that large. The members come in one of two orders, chosen by the
// execution's sequence number (odd: the payloads first and Status last), so
// that clients cannot depend on the order.
func (s *Server) get(arn string, v url.Values) (any, *apiError) {
	include := true
	if x := v.Get("IncludeExecutionData"); x != "" {
		var err error
		if include, err = strconv.ParseBool(x); err != nil {
			return nil, invalidParam("Invalid IncludeExecutionData %q", x)
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.byARN[arn]
	if e == nil {
		if r := s.raws[arn]; r != nil {
			return json.RawMessage(r.raw), nil
		}
		return nil, resourceNotFound("Durable execution not found: %s", arn)
	}
	m := map[string]any{
		"DurableExecutionArn":   e.arn,
		"DurableExecutionName":  e.name,
		"FunctionArn":           e.functionARN,
		"Status":                e.status,
		"StartTimestamp":        epochMs(e.startMs),
		"Version":               e.version,
		"ExecutionDataIncluded": include,
		"DurableConfig":         durableConfig{ExecutionTimeout: 86400 * 7, RetentionPeriodInDays: 14},
	}
	if e.ended {
		m["EndTimestamp"] = epochMs(e.endMs)
	}
	if include {
		if eo := s.executionError(e); eo != nil {
			eo.ErrorData = padded(`{"attempt":3`, s.opts.PayloadBytes)
			eo.StackTrace = []string{"at handler (index.mjs:42:11)", "at step (durable.mjs:108:5)"}
			m["Error"] = eo
		}
		m["InputPayload"] = padded(`{"executionName":`+strconv.Quote(e.name), s.opts.PayloadBytes)
		if e.status == StatusSucceeded {
			m["Result"] = padded(`{"ok":true`, s.opts.PayloadBytes)
		}
	}
	order := getOrder
	if e.seq%2 == 1 {
		order = getOrderPayloadsFirst
	}
	return orderedObject{keys: order, values: m}, nil
}

// The two member orders of a GetDurableExecution answer.
var (
	getOrder = []string{"DurableExecutionArn", "DurableExecutionName", "FunctionArn", "Status",
		"StartTimestamp", "EndTimestamp", "Version", "Error", "ExecutionDataIncluded",
		"InputPayload", "Result", "DurableConfig"}
	getOrderPayloadsFirst = []string{"InputPayload", "Result", "DurableExecutionArn", "DurableExecutionName",
		"FunctionArn", "StartTimestamp", "EndTimestamp", "Version", "ExecutionDataIncluded",
		"DurableConfig", "Error", "Status"}
)

// orderedObject encodes the present members of values in the order of keys.
type orderedObject struct {
	keys   []string
	values map[string]any
}

// MarshalJSON implements json.Marshaler.
func (o orderedObject) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for _, k := range o.keys {
		v, ok := o.values[k]
		if !ok {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, k)
		b = append(b, ':')
		x, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		b = append(b, x...)
	}
	return append(b, '}'), nil
}

// padded closes the JSON object text head, padded with a "pad" member so
// that the whole is at least n bytes long (n <= 0: no padding).
func padded(head string, n int) string {
	const member = `,"pad":"`
	if pad := n - len(head) - len(member) - 2; pad > 0 {
		return head + member + strings.Repeat("x", pad) + `"}`
	}
	return head + "}"
}

// executionError is the simulated error of a terminal execution: for
// FAILED, the type set with [Server.SetErrorType], else the next of
// Options.ErrorTypes for the function (by the execution's sequence number),
// else StepFailedError; the Lambda types for TIMED_OUT and STOPPED. It is
// nil for other statuses and after [Server.RemoveError]. The caller holds
// the read lock.
func (s *Server) executionError(e *entry) *errorObject {
	if e.noError {
		return nil
	}
	var eo *errorObject
	switch e.status {
	case StatusFailed:
		eo = &errorObject{ErrorType: "StepFailedError", ErrorMessage: "step \"charge\" failed after 3 attempts"}
		if types := s.opts.ErrorTypes[functionOfARN(e.arn)]; len(types) > 0 {
			eo.ErrorType = types[e.seq%uint64(len(types))]
		}
	case StatusTimedOut:
		eo = &errorObject{ErrorType: "Lambda.DurableExecutionTimedOut", ErrorMessage: "The durable execution exceeded its ExecutionTimeout."}
	case StatusStopped:
		eo = &errorObject{ErrorType: "Lambda.DurableExecutionStopped", ErrorMessage: "The durable execution was stopped by StopDurableExecution."}
	default:
		return nil
	}
	if e.errType != nil {
		eo.ErrorType = *e.errType
	}
	return eo
}
