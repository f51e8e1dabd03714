package poller

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// TestManagerLifecycleLeaksNothing runs a Manager (50ms interval, on the
// fake clock of a synctest bubble) against the simulated API over HTTP in
// memory, through the real SDK: it is not ready while
// the first polls cannot finish and ready once they have; a reload that
// keeps one target, removes one and adds one carries the kept target's
// counts over (no reset, no burst) and drops the removed one's snapshot;
// after the context ends, Wait returns, and once the test's own HTTP server
// is closed not one goroutine started by the test is left (and the bubble
// would fail the test if one were still blocked).
func TestManagerLifecycleLeaksNothing(t *testing.T) { synctest.Test(t, testManagerLifecycle) }

func testManagerLifecycle(t *testing.T) {
	before := goroutineIDs()

	var gateOpen atomic.Bool
	opened := make(chan struct{})
	sim := lambdasim.New(lambdasim.Options{Intercept: func(lambdasim.Request) *lambdasim.Fault {
		if !gateOpen.Load() {
			// Hold every request until the test opens the gate (a fault with
			// a Delay would not do: the client must not get an answer).
			<-opened
		}
		return nil
	}})
	now := time.Now()
	running := map[string][]string{}
	for _, fn := range []string{"orders", "billing", "shipping"} {
		sim.AddFunction(fn, []string{"$LATEST", "1"}, nil)
		for i := 0; i < 40; i++ {
			at := now.Add(-time.Duration(i+1) * time.Minute)
			arn := sim.Start(fn, "1", fmt.Sprintf("%s-%d", fn, i), at)
			if i%2 == 0 {
				if err := sim.End(arn, lambdasim.StatusSucceeded, at.Add(time.Second)); err != nil {
					t.Fatal(err)
				}
			} else {
				running[fn] = append(running[fn], arn)
			}
		}
	}
	pipe := lambdasim.NewPipe(sim)
	serverClosed := false
	closeServer := func() {
		if !serverClosed {
			serverClosed = true
			gateOpen.Store(true)
			select {
			case <-opened:
			default:
				close(opened)
			}
			_ = pipe.Close()
		}
	}
	defer closeServer()

	pool := scrape.NewPool(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}, scrape.PoolOptions{Endpoint: lambdasim.PipeURL, Dialer: pipe, PageSize: 100, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	m := NewManager(Options{Connect: func(scrape.PoolOptions) SourceFunc {
		return func(sp Spec) Source { return pool.Client(sp.Access()) }
	}})

	spec := func(fn string) Spec {
		return Spec{Target: snapshot.Target{Function: fn, Region: "us-east-1"}, Key: fn, APIName: fn, Window: time.Hour}
	}
	s := Settings{Interval: 50 * time.Millisecond, Overlap: time.Minute, Resync: time.Hour, MaxConcurrency: 2,
		Pool: scrape.PoolOptions{PageSize: 100, Limits: scrape.Limits{ListPerSecond: 1000, GetPerSecond: 1000}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	m.Apply(ctx, s, []Spec{spec("orders"), spec("billing")})
	time.Sleep(150 * time.Millisecond) // the loops are running, their first requests held
	if m.Ready() {
		t.Fatal("ready before any poll could finish")
	}
	if got := functions(m.Snapshots()); !slices.Equal(got, []string{"orders", "billing"}) {
		t.Fatalf("snapshots before the first polls: %v", got)
	}
	for _, sn := range m.Snapshots() {
		if sn.Primed || sn.PollSuccess {
			t.Fatalf("%s: primed=%v success=%v before its first poll finished", sn.Function, sn.Primed, sn.PollSuccess)
		}
	}
	gateOpen.Store(true)
	close(opened)
	waitFor(t, "ready after the first polls", m.Ready)

	// Executions end after the baseline: each is counted once.
	end := func(fn string, n int) {
		for _, arn := range running[fn][:n] {
			if err := sim.End(arn, lambdasim.StatusFailed, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		running[fn] = running[fn][n:]
	}
	end("orders", 3)
	end("billing", 2)
	waitFor(t, "orders and billing to count their ended executions", func() bool {
		return finished(m, "orders", durable.Failed) == 3 && finished(m, "billing", durable.Failed) == 2
	})

	// Reload: orders stays as it was, billing goes, shipping comes.
	keptBefore := snapshotOf(m, "orders")
	m.Apply(ctx, s, []Spec{spec("orders"), spec("shipping")})
	if got := functions(m.Snapshots()); !slices.Equal(got, []string{"orders", "shipping"}) {
		t.Fatalf("snapshots after the reload: %v, want orders and shipping (billing removed)", got)
	}
	kept := snapshotOf(m, "orders")
	if kept.Finished != keptBefore.Finished || kept.Durations != keptBefore.Durations || !kept.Primed {
		t.Fatalf("the kept target's counts changed at the reload: %v -> %v", keptBefore.Finished, kept.Finished)
	}
	waitFor(t, "ready after the reload", m.Ready)
	end("orders", 2)
	end("shipping", 1)
	waitFor(t, "the kept target to go on counting from where it was", func() bool {
		return finished(m, "orders", durable.Failed) == 5 && finished(m, "shipping", durable.Failed) == 1
	})
	time.Sleep(150 * time.Millisecond) // a few more polls: nothing counted twice
	if f := finished(m, "orders", durable.Failed); f != 5 {
		t.Fatalf("orders finished{status=FAILED} = %d, want 5", f)
	}
	if f := finished(m, "orders", durable.Succeeded); f != 0 {
		t.Fatalf("orders finished{status=SUCCEEDED} = %d: executions that ended before the baseline were counted", f)
	}
	if sn := snapshotOf(m, "orders"); sn.InWindow[durable.Running] != uint64(len(running["orders"])) {
		t.Fatalf("orders running = %d, want %d", sn.InWindow[durable.Running], len(running["orders"]))
	}

	cancel()
	waited := make(chan struct{})
	go func() { m.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the context ended")
	}
	closeServer()
	verifyNoLeaks(t, before)
}

func functions(snaps []*snapshot.Snapshot) []string {
	var out []string
	for _, s := range snaps {
		out = append(out, s.Function)
	}
	return out
}

func snapshotOf(m *Manager, fn string) *snapshot.Snapshot {
	for _, s := range m.Snapshots() {
		if s.Function == fn {
			return s
		}
	}
	return nil
}

func finished(m *Manager, fn string, s durable.Status) uint64 {
	if sn := snapshotOf(m, fn); sn != nil {
		return sn.Finished[s]
	}
	return 0
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goroutineIDs returns the stack of every goroutine by its id.
func goroutineIDs() map[string]string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		// "goroutine 42 [chan receive]:\n..."
		if f := strings.Fields(g); len(f) > 1 && f[0] == "goroutine" {
			out[f[1]] = g
		}
	}
	return out
}

// verifyNoLeaks fails the test if goroutines that were not there in before
// are still running after a grace period (goroutines that are ending, such
// as a closed connection's read loop, get a few seconds). This is what
// goleak.VerifyNone(t, goleak.IgnoreCurrent()) does; the module does not
// require go.uber.org/goleak.
func verifyNoLeaks(t *testing.T, before map[string]string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var leaked []string
		for id, g := range goroutineIDs() {
			if _, ok := before[id]; !ok {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			slices.Sort(leaked)
			t.Fatalf("%d goroutines leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
