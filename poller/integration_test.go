package poller

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// clock is a fake clock shared by the simulated API and the poller.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Sleep advances the clock by d: a poll loop on it runs as fast as it can.
func (c *clock) Sleep(ctx context.Context, d time.Duration) bool {
	c.Add(max(d, 0))
	return ctx.Err() == nil
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// simEnv is a simulated Lambda API over HTTP and a real SDK client pool.
type simEnv struct {
	sim   *lambdasim.Server
	clock *clock
	pool  *scrape.Pool
	url   string
}

func newSimEnv(t testing.TB, o lambdasim.Options, pageSize int) *simEnv {
	t.Helper()
	c := &clock{t: time.UnixMilli(t0).UTC()}
	o.Now = c.Now
	sim := lambdasim.New(o)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}
	pool := scrape.NewPool(cfg, scrape.PoolOptions{
		Endpoint: srv.URL, PageSize: pageSize, Clock: c,
		BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Metrics: scrape.NewMetrics("lambda_durable"),
	})
	return &simEnv{sim: sim, clock: c, pool: pool, url: srv.URL}
}

// simTarget is one target under test with its own (restartable) state.
type simTarget struct {
	env      *simEnv
	m        *Manager
	t        *target
	pool     *scrape.Pool // env.pool when nil
	version  string       // "" = all versions
	baseline int64
	settings Settings
}

func (e *simEnv) target(spec Spec, version string, s Settings) *simTarget {
	m := NewManager(Options{Clock: e.clock})
	tg := &target{spec: spec, tracker: newTracker()}
	tg.tracker.configure(statusesOrAll(spec.Statuses), spec.Window.Milliseconds(), s.Overlap.Milliseconds(), s.Interval.Milliseconds())
	tg.publish(nil, time.Time{}, 0, false, snapshot.Requests{})
	return &simTarget{env: e, m: m, t: tg, version: version, settings: s}
}

// poll runs one poll through the SDK and returns its snapshot.
func (st *simTarget) poll(t testing.TB) *snapshot.Snapshot {
	t.Helper()
	pool := st.pool
	if pool == nil {
		pool = st.env.pool
	}
	src := pool.Client(scrape.Access{Account: st.t.spec.AccountID, Region: st.t.spec.Region})
	start := st.env.clock.Now()
	st.m.pollOnce(context.Background(), st.t, src, st.settings)
	st.m.errorPhase(context.Background(), st.t, src, st.settings, start)
	s := st.t.snap.Load()
	if s.PollSuccess && st.baseline == 0 {
		st.baseline = st.t.tracker.baseline
	}
	return s
}

// check compares a snapshot with the simulated API's ground truth.
func (st *simTarget) check(t testing.TB, where string, s *snapshot.Snapshot) {
	t.Helper()
	if !s.PollSuccess {
		t.Fatalf("%s: poll of %s failed", where, st.t.spec.Function)
	}
	want := simTruth(st)
	for _, status := range s.Statuses {
		if s.InWindow[status] != want.inWindow[status] {
			t.Errorf("%s: %s executions{status=%s} = %d, truth %d", where, st.t.spec.Function, status, s.InWindow[status], want.inWindow[status])
		}
		if status.Terminal() && (s.Finished[status] != want.finished[status] || s.Durations[status] != want.durations[status]) {
			t.Errorf("%s: %s finished{status=%s} = %d (sum %dms), truth %d (sum %dms)", where, st.t.spec.Function, status,
				s.Finished[status], s.Durations[status].SumMillis, want.finished[status], want.durations[status].SumMillis)
		}
	}
	if float64(want.oldest)/1000 != s.OldestRunningStart {
		t.Errorf("%s: %s oldest running = %v, truth %v", where, st.t.spec.Function, s.OldestRunningStart, float64(want.oldest)/1000)
	}
}

// workload starts and ends executions between polls, across versions.
func workload(rng *rand.Rand, sim *lambdasim.Server, now time.Time, functions []string, starts int) {
	terms := []string{lambdasim.StatusSucceeded, lambdasim.StatusFailed, lambdasim.StatusTimedOut, lambdasim.StatusStopped}
	versions := []string{"$LATEST", "1", "2"}
	for _, fn := range functions {
		for i := 0; i < starts; i++ {
			at := now.Add(-time.Duration(rng.Int64N(int64(59 * time.Second))))
			arn := sim.Start(fn, versions[rng.IntN(len(versions))], fmt.Sprintf("run-%d", rng.Int64()), at)
			if rng.IntN(3) == 0 { // starts and ends between two polls
				_ = sim.End(arn, terms[rng.IntN(4)], at.Add(time.Duration(rng.Int64N(int64(now.Sub(at))+1))))
			}
		}
		for _, e := range sim.Executions(fn) {
			if e.Status == lambdasim.StatusRunning && e.Start.Before(now.Add(-time.Minute)) && rng.IntN(10) == 0 {
				_ = sim.End(e.ARN, terms[rng.IntN(4)], now.Add(-time.Duration(rng.Int64N(int64(50*time.Second)))))
			}
		}
	}
}

// history fills the past: thousands of executions over two days, some long
// runners still running.
func history(rng *rand.Rand, sim *lambdasim.Server, now time.Time, fn string, n int) {
	terms := []string{lambdasim.StatusSucceeded, lambdasim.StatusFailed, lambdasim.StatusTimedOut, lambdasim.StatusStopped}
	versions := []string{"$LATEST", "1", "2"}
	for i := 0; i < n; i++ {
		at := now.Add(-time.Duration(rng.Int64N(int64(48 * time.Hour))))
		arn := sim.Start(fn, versions[rng.IntN(3)], fmt.Sprintf("h-%d", i), at)
		d := time.Duration(rng.Int64N(int64(30 * time.Hour)))
		if end := at.Add(d); end.Before(now) && rng.IntN(20) != 0 {
			_ = sim.End(arn, terms[rng.IntN(4)], end)
		}
	}
}

// TestExactOverHTTP: several functions (bare name, alias, version, full
// ARN, status filter) with thousands of executions over many pages; running
// executions end and new ones appear between polls; a restart. After every
// poll every number equals the simulated API's ground truth.
func TestExactOverHTTP(t *testing.T) {
	env := newSimEnv(t, lambdasim.Options{}, 100)
	sim := env.sim
	sim.AddFunction("orders", []string{"$LATEST", "1", "2"}, map[string]string{"live": "2"})
	sim.AddFunction("billing", []string{"$LATEST", "1", "2"}, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	history(rng, sim, env.clock.Now(), "orders", 3000)
	history(rng, sim, env.clock.Now(), "billing", 1500)

	s := Settings{Interval: time.Minute, Overlap: 5 * time.Minute, Resync: 30 * time.Minute, Pool: scrape.PoolOptions{PageSize: 100, Limits: scrape.Limits{ListPerSecond: 1000, GetPerSecond: 1000}}}
	arn := "arn:aws:lambda:us-east-1:" + sim.AccountID() + ":function:billing"
	mk := func() []*simTarget {
		return []*simTarget{
			env.target(Spec{Target: snapshot.Target{Function: "orders", Region: "us-east-1"}, APIName: "orders", Window: 24 * time.Hour}, "", s),
			env.target(Spec{Target: snapshot.Target{Function: "orders", Qualifier: "live", Region: "us-east-1"}, APIName: "orders", Window: 6 * time.Hour}, "2", s),
			env.target(Spec{Target: snapshot.Target{Function: "billing", Qualifier: "1", Region: "us-east-1"}, APIName: arn, Window: 24 * time.Hour}, "1", s),
			env.target(Spec{Target: snapshot.Target{Function: "billing", Region: "us-east-1"}, APIName: arn, Window: 12 * time.Hour,
				Statuses: []durable.Status{durable.Failed, durable.TimedOut}}, "", s),
		}
	}
	targets := mk()
	for step := 0; step < 60; step++ {
		if step == 30 { // restart: new state, new baseline, no burst
			targets = mk()
		}
		for _, tg := range targets {
			tg.check(t, fmt.Sprintf("step %d", step), tg.poll(t))
		}
		if t.Failed() {
			t.FailNow()
		}
		env.clock.Add(time.Minute)
		workload(rng, sim, env.clock.Now(), []string{"orders", "billing"}, 8)
	}
	// After the restart, the counters started from zero and hold only what
	// ended since: a restart never produces a burst.
	if f := targets[0].t.snap.Load().Finished; f[durable.Succeeded] > 200 {
		t.Errorf("finished after restart = %v: looks like a burst of old executions", f)
	}
}
