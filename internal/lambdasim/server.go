package lambdasim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Operation names, as used in [Request.Op] and [Server.Requests].
const (
	OpList = "ListDurableExecutionsByFunction"
	OpGet  = "GetDurableExecution"

	// OpListFunctions is Lambda ListFunctions (GET /2015-03-31/functions),
	// served by a Server alone too.
	OpListFunctions = "ListFunctions"
	// OpGetResources is Resource Groups Tagging API GetResources, served
	// through a [World].
	OpGetResources = "GetResources"
	// OpAssumeRole and OpGetCallerIdentity are STS operations, served
	// through a [World] and counted in the caller's partition (its account
	// and the region of the request's credential scope).
	OpAssumeRole        = "AssumeRole"
	OpGetCallerIdentity = "GetCallerIdentity"
)

// Execution statuses known to the API. The SDK warns the enum can grow; the
// simulator can serve other values through [Server.AddRaw].
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusStopped   = "STOPPED"
)

// Errors returned by [Server.End], wrapped with the ARN.
var (
	ErrNotFound   = errors.New("lambdasim: no such execution")
	ErrNotRunning = errors.New("lambdasim: execution is not running")
	ErrBadStatus  = errors.New("lambdasim: not a terminal status")
	ErrEndBefore  = errors.New("lambdasim: end before start")
)

// Options configures a [Server]. The zero value is usable.
type Options struct {
	// Region and AccountID appear in every ARN and are checked against the
	// SigV4 credential scope (region) and against ARNs in requests. Defaults
	// us-east-1 and 123456789012.
	Region, AccountID string

	// Now is the clock, used for visibility, rate limiting and the Date
	// header of every answer (so a skewed clock models a service whose
	// clock differs from the client's). Default time.Now; tests use a fake
	// clock.
	Now func() time.Time

	// ReverseMeansNewestFirst selects the reading of ReverseOrder. The AWS
	// sources disagree, so clients must not depend on either:
	//   - false (default): listings are newest-first, ReverseOrder=true gives
	//     oldest-first (the Go SDK documentation);
	//   - true: listings are oldest-first, ReverseOrder=true gives newest-first.
	ReverseMeansNewestFirst bool

	// OffsetMarkers makes NextMarker a plain offset ("100") into the
	// filtered, sorted list as it is at the time of each request, so
	// executions inserted (or becoming visible) ahead of the offset between
	// page requests make items repeat across pages. By default markers are
	// opaque cursors holding the last item's sort key, so concurrent inserts
	// never make an item repeat or be skipped. An invalid marker, or a cursor
	// used with the other sort order, is answered with 400.
	OffsetMarkers bool

	// ListRate and GetRate limit requests per second for each operation
	// (0 = unlimited), with a burst equal to the rate (at least 1). The
	// simulator models a single account and region, so each is one bucket,
	// as AWS applies the quota per account and region. Exceeding it gives 429
	// TooManyRequestsException, Reason CallerRateLimitExceeded, with
	// Retry-After in whole seconds.
	ListRate, GetRate float64

	// ListFunctionsRate limits ListFunctions requests per second like
	// ListRate (0 = unlimited).
	ListFunctionsRate float64

	// ErrorTypes gives, per function name, the ErrorType values of its
	// FAILED executions: each execution gets one of them by its sequence
	// number (so they cycle in the order executions were started). Without
	// an entry, FAILED executions have type StepFailedError. TIMED_OUT and
	// STOPPED executions always have Lambda.DurableExecutionTimedOut and
	// Lambda.DurableExecutionStopped. [Server.SetErrorType] overrides both.
	ErrorTypes map[string][]string

	// PayloadBytes, when > 0, makes the InputPayload, Result and
	// Error.ErrorData of GetDurableExecution answers with
	// IncludeExecutionData=true at least that long each (JSON object texts
	// padded with a "pad" member), so a FAILED execution's answer is over
	// twice that. The default is a few bytes each.
	PayloadBytes int

	// Intercept, when set, is called for every authenticated API request
	// before it is served (and before rate limiting); a non-nil Fault changes
	// the answer. It may be called concurrently.
	Intercept func(req Request) *Fault
}

// Request describes an API request to [Options.Intercept].
type Request struct {
	// Op is OpList, OpGet, OpListFunctions, OpGetFunctionConfiguration or, through a [World],
	// OpGetResources, OpAssumeRole or OpGetCallerIdentity.
	Op string
	// Account and Region identify the Server (partition) serving the
	// request: its Options.AccountID and Options.Region.
	Account, Region string
	// Function is the bare function name: parsed from FunctionName (name,
	// partial or full ARN) for OpList and OpGetFunctionConfiguration, from the execution ARN for OpGet. It is
	// the raw label when it cannot be parsed; empty for the other
	// operations.
	Function string
	// Query is a copy of the request's query parameters (for STS
	// operations, of the form-encoded parameters; nil for GetResources).
	Query url.Values
	// N is the 1-based count of requests of this Op so far, including this
	// one and requests rejected for authentication; see [Server.ResetRequests].
	N int
}

// Fault is an injected misbehaviour for one request. Delay is applied first;
// then the first of Reset, Status, Body, BodySize and Truncate that is set
// decides the answer (Status and Body together make one raw error answer).
type Fault struct {
	// Status, when not 0, answers with an error of this HTTP status.
	// ErrorType defaults by status (400 InvalidParameterValueException, 403
	// AccessDeniedException, 404 ResourceNotFoundException, 429
	// TooManyRequestsException, 5xx ServiceException). For 429, Reason
	// defaults to CallerRateLimitExceeded and RetryAfter to "1"; RetryAfter is
	// sent as the Retry-After header for any status when set. With Body set
	// too, Body is the answer instead of a modelled error (see Body).
	Status                        int
	ErrorType, Reason, RetryAfter string

	// Delay sleeps before answering; if the request's context ends first,
	// nothing is answered.
	Delay time.Duration

	// Truncate serves the normal answer with its body cut in half
	// (malformed JSON, with a matching Content-Length).
	Truncate bool

	// Reset hijacks the connection and closes it (with an RST where
	// possible) without answering. It needs an http.Server underneath; with
	// a bare ResponseWriter the handler panics with http.ErrAbortHandler.
	// Note that net/http's Transport transparently retries a GET once when
	// a reused keep-alive connection closes without an answer: to make a
	// client see the reset, reset that retry too (it arrives as the next N).
	Reset bool

	// Body, when not nil, is served as-is, with a Content-Length: with
	// status 200, or with Status when that is set too (say a proxy's HTML
	// error page: no X-Amzn-ErrorType header, ErrorType and Reason unused,
	// RetryAfter still sent).
	Body []byte
	// ContentType is the Content-Type of Body; default application/json.
	ContentType string

	// BodySize, when > 0, answers 200 with a well-formed, empty listing
	// page of exactly BodySize bytes (at least 37):
	// {"DurableExecutions":[],"Padding":"xxx…"}, an unmodelled member that
	// clients ignore. It is generated as it is written, so even gigabytes
	// cost the simulator no memory, and the writing stops when the client
	// goes away. It has a Content-Length unless Chunked is set: then it is
	// sent with chunked transfer encoding, so that the client learns its
	// size only by reading it.
	BodySize int64
	Chunked  bool
}

// Execution is the ground truth of one durable execution.
type Execution struct {
	ARN, Name, Function, Version string
	Status                       string
	// Start, End and VisibleAt have millisecond precision; End is zero while
	// RUNNING. VisibleAt is when the execution starts to appear in listings.
	Start, End, VisibleAt time.Time
}

// Server simulates the durable-executions API. It is safe for concurrent use.
type Server struct {
	opts Options

	mu    sync.RWMutex
	funcs map[string]*function
	byARN map[string]*entry // real executions
	raws  map[string]*entry // AddRaw items that carry a string DurableExecutionArn
	seq   uint64

	reqMu sync.Mutex
	reqs  map[string]int
	reqID uint64
	// reqSalt makes request IDs of World partitions distinct (0 alone).
	reqSalt uint64

	listLim, getLim, listFnLim *rate.Limiter
}

type function struct {
	name     string
	versions map[string]bool
	aliases  map[string]string
	// routing maps an alias to its additional version, which receives a
	// share of the alias's invocations (weighted alias routing).
	routing map[string]string
	// sorted holds the items with a start time, ordered by sortKey; it may
	// be out of order while dirty is set (see Server.readLock).
	sorted []*entry
	dirty  bool
	// tail holds AddRaw items without a usable StartTimestamp, in insertion
	// order; they are listed after all others in either direction.
	tail []*entry

	// createdMs is when the function was registered (its LastModified);
	// plain marks a function without DurableConfig (AddPlainFunction);
	// tags are its tags, and tagged reports whether SetTags was ever called
	// (the Tagging API lists only such functions).
	createdMs int64
	plain     bool
	tags      map[string]string
	tagged    bool
	// execTimeout is its DurableConfig.ExecutionTimeout in seconds, 0 for
	// the default (SetExecutionTimeout).
	execTimeout int
}

// entry is one listed item: a real execution or an AddRaw item (raw != nil).
// status and endMs/ended change under the write lock; the rest is fixed.
type entry struct {
	arn, name, version, functionARN string
	status                          string
	startMs, endMs, visibleMs       int64
	hasStart, ended                 bool
	seq                             uint64
	raw                             []byte
	// errType overrides the ErrorType of a terminal execution's Error
	// (SetErrorType); noError leaves the Error out (RemoveError).
	errType *string
	noError bool
}

// New returns a Server with no functions.
func New(o Options) *Server {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.AccountID == "" {
		o.AccountID = "123456789012"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{
		opts:  o,
		funcs: make(map[string]*function),
		byARN: make(map[string]*entry),
		raws:  make(map[string]*entry),
		reqs:  make(map[string]int),
	}
	s.listLim = newLimiter(o.ListRate)
	s.getLim = newLimiter(o.GetRate)
	s.listFnLim = newLimiter(o.ListFunctionsRate)
	return s
}

func newLimiter(r float64) *rate.Limiter {
	if r <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(r), max(1, int(math.Ceil(r))))
}

// Region returns the simulated region.
func (s *Server) Region() string { return s.opts.Region }

// AccountID returns the simulated account.
func (s *Server) AccountID() string { return s.opts.AccountID }

// FunctionARN returns the unqualified ARN of the named function.
func (s *Server) FunctionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", s.opts.Region, s.opts.AccountID, name)
}

func (s *Server) now() time.Time { return s.opts.Now() }

// AddFunction registers a function, or adds versions and aliases to a
// registered one. Versions are "$LATEST" or numbers ("$LATEST" is always
// present); aliases map an alias name to a version.
func (s *Server) AddFunction(name string, versions []string, aliases map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.function(name)
	for _, v := range versions {
		f.versions[v] = true
	}
	for a, v := range aliases {
		f.aliases[a] = v
	}
}

// AddWeightedAlias registers an alias that routes to two versions, as a
// canary does (RoutingConfig.AdditionalVersionWeights): listing by the alias
// lists the executions of both. Executions started with the alias as their
// version run under primary; start them with an explicit version to model
// the share that additional receives.
func (s *Server) AddWeightedAlias(name, alias, primary, additional string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.function(name)
	f.versions[primary], f.versions[additional] = true, true
	f.aliases[alias] = primary
	f.routing[alias] = additional
}

// function returns the named function, registering it if absent. The caller
// holds the write lock.
func (s *Server) function(name string) *function {
	f := s.funcs[name]
	if f == nil {
		f = &function{
			name:      name,
			versions:  map[string]bool{"$LATEST": true},
			aliases:   make(map[string]string),
			routing:   make(map[string]string),
			createdMs: s.now().UnixMilli(),
		}
		s.funcs[name] = f
	}
	return f
}

// Functions returns the registered function names, sorted, including those
// added with [Server.AddPlainFunction].
func (s *Server) Functions() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.funcs))
	for n := range s.funcs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Start starts a RUNNING execution at `at`, visible in listings at once, and
// returns its ARN. See [Server.StartVisibleAt].
func (s *Server) Start(function, version, name string, at time.Time) string {
	return s.StartVisibleAt(function, version, name, at, at)
}

// StartVisibleAt starts a RUNNING execution at `at` that appears in listings
// from `visible` on (a time before `at` is taken as `at`), modelling eventual
// consistency; Get finds it at once. The function is registered if absent;
// version "" means $LATEST, an alias of the function is resolved to its
// version, and an unknown version is added to the function. An empty name is
// replaced by the generated execution ID. Times are truncated to
// milliseconds. It returns the execution ARN
// arn:aws:lambda:REGION:ACCOUNT:function:NAME:VERSION/durable-execution/EXECNAME/ID.
func (s *Server) StartVisibleAt(function, version, name string, at, visible time.Time) string {
	startMs, visMs := at.UnixMilli(), visible.UnixMilli()
	if visMs < startMs {
		visMs = startMs
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.function(function)
	if version == "" {
		version = "$LATEST"
	}
	if v, ok := f.aliases[version]; ok {
		version = v
	}
	f.versions[version] = true
	s.seq++
	id := executionID(s.seq)
	if name == "" {
		name = id
	}
	fnARN := s.FunctionARN(function) + ":" + version
	e := &entry{
		arn:         fnARN + "/durable-execution/" + name + "/" + id,
		name:        name,
		version:     version,
		functionARN: fnARN,
		status:      StatusRunning,
		startMs:     startMs,
		visibleMs:   visMs,
		hasStart:    true,
		seq:         s.seq,
	}
	s.byARN[e.arn] = e
	f.insert(e)
	return e.arn
}

// executionID derives a UUID-shaped, deterministic ID from a sequence number.
func executionID(seq uint64) string {
	a, b := splitmix(seq), splitmix(seq^0x9e3779b97f4a7c15)
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
		uint32(a>>32), uint16(a>>16), uint16(a)&0xfff, uint16(b>>48)&0x3fff|0x8000, b&0xffffffffffff)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// insert adds e to f's listing; the caller holds the write lock.
func (f *function) insert(e *entry) {
	if !e.hasStart {
		f.tail = append(f.tail, e)
		return
	}
	if n := len(f.sorted); n > 0 && compareEntries(e, f.sorted[n-1]) < 0 {
		f.dirty = true
	}
	f.sorted = append(f.sorted, e)
}

// sortKey is the total order of listed items: start, then ARN, then
// insertion sequence (unique).
type sortKey struct {
	ms  int64
	arn string
	seq uint64
}

func (e *entry) key() sortKey { return sortKey{e.startMs, e.arn, e.seq} }

func compareKeys(a, b sortKey) int {
	if a.ms != b.ms {
		if a.ms < b.ms {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.arn, b.arn); c != 0 {
		return c
	}
	switch {
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

func compareEntries(a, b *entry) int { return compareKeys(a.key(), b.key()) }

// readLock takes the read lock with every function's listing sorted. Inserts
// that arrive out of order only mark the function dirty, so bulk loading in
// any order stays O(n log n).
func (s *Server) readLock(f *function) {
	for {
		s.mu.RLock()
		if f == nil || !f.dirty {
			return
		}
		s.mu.RUnlock()
		s.mu.Lock()
		if f.dirty {
			slices.SortFunc(f.sorted, compareEntries)
			f.dirty = false
		}
		s.mu.Unlock()
	}
}

// End moves a RUNNING execution to a terminal status (SUCCEEDED, FAILED,
// TIMED_OUT or STOPPED) at `at`, truncated to milliseconds. It fails with an
// error wrapping ErrNotFound, ErrNotRunning, ErrBadStatus or ErrEndBefore.
func (s *Server) End(arn, status string, at time.Time) error {
	switch status {
	case StatusSucceeded, StatusFailed, StatusTimedOut, StatusStopped:
	default:
		return fmt.Errorf("end %s with %q: %w", arn, status, ErrBadStatus)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byARN[arn]
	switch {
	case e == nil:
		return fmt.Errorf("end %s: %w", arn, ErrNotFound)
	case e.status != StatusRunning:
		return fmt.Errorf("end %s (%s): %w", arn, e.status, ErrNotRunning)
	case at.UnixMilli() < e.startMs:
		return fmt.Errorf("end %s at %s: %w", arn, at.UTC().Format(time.RFC3339Nano), ErrEndBefore)
	}
	e.status, e.endMs, e.ended = status, at.UnixMilli(), true
	return nil
}

// SetErrorType sets the ErrorType of the execution's Error, served once it
// has ended with FAILED, TIMED_OUT or STOPPED; "" is served as an empty
// ErrorType. It undoes RemoveError. It fails with an error wrapping
// ErrNotFound.
func (s *Server) SetErrorType(arn, errorType string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byARN[arn]
	if e == nil {
		return fmt.Errorf("set error type of %s: %w", arn, ErrNotFound)
	}
	e.errType, e.noError = &errorType, false
	return nil
}

// RemoveError makes GetDurableExecution answer the execution without an
// Error member, whatever its status. It fails with an error wrapping
// ErrNotFound.
func (s *Server) RemoveError(arn string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byARN[arn]
	if e == nil {
		return fmt.Errorf("remove error of %s: %w", arn, ErrNotFound)
	}
	e.noError = true
	return nil
}

// AddRaw injects an arbitrary item, served verbatim in the listings of the
// named function (registered if absent), to test client robustness: a missing
// StartTimestamp, an unknown Status, End before Start, a foreign FunctionArn
// and so on. time.Time values at the top level are encoded as epoch-seconds
// numbers like real timestamps; everything else is encoded with encoding/json
// (AddRaw panics if that fails). The item is ordered by its StartTimestamp
// when that is a number or time.Time, and listed after all other items
// otherwise. It is always visible and is not part of [Server.Executions].
// Filters apply where the item has the field: Status and
// DurableExecutionName must match when filtered on; StartedAfter and
// StartedBefore exclude items without a usable StartTimestamp; a Qualifier
// matches the version in the item's DurableExecutionArn or FunctionArn. If
// DurableExecutionArn is a string, GetDurableExecution serves the item too.
func (s *Server) AddRaw(function string, item map[string]any) {
	enc := make(map[string]any, len(item))
	e := &entry{visibleMs: math.MinInt64}
	for k, v := range item {
		if t, ok := v.(time.Time); ok {
			v = epochMs(t.UnixMilli())
		}
		enc[k] = v
	}
	raw, err := json.Marshal(enc)
	if err != nil {
		panic(fmt.Sprintf("lambdasim: AddRaw: %v", err))
	}
	e.raw = raw
	e.arn, _ = item["DurableExecutionArn"].(string)
	e.name, _ = item["DurableExecutionName"].(string)
	e.status, _ = item["Status"].(string)
	e.startMs, e.hasStart = rawTime(item["StartTimestamp"])
	fnARN, _ := item["FunctionArn"].(string)
	e.version = arnVersion(e.arn)
	if e.version == "" {
		e.version = arnVersion(fnARN)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	e.seq = s.seq
	s.function(function).insert(e)
	if e.arn != "" {
		s.raws[e.arn] = e
	}
}

// rawTime interprets a timestamp given to AddRaw.
func rawTime(v any) (int64, bool) {
	var f float64
	switch t := v.(type) {
	case time.Time:
		return t.UnixMilli(), true
	case float64:
		f = t
	case float32:
		f = float64(t)
	case int:
		f = float64(t)
	case int64:
		f = float64(t)
	case json.Number:
		var err error
		if f, err = t.Float64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return int64(math.Round(f * 1000)), true
}

// arnVersion returns the version of a qualified function or execution ARN,
// or "".
func arnVersion(arn string) string {
	arn, _, _ = strings.Cut(arn, "/")
	p := strings.Split(arn, ":")
	if len(p) == 8 && p[0] == "arn" && p[5] == "function" {
		return p[7]
	}
	return ""
}

// Executions returns a copy of the named function's executions (not AddRaw
// items), visible or not, sorted by start then ARN.
func (s *Server) Executions(function string) []Execution {
	s.mu.RLock()
	f := s.funcs[function]
	s.mu.RUnlock()
	if f == nil {
		return nil
	}
	s.readLock(f)
	defer s.mu.RUnlock()
	out := make([]Execution, 0, len(f.sorted))
	for _, e := range f.sorted {
		if e.raw == nil {
			out = append(out, e.execution(function))
		}
	}
	return out
}

// Lookup returns the execution with the given ARN.
func (s *Server) Lookup(arn string) (Execution, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.byARN[arn]
	if e == nil {
		return Execution{}, false
	}
	return e.execution(functionOfARN(arn)), true
}

func (e *entry) execution(function string) Execution {
	x := Execution{
		ARN:       e.arn,
		Name:      e.name,
		Function:  function,
		Version:   e.version,
		Status:    e.status,
		Start:     time.UnixMilli(e.startMs).UTC(),
		VisibleAt: time.UnixMilli(e.visibleMs).UTC(),
	}
	if e.ended {
		x.End = time.UnixMilli(e.endMs).UTC()
	}
	return x
}

// functionOfARN returns NAME from arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:...].
func functionOfARN(arn string) string {
	arn, _, _ = strings.Cut(arn, "/")
	p := strings.Split(arn, ":")
	if len(p) >= 7 && p[0] == "arn" && p[5] == "function" {
		return p[6]
	}
	return ""
}

// Requests returns how many requests were received per operation since New
// or the last ResetRequests, including those answered with an error.
func (s *Server) Requests() map[string]int {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	out := make(map[string]int, len(s.reqs))
	for k, v := range s.reqs {
		out[k] = v
	}
	return out
}

// ResetRequests zeroes the request counts (and so restarts [Request.N]).
func (s *Server) ResetRequests() {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	clear(s.reqs)
}

func (s *Server) countRequest(op string) (n int, requestID string) {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	s.reqs[op]++
	s.reqID++
	return s.reqs[op], executionID(s.reqID ^ 0x5bd1e995 ^ s.reqSalt)
}

// Listen serves s with a real http.Server on a TCP listener at addr
// (default "127.0.0.1:0", a free loopback port) and returns its base URL,
// e.g. "http://127.0.0.1:41234", and a function that shuts it down.
func Listen(addr string, s *Server) (string, func(context.Context) error, error) {
	return listen(addr, s)
}

func listen(addr string, h http.Handler) (string, func(context.Context) error, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("lambdasim: listen %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), srv.Shutdown, nil
}

// epochMs is a timestamp encoded as a JSON number of epoch seconds with a
// millisecond fraction, e.g. 1764320000.123.
type epochMs int64

// MarshalJSON implements json.Marshaler.
func (t epochMs) MarshalJSON() ([]byte, error) {
	ms := int64(t)
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		sec, frac = sec-1, frac+1000
	}
	b := strconv.AppendInt(nil, sec, 10)
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b, nil
}
