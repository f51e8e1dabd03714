package poller

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// Breakdowns (config key breakdown)
//
// By version: every running and terminal record carries the index of the
// version its execution ran under (from its ARN) in the tracker's version
// table, and each version keeps its own finished counters and histograms.
// Version 0 is "" (an ARN without a version, or a record kept from before
// the breakdown was turned on; a full poll gives those their version). A
// version that no record refers to and that counted no finish for a
// window's length is dropped with its series, so cardinality follows the
// versions in use.
//
// By error type: each counted FAILED, TIMED_OUT or STOPPED execution is
// queued, and read back (GetDurableExecution with its error) after the poll
// within the error-read budget; its count goes to its cleaned ErrorType.
// finished_total moves at once; the error count follows when read.

// maxVersions bounds the version table; further versions fold into
// versionOther.
const maxVersions = 1000

// Error types that are not Error.ErrorType values: no Error in the answer,
// an empty ErrorType, the types past max_error_types, and executions whose
// error could not be read (the backlog was full, or the execution was gone).
const (
	errNone    = "none"
	errUnknown = "unknown"
	errOther   = "other"
	errUnread  = "unread"
	// versionOther holds the versions past maxVersions.
	versionOther = "other"
)

// maxPendingErrors bounds the queue of executions whose error is to be
// read; past it, the execution counts under errUnread.
const maxPendingErrors = 10_000

// maxErrorTypeLen bounds an error type label value, in bytes.
const maxErrorTypeLen = 128

type verState struct {
	name       string // "" for version 0, or a free slot (free set)
	free       bool
	finished   [durable.NumStatuses]uint64
	durations  [durable.NumStatuses]durable.Histogram
	lastFinish int64 // ms, service clock; 0 = never
	since      int64 // ms: when the slot was taken, its counters' start
	// As of the last recount.
	inWindow [durable.NumStatuses]uint64
	refs     int
}

type errKey struct {
	status durable.Status
	typ    string
}

type pendingErr struct {
	arn    string
	status durable.Status
	misses int // reads that answered 404
}

// versionOf returns the version in an execution ARN
// (arn:aws:lambda:REGION:ACCOUNT:function:NAME:VERSION/durable-execution/...),
// or "" when it has none.
func versionOf(arn string) string {
	i := strings.Index(arn, ":function:")
	if i < 0 {
		return ""
	}
	rest := arn[i+len(":function:"):]
	if j := strings.Index(rest, "/"); j >= 0 {
		rest = rest[:j]
	}
	if j := strings.IndexByte(rest, ':'); j >= 0 {
		return rest[j+1:]
	}
	return ""
}

// verIndex returns the index of version v, adding it when new.
func (t *tracker) verIndex(v string) uint16 {
	if v == "" {
		return 0
	}
	if i, ok := t.verIdx[v]; ok {
		return i
	}
	if len(t.verIdx) >= maxVersions && v != versionOther {
		return t.verIndex(versionOther)
	}
	if t.verIdx == nil {
		t.verIdx = make(map[string]uint16)
	}
	for i := 1; i < len(t.vers); i++ {
		if t.vers[i].free {
			t.vers[i] = verState{name: v, since: t.stamp()}
			t.verIdx[v] = uint16(i)
			return uint16(i)
		}
	}
	t.vers = append(t.vers, verState{name: v, since: t.stamp()})
	t.verIdx[v] = uint16(len(t.vers) - 1)
	return uint16(len(t.vers) - 1)
}

// ensureVersions makes sure version 0 exists.
func (t *tracker) ensureVersions() {
	if len(t.vers) == 0 {
		t.vers = []verState{{}}
	}
}

// countVersion counts a finish of version v (status s, duration ms).
func (t *tracker) countVersion(v uint16, s durable.Status, ms int64, now int64, observe bool) {
	if !t.byVersion {
		return
	}
	t.ensureVersions()
	if int(v) >= len(t.vers) {
		v = 0
	}
	vs := &t.vers[v]
	vs.finished[s]++
	vs.lastFinish = now
	if observe {
		vs.durations[s].ObserveMillisIn(ms, t.bucketBounds())
	}
}

// recountVersions computes the per-version gauges and drops the versions
// that nothing refers to and that counted no finish for a window.
func (t *tracker) recountVersions(now int64) {
	if !t.byVersion {
		return
	}
	t.ensureVersions()
	for i := range t.vers {
		t.vers[i].inWindow, t.vers[i].refs = [durable.NumStatuses]uint64{}, 0
	}
	cut := now - t.window
	for _, d := range t.done {
		v := &t.vers[min(int(d.ver()), len(t.vers)-1)]
		v.refs++
		if d.start() >= cut {
			v.inWindow[d.status()]++
		}
	}
	for _, r := range t.running {
		v := &t.vers[min(int(r.ver), len(t.vers)-1)]
		v.refs++
		if !r.unknown {
			v.inWindow[durable.Running]++
		}
	}
	for i := 1; i < len(t.vers); i++ {
		v := &t.vers[i]
		if v.free || v.refs > 0 || (v.lastFinish > 0 && v.lastFinish > now-t.window) {
			continue
		}
		delete(t.verIdx, v.name)
		*v = verState{free: true}
	}
}

// setVersionBreakdown turns the version breakdown on or off; turning it on
// makes the next poll a full one, which gives every record its version.
func (t *tracker) setVersionBreakdown(on bool) {
	if on == t.byVersion {
		return
	}
	t.byVersion = on
	t.vers, t.verIdx = nil, nil
	for h, r := range t.running {
		r.ver = 0
		t.running[h] = r
	}
	for h, d := range t.done {
		d = d.withVer(0)
		t.done[h] = d
	}
	if on {
		t.ensureVersions()
		for h, r := range t.running {
			r.ver = t.verIndex(versionOf(r.arn))
			t.running[h] = r
		}
		t.needFull = true
	}
}

// queueError queues a counted finish whose error type is to be read.
func (t *tracker) queueError(arn string, s durable.Status) {
	if !t.byErrorType || (s != durable.Failed && s != durable.TimedOut && s != durable.Stopped) {
		return
	}
	if arn == "" || len(t.pending) >= maxPendingErrors {
		t.countError(s, errUnread)
		return
	}
	t.pending = append(t.pending, pendingErr{arn: arn, status: s})
}

// countError counts one execution of status s under error type typ
// (already cleaned), folding new types past the cap into errOther.
func (t *tracker) countError(s durable.Status, typ string) {
	if t.errCounts == nil {
		t.errCounts = make(map[errKey]uint64)
	}
	k := errKey{s, typ}
	if _, ok := t.errCounts[k]; !ok && !reservedErrorType(typ) && !t.knownErrorType(typ) && t.distinctErrorTypes() >= t.maxErrTypes {
		k.typ = errOther
	}
	if _, ok := t.errCounts[k]; !ok {
		if t.errSince == nil {
			t.errSince = make(map[errKey]int64)
		}
		t.errSince[k] = t.stamp()
	}
	t.errCounts[k]++
}

func reservedErrorType(s string) bool {
	return s == errNone || s == errUnknown || s == errOther || s == errUnread
}

func (t *tracker) knownErrorType(typ string) bool {
	for k := range t.errCounts {
		if k.typ == typ {
			return true
		}
	}
	return false
}

func (t *tracker) distinctErrorTypes() int {
	seen := map[string]bool{}
	for k := range t.errCounts {
		if !reservedErrorType(k.typ) {
			seen[k.typ] = true
		}
	}
	return len(seen)
}

// cleanErrorType makes an ErrorType from the API a label value that reads
// well and cannot break /metrics: valid UTF-8, no control characters, at
// most maxErrorTypeLen bytes, trimmed; errUnknown when nothing is left.
func cleanErrorType(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxErrorTypeLen {
		cut := maxErrorTypeLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	if s == "" {
		return errUnknown
	}
	return s
}

// fillBreakdowns copies the breakdowns into a snapshot.
func (t *tracker) fillBreakdowns(s *snapshot.Snapshot) {
	s.ByVersion, s.ByErrorType = t.byVersion, t.byErrorType
	if t.byVersion {
		for i := range t.vers {
			v := &t.vers[i]
			if v.free || (i == 0 && v.refs == 0 && v.lastFinish == 0) {
				continue
			}
			s.Versions = append(s.Versions, snapshot.VersionCounts{Version: v.name, Since: max(v.since, t.baseline), InWindow: v.inWindow,
				Finished: v.finished, Durations: v.durations})
		}
		slices.SortFunc(s.Versions, func(a, b snapshot.VersionCounts) int { return compareVersions(a.Version, b.Version) })
	}
	t.fillErrors(s)
}

// fillErrors copies the error counts into a snapshot.
func (t *tracker) fillErrors(s *snapshot.Snapshot) {
	if t.byErrorType {
		for k, n := range t.errCounts {
			s.Errors = append(s.Errors, snapshot.ErrorCount{Status: k.status, Type: k.typ, Count: n, Since: t.errSince[k]})
		}
		slices.SortFunc(s.Errors, func(a, b snapshot.ErrorCount) int {
			return cmp.Or(cmp.Compare(a.Status, b.Status), strings.Compare(a.Type, b.Type))
		})
		s.PendingErrors = len(t.pending)
	}
}

// compareVersions orders versions numerically where they are numbers.
func compareVersions(a, b string) int {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	switch {
	case errA == nil && errB == nil:
		return cmp.Compare(x, y)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// stamp is when what the tracker creates now began: the start of the poll
// being applied, else the last successful one.
func (t *tracker) stamp() int64 { return max(t.pollNow, t.lastSuccess) }
