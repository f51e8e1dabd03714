package poller

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/collector"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
)

// TestIdleTargetsArePolledLessOften: with MaxIdle set, a function with
// nothing running and nothing new is polled at doubling intervals up to
// MaxIdle, a new execution is still seen within that bound, and activity
// brings polling back to every interval.
func TestIdleTargetsArePolledLessOften(t *testing.T) {
	sim := lambdasim.New(lambdasim.Options{})
	sim.AddFunction("quiet", []string{"$LATEST"}, nil)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	pool := scrape.NewPool(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "S", "")},
		scrape.PoolOptions{Endpoint: srv.URL, PageSize: 100})
	m := NewManager(slog.New(slog.NewTextHandler(io.Discard, nil)), func(Spec) Source { return pool.Client(scrape.Access{}) }, nil)
	const interval, maxIdle = 50 * time.Millisecond, 400 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); m.Wait() }()
	m.Apply(ctx, Settings{Interval: interval, MaxIdle: maxIdle, Overlap: time.Minute, PageSize: 100, ListRate: 1000, GetRate: 1000},
		[]Spec{{Target: collector.Target{Function: "quiet", Region: "us-east-1"}, Key: "quiet", APIName: "quiet", Window: time.Hour}})

	// Each poll of an idle function is two listings (running, new starts).
	time.Sleep(2500 * time.Millisecond)
	polls := sim.Requests()[lambdasim.OpList] / 2
	// Every 50ms would be 50 polls; doubling up to 400ms is about 9.
	if polls > 20 || polls < 4 {
		t.Fatalf("%d polls of an idle function in 2.5s; want about 9 (50 without idle backoff)", polls)
	}

	// A change is seen within MaxIdle (plus a poll), not at the next
	// regular interval of a busy function.
	start := time.Now()
	sim.Start("quiet", "$LATEST", "wake", time.Now())
	for {
		s := m.Snapshots()[0]
		if s.Primed && s.InWindow[durable.Running] == 1 {
			break
		}
		if time.Since(start) > maxIdle+time.Second {
			t.Fatalf("a new execution of an idle function not seen within %v", maxIdle+time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Now something runs: back to every interval.
	sim.ResetRequests()
	time.Sleep(time.Second)
	if polls := sim.Requests()[lambdasim.OpList] / 2; polls < 10 {
		t.Fatalf("%d polls in 1s of a function with a running execution; want about 20", polls)
	}
}
