package poller

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// Fault injection over HTTP: throttle storms, outages right after executions
// end, offset-style markers that repeat and skip items, latency and poll
// deadlines, truncated and malformed bodies, odd items, one function failing
// beside a healthy one, and all of it at once. Faults come from the
// simulator's Intercept, on a schedule driven by a seeded RNG. Every poll
// that fails must change nothing (the tracker and every published number stay
// as they were); after the faults stop the next successful poll equals the
// simulator's ground truth exactly and stays equal: no finished execution is
// lost and none is counted twice.

// faultRule decides the fault, if any, for one request. It runs under the
// injector's lock with the injector's RNG.
type faultRule func(r lambdasim.Request, rng *rand.Rand) *lambdasim.Fault

// injector is the Intercept of a simulated API: a replaceable rule, a seeded
// RNG and counts of what it did.
type injector struct {
	mu      sync.Mutex
	rng     *rand.Rand
	rule    faultRule
	faults  int             // faults injected since the last reset
	byKind  map[string]int  // faults by kind, for the test's own sanity checks
	mutated map[string]bool // functions changed from inside Intercept during the current poll
	// fresh holds executions inserted from inside Intercept with an old
	// start, which only the RUNNING listing can show: they may not end
	// before a poll that no insert disturbed has seen them, or nothing could
	// (that would be a visibility lag beyond the overlap). Values are the
	// generation (step) of the insert.
	fresh map[string]freshRec
	gen   int
}

type freshRec struct {
	function string
	gen      int
}

func newInjector(seed uint64) *injector {
	return &injector{
		rng: rand.New(rand.NewPCG(seed, seed^0xfa17)), byKind: map[string]int{}, mutated: map[string]bool{},
		fresh: map[string]freshRec{},
	}
}

func (in *injector) intercept(r lambdasim.Request) *lambdasim.Fault {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.rule == nil {
		return nil
	}
	f := in.rule(r, in.rng)
	if f != nil {
		in.faults++
		in.byKind[faultKind(f)]++
	}
	return f
}

func (in *injector) set(rule faultRule) {
	in.mu.Lock()
	in.rule = rule
	in.mu.Unlock()
}

// take returns and resets the count of injected faults and the functions
// mutated since the last call.
func (in *injector) take() (int, map[string]bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	n, m := in.faults, in.mutated
	in.faults, in.mutated = 0, map[string]bool{}
	return n, m
}

// mutate records, from inside a rule, that fn changed during this poll;
// an ARN is protected from the workload until a later poll has seen it.
func (in *injector) mutate(fn, freshARN string) {
	in.mutated[fn] = true
	if freshARN != "" {
		in.fresh[freshARN] = freshRec{fn, in.gen}
	}
}

// nextGen starts a step.
func (in *injector) nextGen() {
	in.mu.Lock()
	in.gen++
	in.mu.Unlock()
}

// seen releases fn's protected executions inserted before this step: a
// successful poll that nothing disturbed has listed them.
func (in *injector) seen(fn string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for arn, r := range in.fresh {
		if r.function == fn && r.gen < in.gen {
			delete(in.fresh, arn)
		}
	}
}

// protect keeps arn running until the test ends it.
func (in *injector) protect(fn, arn string) {
	in.mu.Lock()
	in.fresh[arn] = freshRec{fn, math.MaxInt}
	in.mu.Unlock()
}

func (in *injector) protected() map[string]bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[string]bool, len(in.fresh))
	for arn := range in.fresh {
		out[arn] = true
	}
	return out
}

func (in *injector) kinds() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return maps.Clone(in.byKind)
}

func faultKind(f *lambdasim.Fault) string {
	switch {
	case f.Reset:
		return "reset"
	case f.Status != 0:
		return strconv.Itoa(f.Status)
	case f.Body != nil:
		return "body"
	case f.Truncate:
		return "truncate"
	case f.Delay > 0:
		return "delay"
	}
	return "none"
}

// Rules.

func throttled(rng *rand.Rand) *lambdasim.Fault {
	ra := "0"
	if rng.IntN(4) == 0 {
		ra = "0.002" // a tiny pause of the account's gate
	}
	return &lambdasim.Fault{Status: http.StatusTooManyRequests, RetryAfter: ra}
}

func serviceError(*rand.Rand) *lambdasim.Fault {
	return &lambdasim.Fault{Status: http.StatusInternalServerError}
}

// reset closes the connection; every request gets it, Go's own transparent
// retry of the GET included.
func reset(*rand.Rand) *lambdasim.Fault { return &lambdasim.Fault{Reset: true} }

func randomly(p float64, f func(*rand.Rand) *lambdasim.Fault) faultRule {
	return func(_ lambdasim.Request, rng *rand.Rand) *lambdasim.Fault {
		if rng.Float64() < p {
			return f(rng)
		}
		return nil
	}
}

func always(f func(*rand.Rand) *lambdasim.Fault) faultRule { return randomly(2, f) }

// firstOf returns the first fault any rule gives.
func firstOf(rules ...faultRule) faultRule {
	return func(r lambdasim.Request, rng *rand.Rand) *lambdasim.Fault {
		for _, rule := range rules {
			if rule == nil {
				continue
			}
			if f := rule(r, rng); f != nil {
				return f
			}
		}
		return nil
	}
}

// faultEnv is a simulated API with an injector, some functions with
// history, and one all-versions target per function.
type faultEnv struct {
	*simEnv
	inj     *injector
	rng     *rand.Rand // the workload's
	fns     []string
	targets []*simTarget
}

const faultPage = 50

func faultSettings(pageSize int) Settings {
	return Settings{Interval: time.Minute, Overlap: 5 * time.Minute, Resync: 30 * time.Minute, Pool: scrape.PoolOptions{PageSize: pageSize, Limits: scrape.Limits{ListPerSecond: 1000, GetPerSecond: 1000}}}
}

func newFaultEnv(t *testing.T, seed uint64, o lambdasim.Options, pageSize int, fns []string, hist int) *faultEnv {
	t.Helper()
	inj := newInjector(seed)
	o.Intercept = inj.intercept
	env := newSimEnv(t, o, pageSize)
	fe := &faultEnv{simEnv: env, inj: inj, rng: rand.New(rand.NewPCG(seed, 7)), fns: fns}
	for _, fn := range fns {
		env.sim.AddFunction(fn, []string{"$LATEST", "1", "2"}, nil)
		history(fe.rng, env.sim, env.clock.Now(), fn, hist)
		fe.targets = append(fe.targets, env.target(Spec{
			Target: snapshot.Target{Function: fn, Region: "us-east-1"}, APIName: fn, Window: 24 * time.Hour,
		}, "", faultSettings(pageSize)))
	}
	return fe
}

// advance moves the clock one interval on and runs the workload.
func (fe *faultEnv) advance(starts int) {
	fe.clock.Add(time.Minute)
	faultWorkload(fe.rng, fe.sim, fe.clock.Now(), fe.fns, starts, fe.inj.protected())
}

// faultWorkload is workload that leaves the executions in fresh running.
func faultWorkload(rng *rand.Rand, sim *lambdasim.Server, now time.Time, functions []string, starts int, fresh map[string]bool) {
	if len(fresh) == 0 {
		workload(rng, sim, now, functions, starts)
		return
	}
	terms := []string{lambdasim.StatusSucceeded, lambdasim.StatusFailed, lambdasim.StatusTimedOut, lambdasim.StatusStopped}
	for _, fn := range functions {
		for i := 0; i < starts; i++ {
			at := now.Add(-time.Duration(rng.Int64N(int64(59 * time.Second))))
			arn := sim.Start(fn, []string{"$LATEST", "1", "2"}[rng.IntN(3)], fmt.Sprintf("run-%d", rng.Int64()), at)
			if rng.IntN(3) == 0 {
				_ = sim.End(arn, terms[rng.IntN(4)], at.Add(time.Duration(rng.Int64N(int64(now.Sub(at))+1))))
			}
		}
		for _, e := range sim.Executions(fn) {
			if e.Status == lambdasim.StatusRunning && !fresh[e.ARN] && e.Start.Before(now.Add(-time.Minute)) && rng.IntN(10) == 0 {
				_ = sim.End(e.ARN, terms[rng.IntN(4)], now.Add(-time.Duration(rng.Int64N(int64(50*time.Second)))))
			}
		}
	}
}

// endRunning ends about frac of the running executions of fn (long runners
// and recent ones alike) within the last 50 seconds; it returns how many.
func endRunning(rng *rand.Rand, sim *lambdasim.Server, now time.Time, fn string, frac float64, fresh map[string]bool) int {
	terms := []string{lambdasim.StatusSucceeded, lambdasim.StatusFailed, lambdasim.StatusTimedOut, lambdasim.StatusStopped}
	n := 0
	for _, e := range sim.Executions(fn) {
		if e.Status != lambdasim.StatusRunning || fresh[e.ARN] || rng.Float64() >= frac {
			continue
		}
		at := now.Add(-time.Duration(rng.Int64N(int64(50 * time.Second))))
		if at.Before(e.Start) {
			at = e.Start
		}
		if sim.End(e.ARN, terms[rng.IntN(4)], at) == nil {
			n++
		}
	}
	return n
}

// trackerCopy is a deep copy of a tracker's state.
func trackerCopy(tr *tracker) tracker {
	c := *tr
	c.running = maps.Clone(tr.running)
	c.done = maps.Clone(tr.done)
	c.tomb = maps.Clone(tr.tomb)
	c.flagged = maps.Clone(tr.flagged)
	c.vers = slices.Clone(tr.vers)
	c.verIdx = maps.Clone(tr.verIdx)
	c.errCounts = maps.Clone(tr.errCounts)
	c.errSince = maps.Clone(tr.errSince)
	c.pending = slices.Clone(tr.pending)
	return c
}

// kept is a target's state before a poll.
type kept struct {
	snap snapshot.Snapshot
	tr   tracker
}

func keep(st *simTarget) kept { return kept{*st.t.snap.Load(), trackerCopy(st.t.tracker)} }

// verify checks that a failed poll changed nothing: the tracker is as it
// was, and the snapshot keeps every number of the previous one (only the
// poll's own success, duration and overruns differ).
func (k *kept) verify(t *testing.T, st *simTarget, where string, s *snapshot.Snapshot) {
	t.Helper()
	if s.PollSuccess {
		return
	}
	if tr := trackerCopy(st.t.tracker); !reflect.DeepEqual(tr, k.tr) {
		t.Fatalf("%s: %s: a failed poll changed the tracker", where, st.t.spec.Function)
	}
	want := k.snap
	// Gone may change too: a 404 on the listing withdraws the gauges.
	want.PollSuccess, want.PollDuration, want.Overruns, want.Gone = false, s.PollDuration, s.Overruns, s.Gone
	if !reflect.DeepEqual(*s, want) {
		t.Fatalf("%s: %s: a failed poll changed the published numbers:\n got %+v\nwant %+v", where, st.t.spec.Function, *s, want)
	}
}

// pollKept polls st once; a failed poll must change nothing.
func pollKept(t *testing.T, st *simTarget, where string) *snapshot.Snapshot {
	t.Helper()
	k := keep(st)
	s := st.poll(t)
	k.verify(t, st, where, s)
	return s
}

// exact checks s against the truth and stops the test at the first mismatch.
func exact(t *testing.T, st *simTarget, where string, s *snapshot.Snapshot) {
	t.Helper()
	st.check(t, where, s)
	if t.Failed() {
		t.FailNow()
	}
}

// polled is the outcome of one target's poll in a step.
type polled struct {
	*snapshot.Snapshot
	faults    int  // faults injected during the poll
	disturbed bool // Intercept changed the target's function during the poll
	took      time.Duration
}

// pollStep polls every target once, in order. A failed poll must change
// nothing (pollKept); a successful one is checked exactly unless Intercept
// changed the target's function while it was listing (then only a later
// poll can be exact).
func (fe *faultEnv) pollStep(t *testing.T, where string) []polled {
	t.Helper()
	fe.inj.nextGen()
	out := make([]polled, len(fe.targets))
	clean := map[string]bool{} // every target of the function polled undisturbed
	for i, st := range fe.targets {
		fn := st.t.spec.Function
		fe.inj.take()
		start := time.Now()
		s := pollKept(t, st, where)
		took := time.Since(start)
		n, mutated := fe.inj.take()
		out[i] = polled{s, n, mutated[fn], took}
		ok := s.PollSuccess && !mutated[fn]
		if ok {
			exact(t, st, where, s)
		}
		if c, seen := clean[fn]; !seen || c {
			clean[fn] = ok
		}
	}
	for fn, ok := range clean {
		if ok {
			fe.inj.seen(fn)
		}
	}
	return out
}

// settle runs n quiet polls (no faults; the workload goes on between them)
// and checks every one of them exactly.
func (fe *faultEnv) settle(t *testing.T, n int, what string) {
	t.Helper()
	fe.inj.set(nil)
	for i := 0; i < n; i++ {
		for j, p := range fe.pollStep(t, fmt.Sprintf("%s, quiet poll %d", what, i)) {
			if !p.PollSuccess {
				t.Fatalf("%s, quiet poll %d: %s failed", what, i, fe.targets[j].t.spec.Function)
			}
		}
		fe.advance(6)
	}
}

// a. Throttle storm: a fifth of all requests is answered 429 (Retry-After 0
// or a few ms) for the whole run, and for four polls everything is. Polls
// that get through (the retryer absorbs most throttles) are exact; polls in
// the burst fail and change nothing; afterwards every poll is exact.
func TestFaultThrottleStorm(t *testing.T) {
	fe := newFaultEnv(t, 11, lambdasim.Options{}, faultPage, []string{"orders", "billing"}, 1200)
	failed := 0
	for step := 0; step < 30; step++ {
		burst := step >= 12 && step < 16
		if burst {
			fe.inj.set(always(throttled))
		} else {
			fe.inj.set(randomly(0.2, throttled))
		}
		for i, p := range fe.pollStep(t, fmt.Sprintf("step %d", step)) {
			if burst && p.PollSuccess {
				t.Fatalf("step %d: %s: poll succeeded although every request was throttled", step, fe.targets[i].t.spec.Function)
			}
			if !p.PollSuccess {
				failed++
			}
		}
		fe.advance(8)
	}
	if k := fe.inj.kinds(); k["429"] < 100 {
		t.Fatalf("only %d throttles injected", k["429"])
	}
	if failed < 8 {
		t.Fatalf("%d polls failed; the burst alone should fail 8", failed)
	}
	fe.settle(t, 3, "after the storm")
}

// b. Outage right after executions end: most running executions (long
// runners from two days ago and recent ones) end, then every request fails
// with 500 ServiceException or a connection reset (Go's transparent retry
// reset too) for several polls, with the workload going on; then one more
// outage hitting only the read-backs of ended executions, and one hitting
// only pages after the first. After each the next poll is exact.
func TestFaultOutageAfterEnds(t *testing.T) {
	fe := newFaultEnv(t, 12, lambdasim.Options{}, faultPage, []string{"orders", "billing"}, 1500)
	phases := []struct {
		name string
		rule faultRule
	}{
		{"reset on every page after the first", func(r lambdasim.Request, rng *rand.Rand) *lambdasim.Fault {
			if r.Query.Get("Marker") != "" {
				return reset(rng)
			}
			return nil
		}},
		{"500 on every request", always(serviceError)},
		{"reset on every request", always(reset)},
		{"500 or reset on every request", always(func(rng *rand.Rand) *lambdasim.Fault {
			if rng.IntN(2) == 0 {
				return serviceError(rng)
			}
			return reset(rng)
		})},
		{"500 on every read-back (Get or range listing)", func(r lambdasim.Request, rng *rand.Rand) *lambdasim.Fault {
			if r.Op == lambdasim.OpGet || r.Query.Get("StartedBefore") != "" {
				return serviceError(rng)
			}
			return nil
		}},
	}
	fe.settle(t, 3, "warm-up")
	for _, ph := range phases {
		ended := 0
		for _, fn := range fe.fns {
			ended += endRunning(fe.rng, fe.sim, fe.clock.Now(), fn, 0.6, nil)
		}
		if ended < 20 {
			t.Fatalf("%s: only %d executions ended", ph.name, ended)
		}
		fe.inj.set(ph.rule)
		failed := map[string]int{}
		for i := 0; i < 4; i++ {
			where := fmt.Sprintf("%s, poll %d", ph.name, i)
			for j, p := range fe.pollStep(t, where) {
				fn := fe.targets[j].t.spec.Function
				// Every request the rule matches fails, retries included:
				// a poll that met the rule at all must fail. (A resync
				// lists every recent execution and may need no read-back.)
				if p.faults > 0 && p.PollSuccess {
					t.Fatalf("%s: %s: poll succeeded despite %d injected faults", where, fn, p.faults)
				}
				if !p.PollSuccess {
					failed[fn]++
				}
			}
			fe.advance(8)
		}
		for _, fn := range fe.fns {
			if failed[fn] == 0 {
				t.Fatalf("%s: no poll of %s failed", ph.name, fn)
			}
		}
		fe.settle(t, 2, "after "+ph.name)
	}
	if k := fe.inj.kinds(); k["500"] == 0 || k["reset"] == 0 {
		t.Fatalf("faults injected: %v", k)
	}
}

// offsetInserts changes a function while it is being listed, on the request
// for a listing's second page: it starts executions (recent ones, some of
// them already ended, and RUNNING ones with an old start) and ends running
// ones. With offset markers the items then shift between pages: an insert
// ahead of the offset repeats an item on the next page, an end in a RUNNING
// listing skips one.
func offsetInserts(fe *faultEnv, pageSize int, p float64) faultRule {
	page2 := strconv.Itoa(pageSize)
	seq := 0
	terms := []string{lambdasim.StatusSucceeded, lambdasim.StatusFailed, lambdasim.StatusTimedOut, lambdasim.StatusStopped}
	return func(r lambdasim.Request, rng *rand.Rand) *lambdasim.Fault {
		if r.Op != lambdasim.OpList || r.Query.Get("Marker") != page2 || rng.Float64() >= p {
			return nil
		}
		now := fe.clock.Now()
		for i := 1 + rng.IntN(3); i > 0; i-- {
			seq++
			name := fmt.Sprintf("ins-%d", seq)
			version := []string{"$LATEST", "1", "2"}[rng.IntN(3)]
			switch rng.IntN(4) {
			case 0: // an old start: first in an oldest-first RUNNING listing
				at := now.Add(-time.Hour - time.Duration(rng.Int64N(int64(40*time.Hour))))
				fe.inj.mutate(r.Function, fe.sim.Start(r.Function, version, name, at))
			case 1: // an end: leaves the RUNNING listing, the next item moves up
				for _, e := range fe.sim.Executions(r.Function) {
					if _, fresh := fe.inj.fresh[e.ARN]; !fresh && e.Status == lambdasim.StatusRunning && rng.IntN(8) == 0 {
						_ = fe.sim.End(e.ARN, terms[rng.IntN(4)], now)
						fe.inj.mutate(r.Function, "")
						break
					}
				}
			default: // a recent start, first in a newest-first listing
				at := now.Add(-time.Duration(rng.Int64N(int64(3 * time.Minute))))
				arn := fe.sim.Start(r.Function, version, name, at)
				if rng.IntN(3) == 0 {
					_ = fe.sim.End(arn, terms[rng.IntN(4)], at.Add(time.Duration(rng.Int64N(int64(now.Sub(at))+1))))
				}
				fe.inj.mutate(r.Function, "")
			}
		}
		return nil
	}
}

// c. Offset-style markers that repeat items: NextMarker is a plain offset
// and the function changes between page requests, with a small page size,
// in both sort orders. Every poll succeeds; items repeat (and are reported
// as duplicates); every poll that no change disturbed is exact, and so is
// every poll once the changes stop.
func TestFaultOffsetMarkersRepeatItems(t *testing.T) {
	for _, newestFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("newestFirst=%v", newestFirst), func(t *testing.T) {
			const page = 10
			// ReverseOrder is never sent: the default order is newest-first
			// unless ReverseMeansNewestFirst.
			fe := newFaultEnv(t, 13, lambdasim.Options{OffsetMarkers: true, ReverseMeansNewestFirst: !newestFirst}, page,
				[]string{"orders", "billing"}, 300)
			fe.inj.set(offsetInserts(fe, page, 0.6))
			disturbed, exactPolls := 0, 0
			for step := 0; step < 25; step++ {
				for i, p := range fe.pollStep(t, fmt.Sprintf("step %d", step)) {
					if !p.PollSuccess {
						t.Fatalf("step %d: %s: poll failed", step, fe.targets[i].t.spec.Function)
					}
					if p.disturbed {
						disturbed++
					} else {
						exactPolls++
					}
				}
				fe.advance(8)
			}
			dups := uint64(0)
			for _, st := range fe.targets {
				dups += st.t.snap.Load().Invalid[durable.DuplicateInListing]
			}
			t.Logf("%d disturbed polls, %d exact ones, %d repeated items reported", disturbed, exactPolls, dups)
			if disturbed < 10 || exactPolls < 5 || dups == 0 {
				t.Fatalf("the scenario did not do its job: %d disturbed polls, %d exact ones, %d repeated items", disturbed, exactPolls, dups)
			}
			fe.settle(t, 3, "after the inserts")
		})
	}
}

// d. Latency: a few milliseconds on some requests, which changes nothing;
// and, three times, one request of an incremental poll delayed far beyond
// the poll's deadline (one interval, here one second of real time): the
// first page of the RUNNING listing, a second page, a read-back by Get. The
// poll fails cleanly at its deadline, counts an overrun and changes nothing;
// the next poll is exact.
func TestFaultLatencyAndDeadline(t *testing.T) {
	const page = 20
	fe := newFaultEnv(t, 14, lambdasim.Options{}, page, []string{"orders", "billing"}, 500)
	// Long runners, older than the window: when one ends only a Get reads it.
	var long []string
	for i := 0; i < 3; i++ {
		arn := fe.sim.Start("orders", "1", fmt.Sprintf("long-%d", i), fe.clock.Now().Add(-30*time.Hour))
		fe.inj.protect("orders", arn)
		long = append(long, arn)
	}
	orders := fe.targets[0]
	orders.settings.Interval = time.Second // the deadline of an incremental poll
	latency := randomly(0.15, func(rng *rand.Rand) *lambdasim.Fault {
		return &lambdasim.Fault{Delay: time.Duration(1+rng.IntN(4)) * time.Millisecond}
	})
	traps := map[int]struct {
		name  string
		match func(lambdasim.Request) bool
	}{
		3: {"first page of the RUNNING listing", func(r lambdasim.Request) bool {
			return r.Op == lambdasim.OpList && r.Query.Get("Statuses") == "RUNNING" && r.Query.Get("Marker") == ""
		}},
		6: {"a second page", func(r lambdasim.Request) bool { return r.Query.Get("Marker") != "" }},
		9: {"a read-back by Get", func(r lambdasim.Request) bool { return r.Op == lambdasim.OpGet }},
	}
	for step := 0; step < 12; step++ {
		trap, trapped := traps[step]
		fired := false
		fe.inj.set(func(r lambdasim.Request, rng *rand.Rand) *lambdasim.Fault {
			if trapped && !fired && r.Function == "orders" && trap.match(r) {
				fired = true
				return &lambdasim.Fault{Delay: time.Minute} // abandoned when the client gives up
			}
			return latency(r, rng)
		})
		if step == 9 {
			if err := fe.sim.End(long[0], lambdasim.StatusFailed, fe.clock.Now().Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		overruns := orders.t.snap.Load().Overruns
		for i, p := range fe.pollStep(t, fmt.Sprintf("step %d", step)) {
			fn := fe.targets[i].t.spec.Function
			if !trapped || fn != "orders" {
				if !p.PollSuccess {
					t.Fatalf("step %d: %s: poll failed with latency only", step, fn)
				}
				continue
			}
			switch {
			case !fired:
				t.Fatalf("step %d: the trap on %s never fired", step, trap.name)
			case p.PollSuccess:
				t.Fatalf("step %d: poll succeeded although %s hung past the deadline", step, trap.name)
			case p.Overruns != overruns+1:
				t.Errorf("step %d: overruns %d -> %d, want one more", step, overruns, p.Overruns)
			case p.took < time.Second || p.took > 20*time.Second:
				t.Errorf("step %d: the poll took %v with a deadline of 1s", step, p.took)
			}
			t.Logf("step %d: %s hung: the poll failed after %v", step, trap.name, p.took.Round(time.Millisecond))
		}
		fe.advance(8)
	}
	if k := fe.inj.kinds(); k["delay"] < 20 {
		t.Fatalf("only %d delays injected", k["delay"])
	}
	fe.settle(t, 2, "after the latency")
}

// e. Truncated bodies (cut in half, with a matching Content-Length) and
// malformed JSON bodies on pages after the first and on read-backs. A poll
// that meets one fails and changes nothing; a poll that gets through is
// exact (nothing malformed was taken as data); afterwards every poll is.
func TestFaultTruncatedAndMalformedBodies(t *testing.T) {
	const page = 20
	fe := newFaultEnv(t, 15, lambdasim.Options{}, page, []string{"orders", "billing"}, 600)
	bodies := [][]byte{
		[]byte(`{"DurableExecutions":[{"DurableExecutionArn":"arn:aws:lambda:us-east-1:123456789012:function:orders:1/durable-exec`),
		[]byte(`not json at all`),
		[]byte(`{"DurableExecutions":{"DurableExecutionArn":"x"}}`),
		[]byte(`{"DurableExecutions":[],"NextMarker":17}`),
		[]byte(`[`),
	}
	fe.settle(t, 2, "warm-up")
	bad := func(r lambdasim.Request, rng *rand.Rand) *lambdasim.Fault {
		switch {
		case r.Op == lambdasim.OpList && r.Query.Get("Marker") != "":
			switch x := rng.Float64(); {
			case x < 0.15:
				return &lambdasim.Fault{Truncate: true}
			case x < 0.25:
				return &lambdasim.Fault{Body: bodies[rng.IntN(len(bodies))]}
			}
		case r.Op == lambdasim.OpGet && rng.IntN(8) == 0:
			return &lambdasim.Fault{Truncate: true}
		}
		return nil
	}
	failed, passed := 0, 0
	for step := 0; step < 30; step++ {
		// Two polls with bad bodies, then one without: the ended executions
		// that wait for a read-back pile up while polls fail.
		if step%3 == 2 {
			fe.inj.set(nil)
		} else {
			fe.inj.set(bad)
		}
		for _, p := range fe.pollStep(t, fmt.Sprintf("step %d", step)) {
			if p.PollSuccess {
				passed++
			} else {
				failed++
			}
		}
		fe.advance(8)
	}
	k := fe.inj.kinds()
	t.Logf("%d polls failed, %d succeeded; faults %v", failed, passed, k)
	if failed < 5 || passed < 5 || k["truncate"] == 0 || k["body"] == 0 {
		t.Fatalf("the scenario did not do its job: %d failed, %d succeeded polls; faults %v", failed, passed, k)
	}
	fe.settle(t, 2, "after the bad bodies")

	// An empty body, or "{}", on a later page is no error to the SDK (it
	// would read as a last page and end the listing early, short of what
	// the missing pages held: here a burst of executions that started and
	// ended since the last poll, more than a page). It is no page: the poll
	// fails and changes nothing, and the first clean poll is exact.
	now := fe.clock.Now()
	for i := 0; i < 3*page; i++ {
		arn := fe.sim.Start("orders", "1", fmt.Sprintf("burst-%d", i), now.Add(-time.Duration(i)*time.Second))
		if err := fe.sim.End(arn, lambdasim.StatusSucceeded, now); err != nil {
			t.Fatal(err)
		}
	}
	fe.inj.set(func(r lambdasim.Request, rng *rand.Rand) *lambdasim.Fault {
		if r.Op == lambdasim.OpList && r.Query.Get("Marker") != "" {
			return &lambdasim.Fault{Body: [][]byte{{}, []byte(`{}`)}[rng.IntN(2)]}
		}
		return nil
	})
	for _, st := range fe.targets {
		if s := pollKept(t, st, "empty later pages"); s.PollSuccess {
			t.Fatalf("%s: a poll that met an empty page succeeded", st.t.spec.Function)
		}
	}
	fe.inj.set(nil)
	fe.advance(8)
	fe.settle(t, 3, "after the empty pages")
}

// simTruth is what check compares against: the simulated API's ground truth
// for st, over its well-formed executions (AddRaw items are not included).
func simTruth(st *simTarget) truth {
	now := st.env.clock.Now().UnixMilli()
	cut := now - st.t.spec.Window.Milliseconds()
	var want truth
	for _, e := range st.env.sim.Executions(st.t.spec.Function) {
		if (st.version != "" && e.Version != st.version) || e.VisibleAt.UnixMilli() > now {
			continue
		}
		status := durable.ParseStatus(e.Status)
		start, end := e.Start.UnixMilli(), int64(0)
		if !e.End.IsZero() {
			end = e.End.UnixMilli()
		}
		// RUNNING whatever the start; terminal statuses within the window.
		if start >= cut || status == durable.Running {
			want.inWindow[status]++
			if status == durable.Running && (want.oldest == 0 || start < want.oldest) {
				want.oldest = start
			}
		}
		if status.Terminal() && end >= st.baseline {
			want.finished[status]++
			want.durations[status].ObserveMillis(max(end-start, 0))
		}
	}
	return want
}

// exactTruth compares s with want, as check does, and also the invalid
// counters with wantInvalid.
func exactTruth(t *testing.T, where string, st *simTarget, s *snapshot.Snapshot, want truth, wantInvalid [durable.NumReasons]uint64) {
	t.Helper()
	fn := st.t.spec.Function
	if !s.PollSuccess {
		t.Fatalf("%s: poll of %s failed", where, fn)
	}
	for _, status := range s.Statuses {
		if s.InWindow[status] != want.inWindow[status] {
			t.Errorf("%s: %s executions{status=%s} = %d, truth %d", where, fn, status, s.InWindow[status], want.inWindow[status])
		}
		if status.Terminal() && (s.Finished[status] != want.finished[status] || s.Durations[status] != want.durations[status]) {
			t.Errorf("%s: %s finished{status=%s} = %d (%+v), truth %d (%+v)", where, fn, status,
				s.Finished[status], s.Durations[status], want.finished[status], want.durations[status])
		}
	}
	if s.Finished[durable.Unknown] != want.finished[durable.Unknown] {
		t.Errorf("%s: %s finished{status=UNKNOWN} = %d, truth %d", where, fn, s.Finished[durable.Unknown], want.finished[durable.Unknown])
	}
	if float64(want.oldest)/1000 != s.OldestRunningStart {
		t.Errorf("%s: %s oldest running = %v, truth %v", where, fn, s.OldestRunningStart, float64(want.oldest)/1000)
	}
	for r := durable.Reason(0); r < durable.NumReasons; r++ {
		if s.Invalid[r] != wantInvalid[r] {
			t.Errorf("%s: %s invalid{reason=%s} = %d, want %d", where, fn, r, s.Invalid[r], wantInvalid[r])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// oddItems adds to fn's listings one item for each kind of invalid data
// the validator knows, all started two minutes or less before now (so that
// incremental listings show them for a few polls, and every resync again),
// and returns what the items that are still taken add to the truth, and the
// invalid counts they must produce, once each.
func oddItems(sim *lambdasim.Server, fn, other string, now time.Time) (truth, [durable.NumReasons]uint64) {
	fnARN := sim.FunctionARN(fn) + ":1"
	arn := func(name string) string { return fnARN + "/durable-execution/" + name + "/odd-" + name }
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	item := func(name, status string, start, end time.Time) map[string]any {
		m := map[string]any{"DurableExecutionArn": arn(name), "DurableExecutionName": name, "FunctionArn": fnARN, "Status": status}
		if !start.IsZero() {
			m["StartTimestamp"] = start
		}
		if !end.IsZero() {
			m["EndTimestamp"] = end
		}
		return m
	}
	var add truth
	var invalid [durable.NumReasons]uint64

	// No StartTimestamp, RUNNING: only the RUNNING listing shows it, at
	// every poll. Not taken.
	sim.AddRaw(fn, item("nostart", lambdasim.StatusRunning, time.Time{}, time.Time{}))
	invalid[durable.MissingStart]++

	// EndTimestamp before StartTimestamp: counted as finished (it did
	// finish, after the baseline) and in the window, observed as 0s.
	sim.AddRaw(fn, item("endbefore", lambdasim.StatusFailed, ago(time.Minute), ago(3*time.Minute)))
	add.inWindow[durable.Failed]++
	add.finished[durable.Failed]++
	add.durations[durable.Failed].ObserveMillis(0)
	invalid[durable.EndBeforeStart]++

	// Terminal without EndTimestamp: counted as finished when first seen,
	// observed as 0s.
	sim.AddRaw(fn, item("noend", lambdasim.StatusTimedOut, ago(2*time.Minute), time.Time{}))
	add.inWindow[durable.TimedOut]++
	add.finished[durable.TimedOut]++
	add.durations[durable.TimedOut].ObserveMillis(0)
	invalid[durable.MissingEnd]++

	// A status this build does not know. Not taken.
	sim.AddRaw(fn, item("paused", "PAUSED", ago(2*time.Minute), time.Time{}))
	invalid[durable.UnknownStatus]++

	// A status this build does not know, with an end: it has ended, and
	// counts once under UNKNOWN (reported once as unknown_status, too).
	sim.AddRaw(fn, item("cancelled", "CANCELLED", ago(2*time.Minute), ago(time.Minute)))
	add.finished[durable.Unknown]++
	invalid[durable.UnknownStatus]++

	// An execution of another function (both its ARN and its FunctionArn
	// say so), RUNNING so that every poll sees it. Not taken, here or there.
	otherARN := sim.FunctionARN(other) + ":1"
	sim.AddRaw(fn, map[string]any{
		"DurableExecutionArn": otherARN + "/durable-execution/foreign/odd-foreign", "DurableExecutionName": "foreign",
		"FunctionArn": otherARN, "Status": lambdasim.StatusRunning, "StartTimestamp": ago(2 * time.Minute),
	})
	invalid[durable.ForeignFunction]++

	// The same well-formed item twice in every listing: taken once.
	dup := item("twice", lambdasim.StatusSucceeded, ago(2*time.Minute), ago(time.Minute))
	sim.AddRaw(fn, dup)
	sim.AddRaw(fn, dup)
	add.inWindow[durable.Succeeded]++
	add.finished[durable.Succeeded]++
	add.durations[durable.Succeeded].ObserveMillis(time.Minute.Milliseconds())
	invalid[durable.DuplicateInListing]++

	// A wrongly typed field, RUNNING so that every poll lists it: the SDK
	// would reject the whole page; the item is counted as malformed, once,
	// and the rest of the page is taken.
	sim.AddRaw(fn, map[string]any{
		"DurableExecutionArn": fnARN + "/durable-execution/typo/odd-typo", "DurableExecutionName": "typo",
		"FunctionArn": fnARN, "Status": lambdasim.StatusRunning, "StartTimestamp": "yesterday",
	})
	invalid[durable.Malformed]++

	// No DurableExecutionArn. Not taken.
	sim.AddRaw(fn, map[string]any{
		"DurableExecutionName": "noarn", "FunctionArn": fnARN, "Status": lambdasim.StatusStopped,
		"StartTimestamp": ago(2 * time.Minute), "EndTimestamp": ago(time.Minute),
	})
	invalid[durable.MissingARN]++
	return add, invalid
}

func (a *truth) plus(b truth) truth {
	out := *a
	for s := range out.inWindow {
		out.inWindow[s] += b.inWindow[s]
		out.finished[s] += b.finished[s]
		out.durations[s].Add(&b.durations[s])
	}
	return out
}

// f. Odd data: items without StartTimestamp, with an EndTimestamp before
// the StartTimestamp, without EndTimestamp, with an unknown status, of
// another function, twice in the same listing, without ARN. Every poll of
// the function and of the other one succeeds; each reason is counted
// exactly once however many polls (incremental ones and resyncs) see the
// item; every other number equals the truth over the well-formed
// executions plus what the validator still takes (an execution that ended
// before it started, or without an end, counts as finished, observed as 0s).
func TestFaultOddItems(t *testing.T) {
	fe := newFaultEnv(t, 16, lambdasim.Options{}, faultPage, []string{"orders", "billing"}, 800)
	orders, billing := fe.targets[0], fe.targets[1]
	for _, st := range fe.targets {
		st.settings.Resync = 10 * time.Minute // full listings see the items again
	}
	var add truth
	var invalid, none [durable.NumReasons]uint64
	for step := 0; step < 30; step++ {
		if step == 5 {
			add, invalid = oddItems(fe.sim, "orders", "billing", fe.clock.Now())
		}
		where := fmt.Sprintf("step %d", step)
		s := pollKept(t, orders, where)
		want := simTruth(orders)
		exactTruth(t, where, orders, s, want.plus(add), invalid)
		exactTruth(t, where, billing, pollKept(t, billing, where), simTruth(billing), none)
		fe.advance(8)
	}
}

// f'. An invalid item that the RUNNING listing shows at every poll, for
// longer than the window plus the overlap, is still counted once.
func TestFaultOddItemsCountedOnceLongRun(t *testing.T) {
	fe := newFaultEnv(t, 18, lambdasim.Options{}, faultPage, []string{"orders", "billing"}, 200)
	orders := fe.targets[0]
	orders.t.spec.Window = time.Hour
	orders.t.tracker.configure(durable.Known, time.Hour.Milliseconds(), orders.settings.Overlap.Milliseconds(), orders.settings.Interval.Milliseconds())
	fnARN, otherARN := fe.sim.FunctionARN("orders")+":1", fe.sim.FunctionARN("billing")+":1"
	fe.sim.AddRaw("orders", map[string]any{
		"DurableExecutionArn": fnARN + "/durable-execution/nostart/odd-1", "DurableExecutionName": "nostart",
		"FunctionArn": fnARN, "Status": lambdasim.StatusRunning,
	})
	fe.sim.AddRaw("orders", map[string]any{
		"DurableExecutionArn": otherARN + "/durable-execution/foreign/odd-2", "DurableExecutionName": "foreign",
		"FunctionArn": otherARN, "Status": lambdasim.StatusRunning, "StartTimestamp": fe.clock.Now().Add(-time.Minute),
	})
	var invalid [durable.NumReasons]uint64
	invalid[durable.MissingStart], invalid[durable.ForeignFunction] = 1, 1
	for step := 0; step < 80; step++ { // 80 minutes: more than the window plus the overlap
		where := fmt.Sprintf("step %d (%v after the first sighting)", step, time.Duration(step)*time.Minute)
		exactTruth(t, where, orders, pollKept(t, orders, where), simTruth(orders), invalid)
		fe.advance(4)
	}
}

// g. One failing function never affects another: every request for orders
// fails (500, 403, 404, a reset, a throttle that lasts, a truncated or
// malformed body) while billing is polled at the same time; billing stays
// exact and successful, orders keeps its last numbers, and recovers exactly.
func TestFaultOneFunctionFailing(t *testing.T) {
	fe := newFaultEnv(t, 17, lambdasim.Options{}, faultPage, []string{"orders", "billing"}, 800)
	orders, billing := fe.targets[0], fe.targets[1]
	kinds := []func(*rand.Rand) *lambdasim.Fault{
		serviceError, reset, throttled,
		func(*rand.Rand) *lambdasim.Fault { return &lambdasim.Fault{Status: http.StatusForbidden} },
		func(*rand.Rand) *lambdasim.Fault { return &lambdasim.Fault{Status: http.StatusNotFound} },
		func(*rand.Rand) *lambdasim.Fault { return &lambdasim.Fault{Truncate: true} },
		func(*rand.Rand) *lambdasim.Fault { return &lambdasim.Fault{Body: []byte(`{"DurableExecutions":[{`)} },
	}
	fe.settle(t, 3, "warm-up")
	for step := 0; step < 20; step++ {
		kind := kinds[step%len(kinds)]
		fe.inj.set(func(r lambdasim.Request, rng *rand.Rand) *lambdasim.Fault {
			if r.Function == "orders" {
				return kind(rng)
			}
			return nil
		})
		// Both targets poll at once, as the manager's loops would.
		where := fmt.Sprintf("step %d", step)
		ko, kb := keep(orders), keep(billing)
		var so, sb *snapshot.Snapshot
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); so = orders.poll(t) }()
		go func() { defer wg.Done(); sb = billing.poll(t) }()
		wg.Wait()
		if so.PollSuccess {
			t.Fatalf("%s: orders succeeded although every request failed", where)
		}
		ko.verify(t, orders, where, so)
		kb.verify(t, billing, where, sb)
		exact(t, billing, where, sb)
		fe.advance(8)
	}
	fe.settle(t, 3, "after orders recovered")
}

// h. A harsh schedule: four targets on three functions (one exporting only
// FAILED and TIMED_OUT over 12 hours), offset markers with executions
// started and ended between page requests, a fifth of all requests
// throttled throughout, and two outages (500s and resets) right after half
// of the running executions end, over 90 polls of each target. Every
// successful poll that no change disturbed is exact, every failed one
// changes nothing, and the last 15 quiet polls are all exact.
func TestFaultHarshSchedule(t *testing.T) {
	const page = 25
	fe := newFaultEnv(t, 19, lambdasim.Options{OffsetMarkers: true}, page, []string{"orders", "billing", "shipping"}, 300)
	fe.targets = append(fe.targets, fe.target(Spec{
		Target: snapshot.Target{Function: "orders", Region: "us-east-1"}, APIName: "orders", Window: 12 * time.Hour,
		Statuses: []durable.Status{durable.Failed, durable.TimedOut},
	}, "", faultSettings(page)))
	inserts := offsetInserts(fe, page, 0.3)
	outage := always(func(rng *rand.Rand) *lambdasim.Fault {
		if rng.IntN(2) == 0 {
			return serviceError(rng)
		}
		return reset(rng)
	})
	throttle := randomly(0.2, throttled)
	var stats struct{ exact, disturbed, failed, outageFailed int }
	for step := 0; step < 90; step++ {
		out := (step >= 25 && step < 29) || (step >= 55 && step < 59)
		if step == 25 || step == 55 {
			for _, fn := range fe.fns {
				endRunning(fe.rng, fe.sim, fe.clock.Now(), fn, 0.5, fe.inj.protected())
			}
		}
		switch {
		case step == 0:
			// No changes during the first polls: an execution of orders
			// ended during the first target's listing would end at the
			// second one's baseline, before its first poll could see it.
			fe.inj.set(throttle)
		case step >= 75:
			fe.inj.set(nil)
		case out:
			fe.inj.set(outage)
		default:
			fe.inj.set(firstOf(throttle, inserts))
		}
		for i, p := range fe.pollStep(t, fmt.Sprintf("step %d", step)) {
			fn := fe.targets[i].t.spec.Function
			switch {
			case out && p.PollSuccess:
				t.Fatalf("step %d: %s: poll succeeded during the outage", step, fn)
			case out:
				stats.outageFailed++
			case step >= 75 && !p.PollSuccess:
				t.Fatalf("step %d: %s: a quiet poll failed", step, fn)
			case !p.PollSuccess:
				stats.failed++
			case p.disturbed:
				stats.disturbed++
			default:
				stats.exact++
			}
		}
		fe.advance(6)
	}
	dups := uint64(0)
	for _, st := range fe.targets {
		dups += st.t.snap.Load().Invalid[durable.DuplicateInListing]
	}
	k := fe.inj.kinds()
	t.Logf("polls: %+v; faults %v; repeated items %d", stats, k, dups)
	if stats.exact < 120 || stats.disturbed < 20 || stats.outageFailed != 32 || k["429"] < 100 || dups == 0 {
		t.Fatalf("the schedule did not do its job: %+v, faults %v, repeated items %d", stats, k, dups)
	}
}
