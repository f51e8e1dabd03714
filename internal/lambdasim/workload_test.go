package lambdasim_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

var allStatuses = []string{lambdasim.StatusRunning, lambdasim.StatusSucceeded, lambdasim.StatusFailed,
	lambdasim.StatusTimedOut, lambdasim.StatusStopped}

func all(s *lambdasim.Server, fns []string) []lambdasim.Execution {
	var out []lambdasim.Execution
	for _, f := range fns {
		out = append(out, s.Executions(f)...)
	}
	return out
}

func statusCounts(ex []lambdasim.Execution) map[string]int {
	m := map[string]int{}
	for _, e := range ex {
		m[e.Status]++
	}
	return m
}

// waitFor polls cond for up to 20s of real time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func runWorkload(t *testing.T, s *lambdasim.Server, w lambdasim.Workload) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.RunWorkload(ctx, w)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("RunWorkload did not return after cancel")
		}
	})
}

func TestWorkloadBacklog(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	fns := []string{"order-workflow", "billing", "nightly-report"}
	runWorkload(t, h.sim, lambdasim.Workload{Seed: 1, Tick: 5 * time.Millisecond})
	waitFor(t, "backlog", func() bool { return len(all(h.sim, fns)) >= 3000 })

	ex := all(h.sim, fns)
	if len(ex) != 3000 {
		t.Fatalf("%d executions, want exactly MaxBacklog (3000) with a frozen clock", len(ex))
	}
	counts := statusCounts(ex)
	for _, st := range allStatuses {
		if counts[st] == 0 {
			t.Errorf("no %s in backlog: %v", st, counts)
		}
	}
	if counts[lambdasim.StatusSucceeded] < len(ex)/2 {
		t.Errorf("SUCCEEDED not the majority: %v", counts)
	}
	longRunning, perFn := 0, map[string]int{}
	for _, e := range ex {
		perFn[e.Function]++
		if e.Start.Before(t0.Add(-24*time.Hour)) || !e.Start.Before(t0) {
			t.Fatalf("start %v outside the backlog window", e.Start)
		}
		if e.Status == lambdasim.StatusRunning && e.Start.Before(t0.Add(-12*time.Hour)) {
			longRunning++
		}
		if e.Status != lambdasim.StatusRunning && (e.End.Before(e.Start) || e.End.After(t0)) {
			t.Fatalf("end %v of %+v", e.End, e)
		}
	}
	if longRunning == 0 {
		t.Error("no execution has been running for over 12h")
	}
	if perFn["order-workflow"] <= perFn["nightly-report"] || perFn["nightly-report"] == 0 {
		t.Errorf("per-function counts %v", perFn)
	}
	// Functions are registered with versions and the live alias.
	items, _ := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{
		FunctionName: aws.String("billing"), Qualifier: aws.String("live"), MaxItems: 1000,
	})
	n2 := 0
	for _, e := range h.sim.Executions("billing") {
		if e.Version == "2" {
			n2++
		}
	}
	if len(items) != n2 || n2 == 0 {
		t.Fatalf("live alias listing %d, want %d", len(items), n2)
	}
}

func TestWorkloadLive(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	fns := []string{"a", "b"}
	runWorkload(t, h.sim, lambdasim.Workload{Functions: fns, Rate: 5, Backlog: -1, Seed: 2, Tick: 2 * time.Millisecond})
	time.Sleep(20 * time.Millisecond)
	if n := len(all(h.sim, fns)); n != 0 {
		t.Fatalf("%d executions with no backlog and a frozen clock", n)
	}

	// Ten simulated minutes in 5s steps.
	for i := 1; i <= 120; i++ {
		h.clock.Advance(5 * time.Second)
		now := h.clock.Now()
		// Wait until the generator has caught up with the clock: some
		// execution has started within the last 20s of simulated time.
		waitFor(t, fmt.Sprintf("step %d", i), func() bool {
			ex := all(h.sim, fns)
			for _, e := range ex {
				if !e.Start.Before(now.Add(-20 * time.Second)) {
					return true
				}
			}
			return false
		})
	}
	end := h.clock.Now()
	ex := all(h.sim, fns)
	if len(ex) < 2400 || len(ex) > 3600 {
		t.Fatalf("%d starts in 600s at 5/s", len(ex))
	}
	waitFor(t, "all statuses", func() bool {
		c := statusCounts(all(h.sim, fns))
		for _, st := range allStatuses {
			if c[st] == 0 {
				return false
			}
		}
		return true
	})
	// Several start and end in every few seconds.
	for w := t0; w.Before(end.Add(-30 * time.Second)); w = w.Add(30 * time.Second) {
		starts, ends := 0, 0
		for _, e := range all(h.sim, fns) {
			if !e.Start.Before(w) && e.Start.Before(w.Add(30*time.Second)) {
				starts++
			}
			if !e.End.IsZero() && !e.End.Before(w) && e.End.Before(w.Add(30*time.Second)) {
				ends++
			}
		}
		if starts < 50 || ends < 20 {
			t.Fatalf("window %v: %d starts, %d ends", w.Sub(t0), starts, ends)
		}
	}
	for _, e := range ex {
		if !e.Start.After(t0) || e.Start.After(end) || e.VisibleAt.Before(e.Start) || e.VisibleAt.After(e.Start.Add(2*time.Second)) {
			t.Fatalf("execution %+v outside the run", e)
		}
	}
}

// TestWorkloadLongRunners: the long runners asked for start that long
// before the workload and keep running.
func TestWorkloadLongRunners(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	ages := []time.Duration{30 * time.Hour, 9 * 24 * time.Hour}
	runWorkload(t, h.sim, lambdasim.Workload{Seed: 1, Tick: 5 * time.Millisecond, Backlog: -1,
		Functions: []string{"billing"}, LongRunners: map[string][]time.Duration{"billing": ages}})
	waitFor(t, "long runners", func() bool { return len(all(h.sim, []string{"billing"})) >= 2 })
	var got []time.Duration
	for _, e := range all(h.sim, []string{"billing"}) {
		if e.Status != lambdasim.StatusRunning {
			t.Fatalf("%s is %s", e.ARN, e.Status)
		}
		got = append(got, t0.Sub(e.Start))
	}
	slices.Sort(got)
	if !slices.Equal(got, ages) {
		t.Fatalf("long runners aged %v, want %v", got, ages)
	}
}

func TestWorkloadErrorTypes(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	fns := []string{"a", "b"}
	types := []string{"X", "Y", "Z"}
	runWorkload(t, h.sim, lambdasim.Workload{Functions: fns, Seed: 3, MaxBacklog: 300, Tick: 5 * time.Millisecond,
		ErrorTypes: map[string][]string{"a": types}})
	waitFor(t, "backlog", func() bool { return len(all(h.sim, fns)) >= 300 })
	seen := map[string]map[string]int{"a": {}, "b": {}}
	for _, e := range all(h.sim, fns) {
		if e.Status != lambdasim.StatusFailed {
			continue
		}
		out, err := h.client.GetDurableExecution(context.Background(), &lambda.GetDurableExecutionInput{DurableExecutionArn: aws.String(e.ARN)})
		if err != nil {
			t.Fatal(err)
		}
		seen[e.Function][aws.ToString(out.Error.ErrorType)]++
	}
	for typ := range seen["a"] {
		if !slices.Contains(types, typ) {
			t.Errorf("function a: error type %q", typ)
		}
	}
	if len(seen["a"]) < 2 {
		t.Errorf("function a: error types %v, want several of %v", seen["a"], types)
	}
	if len(seen["b"]) != 1 || seen["b"]["StepFailedError"] == 0 {
		t.Errorf("function b: error types %v, want StepFailedError only", seen["b"])
	}
}

// TestWorkloadSteadyState: with MaxDuration, the number of RUNNING
// executions starts at its steady state and stays there (the demo's counts
// must not climb for as long as it runs, like a leak), while without it the
// heavy tail makes the count climb. On the fake clock of a synctest bubble:
// 40 simulated minutes at 2 starts a second.
func TestWorkloadSteadyState(t *testing.T) {
	running := func(s *lambdasim.Server, fns []string) int {
		return statusCounts(all(s, fns))[lambdasim.StatusRunning]
	}
	run := func(maxDuration time.Duration) (first, lowest, highest int) {
		synctest.Test(t, func(t *testing.T) {
			sim := lambdasim.New(lambdasim.Options{})
			fns := []string{"a", "b"}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				sim.RunWorkload(ctx, lambdasim.Workload{Seed: 3, Functions: fns, MaxDuration: maxDuration})
			}()
			time.Sleep(time.Second)
			first = running(sim, fns)
			lowest, highest = first, first
			for range 40 {
				time.Sleep(time.Minute)
				n := running(sim, fns)
				lowest, highest = min(lowest, n), max(highest, n)
			}
			cancel()
			<-done
		})
		return first, lowest, highest
	}
	first, lo, hi := run(15 * time.Minute)
	t.Logf("MaxDuration 15m: RUNNING %d at the start, %d..%d over 40 minutes", first, lo, hi)
	if first < 100 || float64(lo) < 0.75*float64(first) || float64(hi) > 1.25*float64(first) {
		t.Errorf("with MaxDuration 15m, RUNNING starts at %d and ranges %d..%d over 40 minutes: not steady (within 25%%)", first, lo, hi)
	}
	first, lo, hi = run(0)
	t.Logf("no MaxDuration: RUNNING %d at the start, %d..%d over 40 minutes", first, lo, hi)
	if float64(hi) < 1.5*float64(first) {
		t.Errorf("without MaxDuration, RUNNING goes from %d to at most %d: the comparison shows nothing", first, hi)
	}
}
