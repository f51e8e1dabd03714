package lambdasim_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

// t0 is the fake clock's start; its millisecond fraction exercises the
// timestamp encoding.
var t0 = time.Date(2025, 11, 28, 9, 0, 0, 123_000_000, time.UTC)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recorded is what the server saw of one request.
type recorded struct {
	Method, EscapedPath string
	RawQuery            string
	Query               url.Values
	Header              http.Header
}

// harness is a simulator behind httptest with a real SDK client.
type harness struct {
	sim    *lambdasim.Server
	clock  *fakeClock
	url    string
	client *lambda.Client

	mu   sync.Mutex
	seen []recorded
}

func newHarness(t testing.TB, o lambdasim.Options) *harness {
	t.Helper()
	h := &harness{clock: newClock(t0)}
	if o.Now == nil {
		o.Now = h.clock.Now
	}
	h.sim = lambdasim.New(o)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.seen = append(h.seen, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.URL.Query(), r.Header.Clone()})
		h.mu.Unlock()
		h.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	h.client = newClient(srv.URL, srv.Client())
	return h
}

func (h *harness) last() recorded {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[len(h.seen)-1]
}

// newClient returns a real SDK client for url with retries disabled.
func newClient(url string, hc *http.Client) *lambda.Client {
	return lambda.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		HTTPClient:       hc,
		RetryMaxAttempts: 1,
	}, func(o *lambda.Options) { o.BaseEndpoint = aws.String(url) })
}

// listAll pages through a listing with the SDK paginator and returns the
// items and the page sizes.
func listAll(t testing.TB, c *lambda.Client, in *lambda.ListDurableExecutionsByFunctionInput) ([]types.Execution, []int) {
	t.Helper()
	p := lambda.NewListDurableExecutionsByFunctionPaginator(c, in)
	var items []types.Execution
	var sizes []int
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("page %d: %v", len(sizes)+1, err)
		}
		items = append(items, out.DurableExecutions...)
		sizes = append(sizes, len(out.DurableExecutions))
	}
	return items, sizes
}

func arns(items []types.Execution) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = aws.ToString(it.DurableExecutionArn)
	}
	return out
}

func names(items []types.Execution) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = aws.ToString(it.DurableExecutionName)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func reversed[T any](s []T) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
