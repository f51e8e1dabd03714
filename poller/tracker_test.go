package poller

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

type scenario struct {
	seed       uint64
	steps      int
	window     time.Duration
	overlap    time.Duration
	resync     time.Duration // 0 = never after the first poll
	statuses   []durable.Status
	maxVisLag  time.Duration // visibility delay of new executions
	failEvery  int           // every n-th poll is skipped (a failed poll changes nothing)
	everyPoll  func(t *testing.T, step int, f *fakeAPI, tr *tracker, now int64, req [2]uint64, full bool)
	allowDrift bool // visibility lag may exceed the overlap: only resyncs are exact
}

const (
	t0       = int64(1_764_000_000_000) // ms
	interval = time.Minute
)

var terminals = durable.Terminals

// run drives a random workload against the tracker and checks it against a
// brute-force recount after every poll that the scenario says must be exact.
func (sc scenario) run(t *testing.T) (*fakeAPI, *tracker) {
	t.Helper()
	rng := rand.New(rand.NewPCG(sc.seed, 99))
	f := newFakeAPI("orders", sc.seed)
	now := t0
	// History: executions started up to three windows (and some long runners
	// days) before the exporter starts; some still run.
	for i := 0; i < 400; i++ {
		start := now - rng.Int64N(3*sc.window.Milliseconds()+int64(72*time.Hour/time.Millisecond))
		e := f.start(start, start)
		dur := randDuration(rng)
		if start+dur < now {
			f.end(e, terminals[rng.IntN(len(terminals))], start+dur)
		}
	}
	tr := newTracker()
	baseline := int64(0)
	tr.configure(statusesOrAll(sc.statuses), sc.window.Milliseconds(), sc.overlap.Milliseconds(), interval.Milliseconds())
	spec := &Spec{Target: snapshot.Target{Function: "orders"}, APIName: "orders"}
	c := costs{pageSize: 1000, listRate: 10, getRate: 20}

	for step := 0; step < sc.steps; step++ {
		prev := now
		now += interval.Milliseconds() + rng.Int64N(5000) - 2500
		// Starts between the two polls, some visible only later.
		for n := rng.IntN(6); n > 0; n-- {
			at := prev + 1 + rng.Int64N(now-prev-1)
			vis := at
			if sc.maxVisLag > 0 && rng.IntN(3) == 0 {
				vis += rng.Int64N(sc.maxVisLag.Milliseconds())
			}
			e := f.start(at, vis)
			// Some start and end between two polls.
			if rng.IntN(3) == 0 {
				end := at + rng.Int64N(now-at+1)
				f.end(e, terminals[rng.IntN(len(terminals))], end)
			}
		}
		// Ends of running executions, long runners included.
		for _, e := range f.execs {
			if e.status == durable.Running && e.start < prev && rng.IntN(12) == 0 {
				f.end(e, terminals[rng.IntN(len(terminals))], prev+1+rng.Int64N(now-prev))
			}
		}
		f.now = now
		if sc.failEvery > 0 && step%sc.failEvery == sc.failEvery-1 {
			continue
		}
		full := tr.wantFull(now, sc.resync.Milliseconds())
		lists, gets := f.lists, f.gets
		b, req, err := gather(context.Background(), f, tr, spec, time.UnixMilli(now), full, c)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		tr.apply(b, now)
		if baseline == 0 {
			baseline = now
		}
		if req[durable.OpList] != uint64(f.lists-lists) || req[durable.OpGet] != uint64(f.gets-gets) {
			t.Fatalf("step %d: poll counted %v requests, the API served %d lists and %d gets", step, req, f.lists-lists, f.gets-gets)
		}
		if !sc.allowDrift || full {
			compare(t, fmt.Sprintf("seed %d step %d full=%v", sc.seed, step, full), tr, f.truth(now, baseline, sc.window), sc.statuses)
		}
		if sc.everyPoll != nil {
			sc.everyPoll(t, step, f, tr, now, req, full)
		}
	}
	return f, tr
}

// randDuration is heavy-tailed: seconds to days.
func randDuration(rng *rand.Rand) int64 {
	switch rng.IntN(4) {
	case 0:
		return 1000 + rng.Int64N(60_000)
	case 1:
		return rng.Int64N(int64(time.Hour / time.Millisecond))
	case 2:
		return rng.Int64N(int64(12 * time.Hour / time.Millisecond))
	default:
		return rng.Int64N(int64(5 * 24 * time.Hour / time.Millisecond))
	}
}

func compare(t *testing.T, where string, tr *tracker, want truth, statuses []durable.Status) {
	t.Helper()
	for _, s := range statusesOrAll(statuses) {
		if tr.inWindow[s] != want.inWindow[s] {
			t.Fatalf("%s: executions{status=%s} = %d, a full recount gives %d", where, s, tr.inWindow[s], want.inWindow[s])
		}
		if !s.Terminal() {
			continue
		}
		if tr.finished[s] != want.finished[s] {
			t.Fatalf("%s: finished_total{status=%s} = %d, want %d", where, s, tr.finished[s], want.finished[s])
		}
		if tr.durations[s] != want.durations[s] {
			t.Fatalf("%s: duration histogram{status=%s} = %+v, want %+v", where, s, tr.durations[s], want.durations[s])
		}
	}
	if len(statuses) == 0 && tr.finished[durable.Unknown] != want.finished[durable.Unknown] {
		t.Fatalf("%s: finished_total{status=UNKNOWN} = %d, want %d", where, tr.finished[durable.Unknown], want.finished[durable.Unknown])
	}
	exportsRunning := len(statuses) == 0
	for _, s := range statuses {
		exportsRunning = exportsRunning || s == durable.Running
	}
	if exportsRunning && tr.oldestRunning != want.oldest {
		t.Fatalf("%s: oldest running start = %d, want %d", where, tr.oldestRunning, want.oldest)
	}
}

// TestTrackerMatchesBruteForce is the property test: random starts, ends,
// late visibility within the overlap, failed polls and periodic resyncs;
// after every poll each number equals a brute-force recount, and a resync
// never has anything to correct.
func TestTrackerMatchesBruteForce(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		sc := scenario{
			seed: seed, steps: 150, window: 6 * time.Hour, overlap: 5 * time.Minute,
			resync: time.Duration(seed%3) * 20 * time.Minute, maxVisLag: 4 * time.Minute,
			failEvery: int(seed%5) * int(min(seed%5, 1)) * 2, // 0, or every 2nd..8th poll fails
		}
		if seed%4 == 0 {
			sc.statuses = []durable.Status{durable.Failed, durable.TimedOut}
		}
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			_, tr := sc.run(t)
			if tr.corrections != 0 {
				t.Errorf("resyncs made %d corrections; the incremental polls should have left nothing to correct", tr.corrections)
			}
		})
	}
}

// TestResyncRepairsDrift makes executions visible much later than the
// overlap: incremental polls miss them, and the next full re-listing finds
// them, counts them once and reports the corrections.
func TestResyncRepairsDrift(t *testing.T) {
	sc := scenario{
		seed: 7, steps: 120, window: 6 * time.Hour, overlap: time.Minute,
		resync: 30 * time.Minute, maxVisLag: 20 * time.Minute, allowDrift: true,
	}
	_, tr := sc.run(t)
	if tr.corrections == 0 {
		t.Fatal("visibility lag beyond the overlap should have needed corrections")
	}
}

// TestRestartDoesNotBurst: executions that ended before the exporter started
// are not counted, those that end after are, once.
func TestRestartDoesNotBurst(t *testing.T) {
	f := newFakeAPI("orders", 1)
	old := f.start(t0-3_600_000, t0-3_600_000)
	f.end(old, durable.Failed, t0-60_000)
	run := f.start(t0-120_000, t0-120_000)
	f.now = t0
	tr := newTracker()
	tr.configure(durable.Known, int64(24*time.Hour/time.Millisecond), 300_000, 60_000)
	poll := func(now int64) { pollFake(t, f, tr, now, 0) }
	poll(t0)
	if tr.finished[durable.Failed] != 0 || tr.inWindow[durable.Failed] != 1 || tr.inWindow[durable.Running] != 1 {
		t.Fatalf("after the first poll: finished=%v inWindow=%v", tr.finished, tr.inWindow)
	}
	f.end(run, durable.Failed, t0+30_000)
	poll(t0 + 60_000)
	poll(t0 + 120_000)
	if tr.finished[durable.Failed] != 1 || tr.durations[durable.Failed].SumMillis != 150_000 {
		t.Fatalf("finished=%v durations=%+v, want one FAILED of 150s", tr.finished, tr.durations[durable.Failed])
	}
	if tr.inWindow[durable.Failed] != 2 || tr.inWindow[durable.Running] != 0 {
		t.Fatalf("inWindow=%v", tr.inWindow)
	}
}

// TestManyEndedTogetherUseOneRangeListing: when many running executions in
// the window end at once, one listing of their start range is cheaper than
// a Get each; the numbers stay exact either way.
func TestManyEndedTogetherUseOneRangeListing(t *testing.T) {
	f := newFakeAPI("orders", 3)
	var batch []*fakeExec
	for i := 0; i < 300; i++ {
		at := t0 - 3_600_000 + int64(i)*1000 // within the last hour, before the overlap
		e := f.start(at, at)
		if i%3 == 0 {
			batch = append(batch, e)
		} else {
			f.end(e, durable.Succeeded, at+500)
		}
	}
	tr := newTracker()
	tr.configure(durable.Known, int64(24*time.Hour/time.Millisecond), 300_000, 60_000)
	poll := func(now int64) [2]uint64 { req, _ := pollFake(t, f, tr, now, 0); return req }
	poll(t0)
	for i, e := range batch {
		f.end(e, terminals[i%4], t0+30_000)
	}
	req := poll(t0 + 60_000)
	if req[durable.OpGet] != 0 || req[durable.OpList] != 3 {
		t.Fatalf("requests %v: 100 ended executions should cost one range listing (3 lists in all), no gets", req)
	}
	compare(t, "after the batch ended", tr, f.truth(t0+60_000, t0, 24*time.Hour), nil)

	// Two ended: two gets are cheaper than a listing. They started before
	// what the next new-starts listing covers, so only the gets see them.
	a, b := f.start(t0+61_000, t0+61_000), f.start(t0+62_000, t0+62_000)
	poll(t0 + 120_000)
	poll(t0 + 500_000)
	f.end(a, durable.Failed, t0+510_000)
	f.end(b, durable.Stopped, t0+511_000)
	req = poll(t0 + 560_000)
	if req[durable.OpGet] != 2 || req[durable.OpList] != 2 {
		t.Fatalf("requests %v: two ended executions should cost two gets beside the two listings", req)
	}
	if tr.finished[durable.Failed] != 26 || tr.finished[durable.Stopped] != 26 {
		t.Fatalf("finished %v", tr.finished)
	}
	compare(t, "after two ended", tr, f.truth(t0+560_000, t0, 24*time.Hour), nil)
}

// TestConfiguredBuckets: with configured bounds the histogram counts into
// them; changing them starts the histograms afresh, not the counters.
func TestConfiguredBuckets(t *testing.T) {
	f := newFakeAPI("orders", 5)
	tr := newTracker()
	tr.configure(durable.Known, int64(24*time.Hour/time.Millisecond), 300_000, 60_000)
	tr.setBuckets([]float64{60, 3600})
	poll := func(now int64) { pollFake(t, f, tr, now, 0) }
	poll(t0)
	for i, d := range []int64{30_000, 600_000, 7_200_000} { // 30s, 10m, 2h
		e := f.start(t0+1000+int64(i), t0+1000+int64(i))
		f.end(e, durable.Succeeded, e.start+d)
	}
	poll(t0 + 8_000_000)
	h := tr.durations[durable.Succeeded]
	if h.Counts[0] != 1 || h.Counts[1] != 2 || h.Count != 3 || h.Counts[2] != 0 {
		t.Fatalf("histogram with bounds 60s, 1h: %+v", h)
	}
	var s snapshot.Snapshot
	tr.fill(&s)
	if len(s.Buckets) != 2 || s.Buckets[1] != 3600 {
		t.Fatalf("snapshot buckets %v", s.Buckets)
	}
	tr.setBuckets(nil)
	if tr.durations[durable.Succeeded].Count != 0 || tr.finished[durable.Succeeded] != 3 {
		t.Fatalf("after a bucket change: histogram %+v, finished %v", tr.durations[durable.Succeeded], tr.finished)
	}
}

// TestReadsBeforeRangeListings: list requests are the account-region's
// scarce budget, so vanished executions are read one by one while the reads
// fit in a quarter of the interval at the read budget (60s and 20/s: 300
// reads), and their start range is listed only beyond that. Exact either
// way.
func TestReadsBeforeRangeListings(t *testing.T) {
	for _, tc := range []struct {
		ended       int
		lists, gets uint64
	}{
		{ended: 200, lists: 2, gets: 200},
		{ended: 400, lists: 3, gets: 0}, // 400 reads: 20s at 20/s, more than 15s
	} {
		t.Run(fmt.Sprint(tc.ended, " ended"), func(t *testing.T) {
			f := newFakeAPI("orders", 3)
			var running []*fakeExec
			for i := range tc.ended {
				at := t0 - 3_600_000 + int64(i)*1000 // within the window, before the overlap
				running = append(running, f.start(at, at))
			}
			tr := newTracker()
			tr.configure(durable.Known, int64(24*time.Hour/time.Millisecond), 300_000, 60_000)
			c := costs{pageSize: 1000, listRate: 10, getRate: 20, interval: time.Minute}
			poll := func(now int64) snapshot.Requests {
				f.now = now
				full := tr.wantFull(now, 0)
				b, req, err := gather(context.Background(), f, tr, &Spec{Target: snapshot.Target{Function: "orders"}, APIName: "orders"},
					time.UnixMilli(now), full, c)
				if err != nil {
					t.Fatal(err)
				}
				tr.apply(b, now)
				return req
			}
			poll(t0)
			for i, e := range running {
				f.end(e, terminals[i%4], t0+30_000)
			}
			req := poll(t0 + 60_000)
			if req[durable.OpList] != tc.lists || req[durable.OpGet] != tc.gets {
				t.Fatalf("%d ended: %d lists and %d gets, want %d and %d", tc.ended, req[durable.OpList], req[durable.OpGet], tc.lists, tc.gets)
			}
			compare(t, "after they ended", tr, f.truth(t0+60_000, t0, 24*time.Hour), nil)
		})
	}
}
