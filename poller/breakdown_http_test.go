package poller

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// simVersionTruth is the truth per version of the executions of fn that
// run under one of versions.
func simVersionTruth(st *simTarget, versions map[string]bool) map[string]*truth {
	now := st.env.clock.Now().UnixMilli()
	cut := now - st.t.spec.Window.Milliseconds()
	out := map[string]*truth{}
	for _, e := range st.env.sim.Executions(st.t.spec.Function) {
		if !versions[e.Version] || e.VisibleAt.UnixMilli() > now {
			continue
		}
		tv := out[e.Version]
		if tv == nil {
			tv = &truth{}
			out[e.Version] = tv
		}
		status := durable.ParseStatus(e.Status)
		start, end := e.Start.UnixMilli(), int64(0)
		if !e.End.IsZero() {
			end = e.End.UnixMilli()
		}
		if start >= cut || status == durable.Running {
			tv.inWindow[status]++
		}
		if status.Terminal() && end >= st.baseline {
			tv.finished[status]++
			tv.durations[status].ObserveMillis(max(end-start, 0))
		}
	}
	return out
}

// TestVersionBreakdownOverHTTP: a function polled through an alias that
// routes to two versions (stable 3, canary 4), over the real SDK and the
// simulated API, with paging and a restart. After every poll each
// version's gauges, counters and histograms equal the truth, and together
// they equal the totals that the target without the breakdown shows.
func TestVersionBreakdownOverHTTP(t *testing.T) {
	env := newSimEnv(t, lambdasim.Options{}, 50)
	sim := env.sim
	sim.AddWeightedAlias("orders", "live", "3", "4")
	sim.AddFunction("orders", []string{"1", "2"}, nil)
	rng := rand.New(rand.NewPCG(11, 12))
	versions := map[string]bool{"3": true, "4": true}
	start := func(n int) {
		now := env.clock.Now()
		for i := range n {
			v := "3"
			if rng.IntN(4) == 0 {
				v = "4"
			} else if rng.IntN(10) == 0 {
				v = "2" // another version, not behind the alias
			}
			sim.Start("orders", v, fmt.Sprintf("r-%d-%d", now.Unix(), i), now.Add(-time.Duration(rng.Int64N(int64(50*time.Second)))))
		}
	}
	start(300)
	s := Settings{Interval: time.Minute, Overlap: 5 * time.Minute, Resync: 20 * time.Minute,
		Pool: scrape.PoolOptions{PageSize: 50, Limits: scrape.Limits{ListPerSecond: 1000, GetPerSecond: 1000}}}
	mk := func() (*simTarget, *simTarget) {
		spec := Spec{Target: snapshot.Target{Function: "orders", Qualifier: "live", Region: "us-east-1"}, APIName: "orders", Window: 2 * time.Hour}
		plain := env.target(spec, "", s)
		spec.ByVersion = true
		broken := env.target(spec, "", s)
		broken.t.tracker.setVersionBreakdown(true)
		return plain, broken
	}
	plain, broken := mk()
	terms := []string{lambdasim.StatusSucceeded, lambdasim.StatusFailed, lambdasim.StatusTimedOut, lambdasim.StatusStopped}
	for step := range 90 {
		if step == 45 {
			plain, broken = mk()
		}
		ps, bs := plain.poll(t), broken.poll(t)
		if !ps.PollSuccess || !bs.PollSuccess {
			t.Fatalf("step %d: poll failed", step)
		}
		truth := simVersionTruth(broken, versions)
		seen := map[string]bool{}
		var sumIn, sumFin [durable.NumStatuses]uint64
		for _, vc := range bs.Versions {
			seen[vc.Version] = true
			tv := truth[vc.Version]
			if tv == nil {
				t.Fatalf("step %d: version %q shown, not behind the alias", step, vc.Version)
			}
			for _, st := range durable.Known {
				sumIn[st] += vc.InWindow[st]
				sumFin[st] += vc.Finished[st]
				if vc.InWindow[st] != tv.inWindow[st] {
					t.Errorf("step %d: version %s executions{%s} = %d, truth %d", step, vc.Version, st, vc.InWindow[st], tv.inWindow[st])
				}
				if st.Terminal() && (vc.Finished[st] != tv.finished[st] || vc.Durations[st] != tv.durations[st]) {
					t.Errorf("step %d: version %s finished{%s} = %d, truth %d", step, vc.Version, st, vc.Finished[st], tv.finished[st])
				}
			}
		}
		for v := range truth {
			if !seen[v] {
				t.Errorf("step %d: version %s not shown", step, v)
			}
		}
		if sumIn != ps.InWindow || sumFin != ps.Finished {
			t.Errorf("step %d: versions add up to %v / %v, the plain target shows %v / %v", step, sumIn, sumFin, ps.InWindow, ps.Finished)
		}
		if t.Failed() {
			t.FailNow()
		}
		env.clock.Add(time.Minute)
		start(rng.IntN(12))
		for _, e := range sim.Executions("orders") {
			if e.Status == lambdasim.StatusRunning && rng.IntN(5) == 0 {
				_ = sim.End(e.ARN, terms[rng.IntN(4)], env.clock.Now().Add(-time.Duration(rng.Int64N(int64(40*time.Second)))))
			}
		}
	}
	if f := broken.t.snap.Load().Versions; len(f) != 2 {
		t.Errorf("versions shown at the end: %+v, want 3 and 4", f)
	}
}
