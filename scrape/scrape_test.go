package scrape_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
)

var base = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// setup serves a simulated API over HTTP and returns a client that talks to
// it through the real SDK: signing, retries, paging, error decoding.
func setup(t *testing.T, o lambdasim.Options, pageSize int) (*lambdasim.Server, *scrape.Client, *scrape.Metrics) {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return base.Add(time.Hour) }
	}
	sim := lambdasim.New(o)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	m := scrape.NewMetrics("lambda_durable")
	pool := scrape.NewPool(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}, scrape.PoolOptions{Endpoint: srv.URL, PageSize: pageSize, BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, Metrics: m})
	return sim, pool.Client(scrape.Access{}), m
}

func populate(sim *lambdasim.Server, fn string, n int) []string {
	sim.AddFunction(fn, []string{"$LATEST", "1", "2"}, map[string]string{"live": "2"})
	arns := make([]string, n)
	for i := range n {
		v := []string{"$LATEST", "1", "2"}[i%3]
		arns[i] = sim.Start(fn, v, fmt.Sprintf("exec-%d", i), base.Add(time.Duration(i)*time.Second))
		switch i % 5 {
		case 1:
			_ = sim.End(arns[i], lambdasim.StatusSucceeded, base.Add(time.Duration(i)*time.Second+1500*time.Millisecond))
		case 2:
			_ = sim.End(arns[i], lambdasim.StatusFailed, base.Add(time.Duration(i+60)*time.Second))
		}
	}
	return arns
}

func collect(t *testing.T, c *scrape.Client, q scrape.Query) ([]scrape.Execution, int, error) {
	t.Helper()
	var out []scrape.Execution
	pages, err := c.List(context.Background(), q, func(e scrape.Execution) { out = append(out, e) })
	return out, pages, err
}

func TestListFollowsEveryPage(t *testing.T) {
	for _, newestFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("reverseMeansNewestFirst=%v", newestFirst), func(t *testing.T) {
			sim, c, m := setup(t, lambdasim.Options{ReverseMeansNewestFirst: newestFirst}, 100)
			arns := populate(sim, "orders", 2345)
			got, pages, err := collect(t, c, scrape.Query{FunctionName: "orders"})
			if err != nil {
				t.Fatal(err)
			}
			if pages != 24 || len(got) != 2345 {
				t.Fatalf("got %d executions in %d pages, want 2345 in 24", len(got), pages)
			}
			seen := map[string]bool{}
			for _, e := range got {
				seen[e.ARN] = true
			}
			for _, a := range arns {
				if !seen[a] {
					t.Fatalf("execution %s missing", a)
				}
			}
			if v := testutil.ToFloat64(m.Requests.WithLabelValues(scrape.OpList, scrape.OutcomeSuccess)); v != 24 {
				t.Errorf("api_requests_total{success} = %v, want 24", v)
			}
		})
	}
}

func TestListConvertsFields(t *testing.T) {
	sim, c, _ := setup(t, lambdasim.Options{}, 1000)
	arns := populate(sim, "orders", 5)
	got, _, err := collect(t, c, scrape.Query{FunctionName: "orders", ExecutionName: "exec-2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("exact name filter returned %d executions", len(got))
	}
	e := got[0]
	want := scrape.Execution{
		ARN: arns[2], Name: "exec-2", FunctionARN: sim.FunctionARN("orders") + ":2",
		Status: durable.Failed, RawStatus: "FAILED",
		Start: base.Add(2 * time.Second).UnixMilli(), End: base.Add(62 * time.Second).UnixMilli(),
	}
	if e != want {
		t.Fatalf("got %+v\nwant %+v", e, want)
	}
}

func TestListFilters(t *testing.T) {
	sim, c, _ := setup(t, lambdasim.Options{}, 1000)
	populate(sim, "orders", 300)
	acct := sim.AccountID()
	cases := []struct {
		name string
		q    scrape.Query
		want int
	}{
		{"all", scrape.Query{FunctionName: "orders"}, 300},
		{"version", scrape.Query{FunctionName: "orders", Qualifier: "1"}, 100},
		{"alias", scrape.Query{FunctionName: "orders", Qualifier: "live"}, 100},
		{"latest", scrape.Query{FunctionName: "orders", Qualifier: "$LATEST"}, 100},
		{"status", scrape.Query{FunctionName: "orders", Status: durable.Failed}, 60},
		{"running", scrape.Query{FunctionName: "orders", Status: durable.Running}, 180},
		{"full ARN", scrape.Query{FunctionName: "arn:aws:lambda:us-east-1:" + acct + ":function:orders"}, 300},
		{"partial ARN", scrape.Query{FunctionName: acct + ":function:orders"}, 300},
		{"started after", scrape.Query{FunctionName: "orders", StartedAfter: base.Add(199 * time.Second)}, 100},
		{"started range", scrape.Query{FunctionName: "orders", StartedAfter: base.Add(9 * time.Second), StartedBefore: base.Add(20 * time.Second)}, 10},
		{"name", scrape.Query{FunctionName: "orders", ExecutionName: "exec-1"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := collect(t, c, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Fatalf("got %d executions, want %d", len(got), tc.want)
			}
		})
	}
}

// An offset-style marker repeats an item when an execution starts between
// two page requests: the scraper reports what it got, the poller dedupes.
func TestListRepeatedItemAcrossPages(t *testing.T) {
	var sim *lambdasim.Server
	sim, c, _ := setup(t, lambdasim.Options{OffsetMarkers: true, ReverseMeansNewestFirst: true,
		Intercept: func(r lambdasim.Request) *lambdasim.Fault {
			if r.Op == lambdasim.OpList && r.N == 2 {
				sim.Start("orders", "1", "late", base.Add(50*time.Minute))
			}
			return nil
		}}, 100)
	populate(sim, "orders", 250)
	got, pages, err := collect(t, c, scrape.Query{FunctionName: "orders", ReverseOrder: true})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	dups := 0
	for _, e := range got {
		count[e.ARN]++
		if count[e.ARN] == 2 {
			dups++
		}
	}
	if pages != 3 || dups == 0 {
		t.Fatalf("pages=%d items=%d duplicates=%d: the offset marker should have repeated an item", pages, len(got), dups)
	}
}

func TestThrottleThenSuccessHonoursRetryAfter(t *testing.T) {
	sim, c, m := setup(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		if r.N == 1 {
			return &lambdasim.Fault{Status: 429, ErrorType: "TooManyRequestsException", Reason: "CallerRateLimitExceeded", RetryAfter: "1"}
		}
		return nil
	}}, 100)
	populate(sim, "orders", 10)
	start := time.Now()
	got, _, err := collect(t, c, scrape.Query{FunctionName: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 {
		t.Fatalf("got %d executions", len(got))
	}
	// A lower bound, not a performance assertion: the retry waited for the
	// Retry-After the service asked for.
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("retried after %v, before the 1s Retry-After", waited)
	}
	if v := testutil.ToFloat64(m.Requests.WithLabelValues(scrape.OpList, scrape.OutcomeThrottled)); v != 1 {
		t.Errorf("throttled requests = %v, want 1", v)
	}
	if v := testutil.ToFloat64(m.Requests.WithLabelValues(scrape.OpList, scrape.OutcomeSuccess)); v != 1 {
		t.Errorf("successful requests = %v, want 1", v)
	}
}

func TestServerErrorMidPagination(t *testing.T) {
	t.Run("transient: retried", func(t *testing.T) {
		sim, c, m := setup(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
			if r.N == 3 {
				return &lambdasim.Fault{Status: 500, ErrorType: "ServiceException"}
			}
			return nil
		}}, 100)
		populate(sim, "orders", 450)
		got, pages, err := collect(t, c, scrape.Query{FunctionName: "orders"})
		if err != nil || len(got) != 450 || pages != 5 {
			t.Fatalf("got %d executions in %d pages, err %v", len(got), pages, err)
		}
		if v := testutil.ToFloat64(m.Requests.WithLabelValues(scrape.OpList, scrape.OutcomeError)); v != 1 {
			t.Errorf("error requests = %v, want 1", v)
		}
	})
	t.Run("persistent: the listing fails", func(t *testing.T) {
		sim, c, _ := setup(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
			if r.N >= 3 {
				return &lambdasim.Fault{Status: 500, ErrorType: "ServiceException"}
			}
			return nil
		}}, 100)
		populate(sim, "orders", 450)
		_, pages, err := collect(t, c, scrape.Query{FunctionName: "orders"})
		if err == nil || pages != 2 || !strings.Contains(err.Error(), "page 3") {
			t.Fatalf("pages=%d err=%v, want a failure on page 3", pages, err)
		}
	})
}

func TestRepeatedMarkerFailsTheListing(t *testing.T) {
	var n atomic.Int32
	_, c, _ := setup(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		n.Add(1)
		return &lambdasim.Fault{Body: []byte(`{"DurableExecutions":[],"NextMarker":"same"}`)}
	}}, 100)
	_, _, err := collect(t, c, scrape.Query{FunctionName: "orders"})
	if !errors.Is(err, scrape.ErrRepeatedMarker) {
		t.Fatalf("err = %v, want ErrRepeatedMarker", err)
	}
	if n.Load() != 2 {
		t.Errorf("made %d requests, want 2", n.Load())
	}
}

func TestMalformedPageFailsTheListing(t *testing.T) {
	sim, c, _ := setup(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		return &lambdasim.Fault{Truncate: true}
	}}, 100)
	populate(sim, "orders", 20)
	if _, _, err := collect(t, c, scrape.Query{FunctionName: "orders"}); err == nil {
		t.Fatal("a truncated JSON page must fail the listing")
	}
}

func TestGet(t *testing.T) {
	sim, c, m := setup(t, lambdasim.Options{}, 100)
	arns := populate(sim, "orders", 3)
	e, err := c.Get(context.Background(), arns[1])
	if err != nil {
		t.Fatal(err)
	}
	if e.ARN != arns[1] || e.Status != durable.Succeeded || e.End-e.Start != 1500 {
		t.Fatalf("got %+v", e)
	}
	_, err = c.Get(context.Background(), strings.Replace(arns[1], "exec-1", "nope", 1))
	if !errors.Is(err, scrape.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if v := testutil.ToFloat64(m.Requests.WithLabelValues(scrape.OpGet, scrape.OutcomeSuccess)); v != 1 {
		t.Errorf("get successes = %v, want 1", v)
	}
}
