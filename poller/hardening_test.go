package poller

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

func newTestTracker(window time.Duration) *tracker {
	tr := newTracker()
	tr.configure(durable.Known, window.Milliseconds(), (5 * time.Minute).Milliseconds(), interval.Milliseconds())
	return tr
}

// TestStaleRunningAfterTombstoneNeverCountsTwice: a long runner ends and is
// counted; long after its tombstone expired (overlap + 3 intervals), lagging
// listings show it RUNNING again, once or for several polls. It is never
// counted a second time, and the gauges never show it running.
func TestStaleRunningAfterTombstoneNeverCountsTwice(t *testing.T) {
	for _, lag := range []time.Duration{30 * time.Minute, 6 * time.Hour, 20 * 24 * time.Hour} {
		for _, polls := range []int{1, 3} {
			t.Run(fmt.Sprintf("lag=%v,stalePolls=%d", lag, polls), func(t *testing.T) {
				f := newFakeAPI("orders", 11)
				tr := newTestTracker(time.Hour)
				e := f.start(t0-3*time.Hour.Milliseconds(), t0-3*time.Hour.Milliseconds())
				now := t0
				pollFake(t, f, tr, now, 0)
				f.end(e, durable.Succeeded, now+30_000)
				now += 60_000
				pollFake(t, f, tr, now, 0)
				if tr.finished[durable.Succeeded] != 1 {
					t.Fatalf("finished = %d after the long runner ended", tr.finished[durable.Succeeded])
				}
				// Far past the tombstone, in steps of a poll interval.
				for end := now + lag.Milliseconds(); now < end; now += max(60_000, lag.Milliseconds()/50) {
					pollFake(t, f, tr, now, 0)
				}
				f.stale[e] = true
				for i := 0; i < polls+2; i++ {
					if i == polls {
						delete(f.stale, e)
					}
					now += 60_000
					pollFake(t, f, tr, now, 0)
					where := fmt.Sprintf("poll %d after a stale sighting %v late", i+1, lag)
					if tr.finished[durable.Succeeded] != 1 || tr.durations[durable.Succeeded].Count != 1 {
						t.Fatalf("%s: finished = %d, histogram count %d; the execution was counted again",
							where, tr.finished[durable.Succeeded], tr.durations[durable.Succeeded].Count)
					}
					if len(tr.running) != 0 || tr.oldestRunning != 0 {
						t.Fatalf("%s: a terminal execution is tracked as running", where)
					}
				}
			})
		}
	}
}

// TestTransientNotFoundOnReadBack: a running execution that vanishes from
// the listings and whose read answers 404 a couple of times is retried on
// the next polls and counted when it shows; one that stays 404 is given up.
func TestTransientNotFoundOnReadBack(t *testing.T) {
	f := newFakeAPI("orders", 12)
	tr := newTestTracker(time.Hour)
	e := f.start(t0-3*time.Hour.Milliseconds(), t0-3*time.Hour.Milliseconds())
	gone := f.start(t0-3*time.Hour.Milliseconds(), t0-3*time.Hour.Milliseconds())
	now := t0
	pollFake(t, f, tr, now, 0)
	f.end(e, durable.Failed, now+10_000)
	f.notFound[e.arn] = 2
	// Deleted for good: every read is a 404.
	f.end(gone, durable.Stopped, now+10_000)
	f.notFound[gone.arn] = 1 << 30
	for i := 0; i < 3; i++ {
		now += 60_000
		pollFake(t, f, tr, now, 0)
	}
	if tr.finished[durable.Failed] != 1 {
		t.Fatalf("finished{status=FAILED} = %d after two transient 404s; want 1", tr.finished[durable.Failed])
	}
	for i := 0; i < maxNotFound+1; i++ {
		now += 60_000
		pollFake(t, f, tr, now, 0)
	}
	if len(tr.running) != 0 {
		t.Fatalf("%d executions still read back after %d polls of 404s", len(tr.running), maxNotFound+3)
	}
	if tr.invalid[durable.NotFound] != 1 {
		t.Fatalf("invalid{reason=not_found} = %d; want 1 (the one given up)", tr.invalid[durable.NotFound])
	}
	if tr.finished[durable.Stopped] != 0 {
		t.Fatal("an execution never read was counted")
	}
}

// TestStatusChangeAfterTerminalUpdatesGauges: the API shows an execution
// FAILED, later SUCCEEDED (a status it should never change, but did). The
// next listing that shows it brings the gauges to what the API says now,
// with a correction; the counters stay exactly once.
func TestStatusChangeAfterTerminalUpdatesGauges(t *testing.T) {
	for _, resync := range []time.Duration{0, 10 * time.Minute} {
		t.Run(fmt.Sprintf("resync=%v", resync), func(t *testing.T) {
			f := newFakeAPI("orders", 13)
			tr := newTestTracker(time.Hour)
			now := t0
			pollFake(t, f, tr, now, resync)
			e := f.start(now+1000, now+1000)
			f.end(e, durable.Failed, now+2000)
			now += 60_000
			pollFake(t, f, tr, now, resync)
			f.end(e, durable.Succeeded, now+2000)
			for i := 0; i < 11; i++ {
				now += 60_000
				pollFake(t, f, tr, now, resync)
			}
			if tr.inWindow[durable.Failed] != 0 || tr.inWindow[durable.Succeeded] != 1 {
				t.Fatalf("gauges FAILED=%d SUCCEEDED=%d; want what the API says now (0, 1)", tr.inWindow[durable.Failed], tr.inWindow[durable.Succeeded])
			}
			if tr.finished[durable.Failed] != 1 || tr.finished[durable.Succeeded] != 0 {
				t.Fatalf("finished FAILED=%d SUCCEEDED=%d; counters must stay as first counted (1, 0)", tr.finished[durable.Failed], tr.finished[durable.Succeeded])
			}
			if tr.corrections == 0 {
				t.Fatal("the status change was not counted as a correction")
			}
		})
	}
}

// TestUnknownTerminalStatusCountedOnce: an execution that takes a status this
// build does not know, with an EndTimestamp, has ended: it is counted once
// under UNKNOWN and no longer read back on every poll.
func TestUnknownTerminalStatusCountedOnce(t *testing.T) {
	for _, old := range []bool{false, true} {
		t.Run(fmt.Sprintf("longRunner=%v", old), func(t *testing.T) {
			f := newFakeAPI("orders", 14)
			tr := newTestTracker(time.Hour)
			at := t0 - 60_000
			if old {
				at = t0 - 3*time.Hour.Milliseconds()
			}
			e := f.start(at, at)
			now := t0
			pollFake(t, f, tr, now, 0)
			f.end(e, durable.Unknown, now+10_000) // e.g. a new "CANCELLED", with an end
			now += 60_000
			pollFake(t, f, tr, now, 0)
			gets := f.gets
			for i := 0; i < 10; i++ {
				now += 60_000
				pollFake(t, f, tr, now, 0)
			}
			if tr.finished[durable.Unknown] != 1 {
				t.Fatalf("finished{status=UNKNOWN} = %d; want 1", tr.finished[durable.Unknown])
			}
			if f.gets != gets {
				t.Fatalf("%d reads in 10 polls of an execution that has ended with an unknown status", f.gets-gets)
			}
			if tr.invalid[durable.UnknownStatus] != 1 {
				t.Fatalf("invalid{reason=unknown_status} = %d; want 1", tr.invalid[durable.UnknownStatus])
			}
		})
	}
}

// TestFutureStartClamped: a StartTimestamp in the future is counted as
// invalid and never makes the oldest running start later than now.
func TestFutureStartClamped(t *testing.T) {
	f := newFakeAPI("orders", 15)
	tr := newTestTracker(time.Hour)
	e := f.start(t0, t0)
	e.start = t0 + time.Hour.Milliseconds() // visible now, starting in an hour
	pollFake(t, f, tr, t0, 0)
	if tr.invalid[durable.FutureStart] != 1 {
		t.Fatalf("invalid{reason=future_start_timestamp} = %d; want 1", tr.invalid[durable.FutureStart])
	}
	if tr.oldestRunning > t0 {
		t.Fatalf("oldest running start %d is after now %d: a negative age", tr.oldestRunning, t0)
	}
	if tr.inWindow[durable.Running] != 1 {
		t.Fatalf("running = %d; the execution still runs", tr.inWindow[durable.Running])
	}
}

// TestEndBeforeStartObservedAsZero: an execution whose end is before its
// start is counted in finished_total and observed (as 0 s), so that the
// histogram's count always equals finished_total.
func TestEndBeforeStartObservedAsZero(t *testing.T) {
	f := newFakeAPI("orders", 16)
	tr := newTestTracker(time.Hour)
	pollFake(t, f, tr, t0, 0)
	e := f.start(t0+10_000, t0+10_000)
	f.end(e, durable.Failed, t0+5_000)
	pollFake(t, f, tr, t0+60_000, 0)
	h := tr.durations[durable.Failed]
	if tr.finished[durable.Failed] != 1 || h.Count != 1 || h.SumMillis != 0 || h.Counts[0] != 1 {
		t.Fatalf("finished %d, histogram %+v; want 1 and one observation of 0s", tr.finished[durable.Failed], h)
	}
	if tr.invalid[durable.EndBeforeStart] != 1 {
		t.Fatalf("invalid{reason=end_before_start} = %d; want 1", tr.invalid[durable.EndBeforeStart])
	}
}

// dupSource lists every execution of its fake n times: a page full of
// repeats.
type dupSource struct {
	*fakeAPI
	n int
}

func (d dupSource) List(ctx context.Context, q scrape.Query, visit func(scrape.Execution)) (int, error) {
	return d.fakeAPI.List(ctx, q, func(e scrape.Execution) {
		for range d.n {
			visit(e)
		}
	})
}

// TestInvalidLogBounded: a listing full of duplicates logs one summary line
// per reason and poll, not one line per copy.
func TestInvalidLogBounded(t *testing.T) {
	var buf bytes.Buffer
	m := NewManager(Options{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})), Clock: &clock{t: time.UnixMilli(t0)}})
	f := newFakeAPI("orders", 17)
	for i := range 500 {
		f.start(t0-int64(i)*1000, t0-int64(i)*1000)
	}
	f.now = t0
	tg := &target{spec: quietSpec("orders"), tracker: newTestTracker(time.Hour)}
	tg.publish(nil, time.Time{}, 0, false, snapshot.Requests{})
	m.pollOnce(context.Background(), tg, dupSource{f, 4}, Settings{Interval: time.Minute, Overlap: 5 * time.Minute,
		Pool: scrape.PoolOptions{PageSize: 1000, Limits: scrape.Limits{ListPerSecond: 10, GetPerSecond: 20}}})
	if !tg.snap.Load().PollSuccess {
		t.Fatal("the poll failed")
	}
	if got := tg.snap.Load().Invalid[durable.DuplicateInListing]; got != 500 {
		t.Fatalf("invalid{reason=duplicate_in_listing} = %d; want 500", got)
	}
	lines := strings.Count(buf.String(), "\n")
	if lines > 2 {
		t.Fatalf("%d log lines for one poll with 1500 duplicates; want one summary per reason:\n%.2000s", lines, buf.String())
	}
	if !strings.Contains(buf.String(), "count=500") {
		t.Fatalf("the summary does not say how many: %s", buf.String())
	}
}

// TestEndlessMarkersBounded: a listing whose pages never end (a new marker
// on every page) fails after a number of pages bounded by what the state
// knows the function holds, not after scrape.MaxPages; the limit doubles on
// each such failure, so a function that really grew is still listed.
func TestEndlessMarkersBounded(t *testing.T) {
	var endless atomic.Bool
	var n atomic.Int64
	env := newSimEnv(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		if r.Op != lambdasim.OpList || !endless.Load() {
			return nil
		}
		return &lambdasim.Fault{Body: fmt.Appendf(nil, `{"DurableExecutions":[],"NextMarker":"m-%d"}`, n.Add(1))}
	}}, 100)
	env.sim.AddFunction("orders", []string{"$LATEST"}, nil)
	for i := range 20 {
		env.sim.Start("orders", "$LATEST", fmt.Sprintf("run-%d", i), env.clock.Now().Add(-time.Minute))
	}
	s := Settings{Interval: time.Minute, Overlap: 5 * time.Minute, Pool: scrape.PoolOptions{PageSize: 100,
		Limits: scrape.Limits{ListPerSecond: 1e6, GetPerSecond: 1e6}}}
	st := env.target(Spec{Target: snapshot.Target{Function: "orders", Region: "us-east-1"}, APIName: "orders", Window: time.Hour}, "", s)
	if !st.poll(t).PollSuccess {
		t.Fatal("the first poll failed")
	}
	endless.Store(true)
	for i, want := range []int{minPageLimit, 2 * minPageLimit, 4 * minPageLimit} {
		before := env.sim.Requests()[lambdasim.OpList]
		env.clock.Add(time.Minute)
		if st.poll(t).PollSuccess {
			t.Fatalf("poll %d: a listing that never ends succeeded", i)
		}
		if got := env.sim.Requests()[lambdasim.OpList] - before; got != want {
			t.Fatalf("poll %d: %d list requests before giving up; want the limit, %d", i, got, want)
		}
	}
	endless.Store(false)
	env.clock.Add(time.Minute)
	if sn := st.poll(t); !sn.PollSuccess || sn.InWindow[durable.Running] != 20 {
		t.Fatalf("after the fault: success %v, running %d", sn.PollSuccess, sn.InWindow[durable.Running])
	}
}

// TestDeletedFunctionWithdrawsGauges: while the API answers 404 for a
// function's listing (it was deleted), its snapshot says so, so that its
// status gauges are withdrawn instead of showing the last numbers forever;
// the counters stay, and the gauges return if the function does.
func TestDeletedFunctionWithdrawsGauges(t *testing.T) {
	var deleted atomic.Bool
	env := newSimEnv(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		if r.Op == lambdasim.OpList && deleted.Load() {
			return &lambdasim.Fault{Status: 404}
		}
		return nil
	}}, 100)
	env.sim.AddFunction("orders", []string{"$LATEST"}, nil)
	env.sim.Start("orders", "$LATEST", "run", env.clock.Now().Add(-time.Minute))
	s := Settings{Interval: time.Minute, Overlap: 5 * time.Minute, Pool: scrape.PoolOptions{PageSize: 100,
		Limits: scrape.Limits{ListPerSecond: 1e6, GetPerSecond: 1e6}}}
	st := env.target(Spec{Target: snapshot.Target{Function: "orders", Region: "us-east-1"}, APIName: "orders", Window: time.Hour}, "", s)
	if sn := st.poll(t); !sn.PollSuccess || sn.Gone {
		t.Fatalf("first poll: success %v, gone %v", sn.PollSuccess, sn.Gone)
	}
	deleted.Store(true)
	env.clock.Add(time.Minute)
	if sn := st.poll(t); sn.PollSuccess || !sn.Gone || !sn.Primed {
		t.Fatalf("after the delete: success %v, gone %v, primed %v; want a failed poll of a gone function", sn.PollSuccess, sn.Gone, sn.Primed)
	}
	deleted.Store(false)
	env.clock.Add(time.Minute)
	if sn := st.poll(t); !sn.PollSuccess || sn.Gone || sn.InWindow[durable.Running] != 1 {
		t.Fatalf("back again: success %v, gone %v, running %d", sn.PollSuccess, sn.Gone, sn.InWindow[durable.Running])
	}
}
