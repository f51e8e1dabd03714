package poller

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// breakdownTruth is what the breakdowns must show: per version the gauges,
// counters and histograms, per (status, error type) the counts.
type breakdownTruth struct {
	versions map[string]*truth
	errors   map[errKey]uint64
	// lastFinish is the end of each version's last counted finish.
	lastFinish map[string]int64
}

func (f *fakeAPI) breakdownTruth(now, baseline int64, window time.Duration) breakdownTruth {
	bt := breakdownTruth{versions: map[string]*truth{}, errors: map[errKey]uint64{}, lastFinish: map[string]int64{}}
	cut := now - window.Milliseconds()
	for _, e := range f.execs {
		if e.visible > now {
			continue
		}
		v := versionOf(e.arn)
		tv := bt.versions[v]
		if tv == nil {
			tv = &truth{}
			bt.versions[v] = tv
		}
		if e.start >= cut || e.status == durable.Running {
			tv.inWindow[e.status]++
		}
		if e.status.Terminal() && e.end >= baseline {
			tv.finished[e.status]++
			tv.durations[e.status].ObserveMillis(max(e.end-e.start, 0))
			bt.lastFinish[v] = max(bt.lastFinish[v], e.end)
			if e.status != durable.Succeeded {
				typ := errNone
				if x := f.errorTypeOf(e); x != "" {
					typ = cleanErrorType(x)
				}
				bt.errors[errKey{e.status, typ}]++
			}
		}
	}
	return bt
}

// checkBreakdowns compares a snapshot's breakdowns with the truth: every
// version shown is exact; every version with something running, in the
// window or finished within the window is shown.
func checkBreakdowns(t *testing.T, where string, s *snapshot.Snapshot, bt breakdownTruth, now int64, window time.Duration) {
	t.Helper()
	shown := map[string]bool{}
	for _, vc := range s.Versions {
		shown[vc.Version] = true
		tv := bt.versions[vc.Version]
		if tv == nil {
			t.Fatalf("%s: version %q shown, unknown to the truth", where, vc.Version)
		}
		for _, st := range durable.Known {
			if vc.InWindow[st] != tv.inWindow[st] {
				t.Errorf("%s: version %q executions{%s} = %d, truth %d", where, vc.Version, st, vc.InWindow[st], tv.inWindow[st])
			}
			if st.Terminal() && (vc.Finished[st] != tv.finished[st] || vc.Durations[st] != tv.durations[st]) {
				t.Errorf("%s: version %q finished{%s} = %d, truth %d", where, vc.Version, st, vc.Finished[st], tv.finished[st])
			}
		}
	}
	for v, tv := range bt.versions {
		active := false
		for _, n := range tv.inWindow {
			active = active || n > 0
		}
		if (active || bt.lastFinish[v] > now-window.Milliseconds()) && !shown[v] {
			t.Errorf("%s: active version %q not shown", where, v)
		}
	}
	got := map[errKey]uint64{}
	for _, e := range s.Errors {
		got[errKey{e.Status, e.Type}] = e.Count
	}
	if s.PendingErrors == 0 && fmt.Sprint(got) != fmt.Sprint(bt.errors) {
		t.Errorf("%s: errors\n got %v\nwant %v", where, got, bt.errors)
	}
}

// TestBreakdownsExact: executions over versions that roll out one after
// another (a canary beside the stable version, then the next), with three
// error types and failures without an Error. After every poll and error
// read, each version's numbers and each error type's count equal the truth;
// versions that nothing refers to any more leave, so the table stays small.
func TestBreakdownsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	f := newFakeAPI("orders", 9)
	release := 1
	f.version = func(n int) string { // the canary takes one in four
		if n%4 == 0 {
			return fmt.Sprint(release + 1)
		}
		return fmt.Sprint(release)
	}
	f.errType = func(e *fakeExec) string {
		n := len(e.name)
		if n%5 == 0 {
			return "" // no Error in the answer
		}
		return fakeErrorTypes[n%3]
	}
	window := time.Hour
	tr := newTracker()
	tr.configure(durable.Known, window.Milliseconds(), (5 * time.Minute).Milliseconds(), interval.Milliseconds())
	tr.setVersionBreakdown(true)
	tr.setErrorBreakdown(true, 20)
	now := t0
	maxVersions := 0
	for step := range 600 {
		if step%40 == 39 {
			release++ // a deploy every 40 minutes
		}
		for range rng.IntN(6) {
			f.start(now-rng.Int64N(60_000), now)
		}
		for _, e := range f.execs {
			if e.status == durable.Running && rng.IntN(6) == 0 {
				f.end(e, terminals[rng.IntN(4)], now-rng.Int64N(30_000))
			}
		}
		pollFake(t, f, tr, now, 30*time.Minute)
		if _, _, err := tr.readErrors(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		var s snapshot.Snapshot
		tr.fill(&s)
		checkBreakdowns(t, fmt.Sprintf("step %d", step), &s, f.breakdownTruth(now, tr.baseline, window), now, window)
		if t.Failed() {
			t.FailNow()
		}
		maxVersions = max(maxVersions, len(s.Versions))
		// The error counts of each status add up to its finishes.
		var sum [durable.NumStatuses]uint64
		for _, e := range s.Errors {
			sum[e.Status] += e.Count
		}
		for _, st := range []durable.Status{durable.Failed, durable.TimedOut, durable.Stopped} {
			if sum[st] != s.Finished[st] {
				t.Fatalf("step %d: errors{%s} add up to %d, finished %d", step, st, sum[st], s.Finished[st])
			}
		}
		now += interval.Milliseconds()
	}
	if release < 10 {
		t.Fatalf("only %d releases", release)
	}
	// Old versions keep executions running for a while, but never 15
	// releases' worth.
	if maxVersions > 8 {
		t.Errorf("up to %d versions shown at once after %d releases: old versions do not leave", maxVersions, release)
	}
	if got := len(tr.vers); got > 12 {
		t.Errorf("version table holds %d slots: freed slots are not reused", got)
	}
}

// TestErrorTypesBounded: past max_error_types new types count as "other";
// reserved names and odd strings make safe label values; reads that answer
// 404 count as "unread" after maxNotFound rounds; a failing read stops the
// round and keeps the queue; a full queue counts as "unread" at once.
func TestErrorTypesBounded(t *testing.T) {
	f := newFakeAPI("orders", 3)
	types := []string{"A", "B", "C", "D", "E", "  padded  ", "bad\x00\x1b[31mcolour", strings.Repeat("x", 300), "\xff\xfe"}
	f.errType = func(e *fakeExec) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(e.name, "run-"))
		return types[n%len(types)]
	}
	tr := newTracker()
	tr.configure(durable.Known, time.Hour.Milliseconds(), 300_000, interval.Milliseconds())
	tr.setErrorBreakdown(true, 6)
	now := t0
	pollFake(t, f, tr, now, 0)
	for i := range 2 * len(types) {
		e := f.start(now+int64(i), now)
		f.end(e, durable.Failed, now+1000)
	}
	now += interval.Milliseconds()
	// The first read of one execution answers 404 three times: it ends up unread.
	missing := f.execs[0].arn
	f.errMissed[missing] = maxNotFound
	pollFake(t, f, tr, now, 0)
	for round := range maxNotFound {
		if _, _, err := tr.readErrors(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		if want := 1; round < maxNotFound-1 && len(tr.pending) != want {
			t.Fatalf("round %d: %d pending, want %d", round, len(tr.pending), want)
		}
	}
	if len(tr.pending) != 0 {
		t.Fatalf("%d pending after %d rounds", len(tr.pending), maxNotFound)
	}
	var s snapshot.Snapshot
	tr.fill(&s)
	got := map[string]uint64{}
	var total uint64
	for _, e := range s.Errors {
		got[e.Type] += e.Count
		total += e.Count
	}
	if total != s.Finished[durable.Failed] || total != uint64(2*len(types)) {
		t.Fatalf("errors add up to %d, finished %d", total, s.Finished[durable.Failed])
	}
	if got[errUnread] != 1 {
		t.Errorf("unread = %d, want 1 (the execution that answered 404): %v", got[errUnread], got)
	}
	distinct := 0
	for typ := range got {
		if !reservedErrorType(typ) {
			distinct++
		}
		if typ != cleanErrorType(typ) || len(typ) > maxErrorTypeLen || strings.ContainsAny(typ, "\x00\x1b") {
			t.Errorf("label value %q is not clean", typ)
		}
	}
	if distinct != 6 || got[errOther] == 0 {
		t.Errorf("%d distinct types and %d other, want 6 and some: %v", distinct, got[errOther], got)
	}

	// A failing read stops the round; the queue waits.
	f.errFail = errors.New("throttled")
	e := f.start(now, now)
	f.end(e, durable.TimedOut, now+10)
	now += interval.Milliseconds()
	pollFake(t, f, tr, now, 0)
	reads0 := f.errReads
	if _, _, err := tr.readErrors(context.Background(), f); err == nil || len(tr.pending) != 1 || f.errReads != reads0+1 {
		t.Fatalf("failing read: err %v, %d pending, %d reads", err, len(tr.pending), f.errReads-reads0)
	}
	f.errFail = nil
	if _, _, err := tr.readErrors(context.Background(), f); err != nil || len(tr.pending) != 0 {
		t.Fatalf("after recovery: err %v, %d pending", err, len(tr.pending))
	}

	// A full queue: the overflow counts as unread at once, never dropped.
	tr.pending = make([]pendingErr, maxPendingErrors)
	for i := range tr.pending {
		tr.pending[i] = pendingErr{arn: fmt.Sprint("x", i), status: durable.Failed}
	}
	before := tr.errCounts[errKey{durable.Stopped, errUnread}]
	e = f.start(now, now)
	f.end(e, durable.Stopped, now+10)
	now += interval.Milliseconds()
	pollFake(t, f, tr, now, 0)
	if tr.errCounts[errKey{durable.Stopped, errUnread}] != before+1 || len(tr.pending) != maxPendingErrors {
		t.Fatalf("overflow: unread %d, pending %d", tr.errCounts[errKey{durable.Stopped, errUnread}], len(tr.pending))
	}
}

// TestErrorReadsNeverDelayCounting: finished_total is published by the
// poll; the error counts follow in the error phase, which a reader that
// cannot keep up leaves for later rounds.
func TestErrorReadsNeverDelayCounting(t *testing.T) {
	f := newFakeAPI("orders", 5)
	tr := newTracker()
	tr.configure(durable.Known, time.Hour.Milliseconds(), 300_000, interval.Milliseconds())
	tr.setErrorBreakdown(true, 20)
	pollFake(t, f, tr, t0, 0)
	for i := range 50 {
		e := f.start(t0+int64(i), t0)
		f.end(e, durable.Failed, t0+500)
	}
	pollFake(t, f, tr, t0+60_000, 0)
	var s snapshot.Snapshot
	tr.fill(&s)
	if s.Finished[durable.Failed] != 50 || s.PendingErrors != 50 || len(s.Errors) != 0 {
		t.Fatalf("after the poll: finished %d, pending %d, errors %v", s.Finished[durable.Failed], s.PendingErrors, s.Errors)
	}
	// A round that ends early (its deadline) reads part of the queue.
	ctx, cancel := context.WithCancel(context.Background())
	r := &cancelAfter{fakeAPI: f, n: 20, cancel: cancel}
	reads, changed, _ := tr.readErrors(ctx, r)
	cancel()
	if reads != 20 || !changed || len(tr.pending) != 30 {
		t.Fatalf("partial round: %d reads, %d pending", reads, len(tr.pending))
	}
	if _, _, err := tr.readErrors(context.Background(), f); err != nil || len(tr.pending) != 0 {
		t.Fatalf("next round: %v, %d pending", err, len(tr.pending))
	}
}

// cancelAfter cancels its context after n reads.
type cancelAfter struct {
	*fakeAPI
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) ErrorOf(ctx context.Context, arn string) (e scrape.ExecutionError, err error) {
	e, err = c.fakeAPI.ErrorOf(ctx, arn)
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return e, err
}
