package fleet

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/poller"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/shard"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// snapshotOf returns the latest snapshot of the target named function.
func snapshotOf(m *poller.Manager, function string) *snapshot.Snapshot {
	for _, s := range m.Snapshots() {
		if s.Function == function {
			return s
		}
	}
	return nil
}

// waitSnapshot waits until the snapshot of function satisfies ok.
func waitSnapshot(t *testing.T, m *poller.Manager, function, what string, ok func(*snapshot.Snapshot) bool) *snapshot.Snapshot {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if s := snapshotOf(m, function); s != nil && ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not within 15s; snapshot %+v", function, what, snapshotOf(m, function))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestExecutionTimeoutReachesSnapshot runs the fleet with a real poller
// manager against the simulated API: a static function's timeout, read with
// GetFunctionConfiguration, and a discovered one's, from ListFunctions, reach
// their snapshots; a timeout changed in AWS reaches them on the next refresh
// without resetting the counts; a static function whose configuration cannot
// be read has no timeout and is polled all the same; while reads fail, the
// last known timeout stays.
func TestExecutionTimeoutReachesSnapshot(t *testing.T) {
	var failReads atomic.Bool
	sim := lambdasim.New(lambdasim.Options{AccountID: acctA, Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		if r.Op == lambdasim.OpGetFunctionConfiguration && failReads.Load() {
			return &lambdasim.Fault{Status: 403, ErrorType: "AccessDeniedException"}
		}
		return nil
	}})
	sim.AddFunction("orders", []string{"$LATEST", "2"}, map[string]string{"live": "2"})
	sim.SetExecutionTimeout("orders", 2*time.Hour)
	sim.SetExecutionTimeout("disc-a", 30*time.Minute)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	base := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	running := sim.Start("orders", "2", "r-1", time.Now().Add(-time.Minute))

	mgr := poller.NewManager(poller.Options{Connect: poller.Connect(base, nil)})
	f := New(Options{
		Logger:        slog.New(slog.DiscardHandler),
		Connect:       Connect(base, nil),
		Manager:       mgr,
		Shard:         shard.All,
		DefaultRegion: "us-east-1",
	}, NewMetrics("lambda_durable"))
	c := parse(t, `
region: us-east-1
account_id: "`+acctA+`"
interval: 1s
overlap: 1m
window: 1h
functions:
  - name: orders
    qualifier: live
  - name: ghost       # unknown to the API: no timeout, the poll fails
discovery:
  - regions: [us-east-1]
    name_pattern: "^disc-"
    refresh: 100ms    # the static functions' timeouts are read as often
`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx, c) }()
	t.Cleanup(func() { cancel(); <-done; mgr.Wait() })

	waitSnapshot(t, mgr, "orders", "a primed snapshot with the 2h timeout", func(s *snapshot.Snapshot) bool {
		return s.Primed && s.ExecutionTimeout == 7200
	})
	waitSnapshot(t, mgr, "disc-a", "the discovered 30m timeout", func(s *snapshot.Snapshot) bool {
		return s.ExecutionTimeout == 1800
	})
	if err := sim.End(running, lambdasim.StatusSucceeded, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, mgr, "orders", "the finished execution counted", func(s *snapshot.Snapshot) bool {
		return s.Finished[durable.Succeeded] == 1
	})

	sim.SetExecutionTimeout("orders", 3*time.Hour)
	sim.SetExecutionTimeout("disc-a", 45*time.Minute)
	s := waitSnapshot(t, mgr, "orders", "the new 3h timeout", func(s *snapshot.Snapshot) bool { return s.ExecutionTimeout == 10800 })
	if s.Finished[durable.Succeeded] != 1 || !s.Primed {
		t.Errorf("after the timeout changed: finished SUCCEEDED = %d, primed %v; want 1, true (no reset)", s.Finished[durable.Succeeded], s.Primed)
	}
	waitSnapshot(t, mgr, "disc-a", "the new discovered 45m timeout", func(s *snapshot.Snapshot) bool { return s.ExecutionTimeout == 2700 })

	// Reads that fail keep the last known timeout.
	failReads.Store(true)
	sim.SetExecutionTimeout("orders", 4*time.Hour)
	n := sim.Requests()[lambdasim.OpGetFunctionConfiguration]
	for deadline := time.Now().Add(15 * time.Second); sim.Requests()[lambdasim.OpGetFunctionConfiguration] < n+4; {
		if time.Now().After(deadline) {
			t.Fatal("the timeouts were not read again within 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := snapshotOf(mgr, "orders"); s.ExecutionTimeout != 10800 {
		t.Errorf("timeout while its reads fail = %v, want the last known 10800", s.ExecutionTimeout)
	}
	failReads.Store(false)
	waitSnapshot(t, mgr, "orders", "the 4h timeout once reads work again", func(s *snapshot.Snapshot) bool { return s.ExecutionTimeout == 14400 })

	if g := snapshotOf(mgr, "ghost"); g == nil || g.ExecutionTimeout != 0 {
		t.Errorf("ghost snapshot %+v, want one without a timeout", g)
	}
	if n := sim.Requests()[lambdasim.OpGetFunctionConfiguration]; n < 4 {
		t.Errorf("%d GetFunctionConfiguration requests, want the two static functions read at least twice", n)
	}
}
