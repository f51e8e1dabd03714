package poller

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
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

// TestBreakdownsOverHTTP: a function polled through an alias that routes
// to two versions (stable 3, canary 4), with three error types, failures
// without an Error and with an empty type, over the real SDK and the
// simulated API (errors only with IncludeExecutionData=true), with paging
// and a restart. After every poll and its error reads each version's
// gauges, counters and histograms equal the truth, together they equal the
// totals of the target without the breakdown, every error type's count
// equals the truth, and the error counts of each status add up to its
// finishes.
func TestBreakdownsOverHTTP(t *testing.T) {
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
		spec.ByVersion, spec.ByErrorType = true, true
		broken := env.target(spec, "", s)
		broken.t.tracker.setVersionBreakdown(true)
		broken.t.tracker.setErrorBreakdown(true, 20)
		return plain, broken
	}
	plain, broken := mk()
	terms := []string{lambdasim.StatusSucceeded, lambdasim.StatusFailed, lambdasim.StatusTimedOut, lambdasim.StatusStopped}
	types := []string{"PaymentDeclined", "InventoryUnavailable", "StepFailedError", "", "no error"}
	errType := map[string]string{} // the cleaned type each failure must count under
	end := func(arn, status string, at time.Time) {
		if sim.End(arn, status, at) != nil {
			return // it cannot end before it started: it keeps running
		}
		switch status {
		case lambdasim.StatusFailed:
			typ := types[rng.IntN(len(types))]
			switch typ {
			case "no error":
				_ = sim.RemoveError(arn)
				errType[arn] = errNone
			case "":
				_ = sim.SetErrorType(arn, "")
				errType[arn] = errUnknown
			default:
				_ = sim.SetErrorType(arn, typ)
				errType[arn] = typ
			}
		case lambdasim.StatusTimedOut:
			errType[arn] = "Lambda.DurableExecutionTimedOut"
		case lambdasim.StatusStopped:
			errType[arn] = "Lambda.DurableExecutionStopped"
		}
	}
	errTruth := func(st *simTarget) map[errKey]uint64 {
		out := map[errKey]uint64{}
		for _, e := range sim.Executions("orders") {
			if !versions[e.Version] || e.End.IsZero() || e.End.UnixMilli() < st.baseline || errType[e.ARN] == "" {
				continue
			}
			out[errKey{durable.ParseStatus(e.Status), errType[e.ARN]}]++
		}
		return out
	}
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
		if bs.PendingErrors != 0 {
			t.Fatalf("step %d: %d error reads pending with an unlimited budget", step, bs.PendingErrors)
		}
		got, sum := map[errKey]uint64{}, [durable.NumStatuses]uint64{}
		for _, e := range bs.Errors {
			got[errKey{e.Status, e.Type}] = e.Count
			sum[e.Status] += e.Count
		}
		if want := errTruth(broken); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("step %d: errors\n got %v\nwant %v", step, got, want)
		}
		for _, st := range []durable.Status{durable.Failed, durable.TimedOut, durable.Stopped} {
			if sum[st] != sumFin[st] {
				t.Errorf("step %d: errors{%s} add up to %d, finished %d", step, st, sum[st], sumFin[st])
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		env.clock.Add(time.Minute)
		start(rng.IntN(12))
		for _, e := range sim.Executions("orders") {
			if e.Status == lambdasim.StatusRunning && rng.IntN(5) == 0 {
				end(e.ARN, terms[rng.IntN(4)], env.clock.Now().Add(-time.Duration(rng.Int64N(int64(40*time.Second)))))
			}
		}
	}
	last := broken.t.snap.Load()
	// Start timestamps: the baseline, when each version was first seen,
	// when each error type was first counted.
	now := env.clock.Now().UnixMilli()
	if last.Since != broken.baseline {
		t.Errorf("since %d, want the baseline %d", last.Since, broken.baseline)
	}
	for _, v := range last.Versions {
		if v.Since < broken.baseline || v.Since > now {
			t.Errorf("version %s since %d, outside [%d, %d]", v.Version, v.Since, broken.baseline, now)
		}
	}
	for _, e := range last.Errors {
		if e.Since < broken.baseline || e.Since > now {
			t.Errorf("error %s/%s since %d, outside [%d, %d]", e.Status, e.Type, e.Since, broken.baseline, now)
		}
	}
	if len(last.Versions) != 2 {
		t.Errorf("versions shown at the end: %+v, want 3 and 4", last.Versions)
	}
	seen := map[string]bool{}
	for _, e := range last.Errors {
		seen[e.Type] = true
	}
	for _, typ := range []string{"PaymentDeclined", "InventoryUnavailable", "StepFailedError", errNone, errUnknown} {
		if !seen[typ] {
			t.Errorf("error type %q never counted: the test covers too little (%v)", typ, last.Errors)
		}
	}
}

// TestErrorReadsAreBudgeted: a burst of 100 failures, polled by a real
// Manager through the real SDK on the fake clock, with an error-read
// budget of 1 per second and a 10 s interval. finished_total shows all 100
// after the poll that sees them; the error counts follow at the budget's
// pace (at most half an interval of reads per poll), the pending gauge
// falls to 0, and then the error counts add up to finished_total. No poll
// is late for the reads.
func TestErrorReadsAreBudgeted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newPipeEnv(t, lambdasim.Options{ErrorTypes: map[string][]string{"orders": {"A", "B", "C"}}})
		e.sim.AddFunction("orders", []string{"$LATEST", "1"}, nil)
		m, ctx := e.manager(t)
		const interval = 10 * time.Second
		pool := e.pool(100)
		pool.Limits.ErrorReadsPerSecond = 1
		spec := quietSpec("orders")
		spec.ByErrorType = true
		m.Apply(ctx, Settings{Interval: interval, Overlap: time.Minute, Pool: pool}, []Spec{spec})
		time.Sleep(interval / 2)
		for i := range 100 {
			arn := e.sim.Start("orders", "1", fmt.Sprintf("f-%d", i), time.Now())
			_ = e.sim.End(arn, lambdasim.StatusFailed, time.Now())
		}
		time.Sleep(interval) // one poll later
		s := m.Snapshots()[0]
		if s.Finished[durable.Failed] != 100 {
			t.Fatalf("finished{FAILED} = %d one poll after the burst, want 100: counting waited for the reads", s.Finished[durable.Failed])
		}
		if s.PendingErrors < 90 {
			t.Fatalf("%d error reads pending after one poll at 1/s; want over 90", s.PendingErrors)
		}
		e.sim.ResetRequests()
		start := time.Now()
		for m.Snapshots()[0].PendingErrors > 0 {
			if time.Since(start) > 10*time.Minute {
				t.Fatalf("error reads still pending after 10 minutes: %d", m.Snapshots()[0].PendingErrors)
			}
			time.Sleep(interval)
		}
		took := time.Since(start)
		gets := e.sim.Requests()[lambdasim.OpGet]
		t.Logf("backlog of 100 read in %v with %d reads", took, gets)
		// At 1/s, reading for half of each 10 s interval: 5 a poll, so
		// about 200 s for the rest; never more than the budget allows.
		if limit := int(took.Seconds()) + 2; gets > limit {
			t.Errorf("%d error reads in %v: above the budget of 1/s", gets, took)
		}
		if took < 150*time.Second || took > 260*time.Second {
			t.Errorf("the backlog took %v to read; at 1/s for half of each 10s interval it takes about 200s", took)
		}
		// Polls kept their schedule meanwhile: two listings a poll.
		if lists, want := e.sim.Requests()[lambdasim.OpList], 2*int(took/interval); lists+2 < want {
			t.Errorf("%d listings in %v, want about %d: the reads delayed the polls", lists, took, want)
		}
		s = m.Snapshots()[0]
		var sum uint64
		for _, x := range s.Errors {
			sum += x.Count
		}
		if sum != 100 || len(s.Errors) != 3 {
			t.Errorf("errors %v add up to %d, want 100 over A, B and C", s.Errors, sum)
		}
	})
}
