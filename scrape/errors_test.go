package scrape_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
)

// queries records the query of every GetDurableExecution request.
type queries struct {
	mu   sync.Mutex
	seen []url.Values
}

func (q *queries) intercept(r lambdasim.Request) *lambdasim.Fault {
	if r.Op == lambdasim.OpGet {
		q.mu.Lock()
		q.seen = append(q.seen, r.Query)
		q.mu.Unlock()
	}
	return nil
}

func endAt(t testing.TB, sim *lambdasim.Server, fn, name, status string) string {
	t.Helper()
	arn := sim.Start(fn, "1", name, base)
	if err := sim.End(arn, status, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	return arn
}

func TestErrorOf(t *testing.T) {
	var q queries
	sim, c := setupPool(t, lambdasim.Options{
		Intercept:  q.intercept,
		ErrorTypes: map[string][]string{"orders": {"PaymentDeclined"}},
	}, scrape.PoolOptions{})
	failed := endAt(t, sim, "orders", "failed", lambdasim.StatusFailed)
	timedOut := endAt(t, sim, "orders", "timed-out", lambdasim.StatusTimedOut)
	stopped := endAt(t, sim, "orders", "stopped", lambdasim.StatusStopped)
	noError := endAt(t, sim, "orders", "no-error", lambdasim.StatusFailed)
	emptyType := endAt(t, sim, "orders", "empty-type", lambdasim.StatusFailed)
	succeeded := endAt(t, sim, "orders", "succeeded", lambdasim.StatusSucceeded)
	running := sim.Start("orders", "1", "running", base)
	if err := sim.RemoveError(noError); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetErrorType(emptyType, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		arn  string
		want scrape.ExecutionError
	}{
		{failed, scrape.ExecutionError{Status: durable.Failed, Type: "PaymentDeclined", HasError: true}},
		{timedOut, scrape.ExecutionError{Status: durable.TimedOut, Type: "Lambda.DurableExecutionTimedOut", HasError: true}},
		{stopped, scrape.ExecutionError{Status: durable.Stopped, Type: "Lambda.DurableExecutionStopped", HasError: true}},
		{noError, scrape.ExecutionError{Status: durable.Failed}},
		{emptyType, scrape.ExecutionError{Status: durable.Failed, HasError: true}},
		{succeeded, scrape.ExecutionError{Status: durable.Succeeded}},
		{running, scrape.ExecutionError{Status: durable.Running}},
	} {
		got, err := c.ErrorOf(context.Background(), tc.arn)
		if err != nil || got != tc.want {
			t.Errorf("ErrorOf(%s) = %+v, %v; want %+v", tc.arn, got, err, tc.want)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.seen) != 7 {
		t.Fatalf("%d requests, want 7", len(q.seen))
	}
	for _, v := range q.seen {
		if got := v["IncludeExecutionData"]; len(got) != 1 || got[0] != "true" {
			t.Errorf("IncludeExecutionData = %q, want true", got)
		}
	}
}

func TestErrorOfNotFound(t *testing.T) {
	sim, c := setupPool(t, lambdasim.Options{}, scrape.PoolOptions{})
	arn := sim.Start("orders", "1", "x", base)
	_, err := c.ErrorOf(context.Background(), arn+"-gone")
	if !errors.Is(err, scrape.ErrNotFound) {
		t.Fatalf("err %v, want ErrNotFound", err)
	}
}

func TestErrorOfRejectsMalformedAnswers(t *testing.T) {
	arn := "arn:aws:lambda:us-east-1:123456789012:function:orders:1/durable-execution/x/id"
	cases := []struct{ name, body, want string }{
		{"empty body", ``, "empty"},
		{"blank body", " \n", "empty"},
		{"not JSON", `<html>oops</html>`, "not a JSON object"},
		{"JSON array", `[{"DurableExecutionArn":"x"}]`, "not a JSON object"},
		{"empty object", `{}`, "DurableExecutionArn"},
		{"no status", `{"DurableExecutionArn":"` + arn + `","InputPayload":"{}"}`, "no Status"},
		{"status a number", `{"DurableExecutionArn":"` + arn + `","Status":3}`, "Status is not a string"},
		{"no ARN", `{"Status":"FAILED"}`, "DurableExecutionArn"},
		{"Error a string", `{"DurableExecutionArn":"` + arn + `","Status":"FAILED","Error":"boom"}`, "Error is not an object"},
		{"ErrorType a number", `{"DurableExecutionArn":"` + arn + `","Status":"FAILED","Error":{"ErrorType":1}}`, "ErrorType"},
		{"truncated in a string", `{"DurableExecutionArn":"` + arn + `","Status":"FAILED","InputPayload":"{\"a\":`, "truncated"},
		{"truncated in ErrorType", `{"DurableExecutionArn":"` + arn + `","Status":"FAILED","Error":{"ErrorType":"Pay`, "truncated"},
		{"trailing data", `{"DurableExecutionArn":"` + arn + `","Status":"FAILED"} x`, "after"},
		{"bad escape", `{"DurableExecutionArn":"` + arn + `","Status":"FAILED","Result":"\q"}`, "not JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim, c := setupPool(t, lambdasim.Options{Intercept: bodyFault(lambdasim.OpGet, tc.body)}, scrape.PoolOptions{})
			e, err := c.ErrorOf(context.Background(), arn)
			if !errors.Is(err, scrape.ErrMalformedResponse) {
				t.Fatalf("got %+v, err %v; want ErrMalformedResponse", e, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if n := sim.Requests()[lambdasim.OpGet]; n != 1 {
				t.Errorf("%d requests: a malformed answer was retried", n)
			}
		})
	}
}

// rawAnswer fetches the simulator's answer to an ErrorOf request without
// the SDK (the simulator checks only the form of the signature).
func rawAnswer(t testing.TB, endpoint, arn string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, endpoint+"/2025-12-01/durable-executions/"+url.PathEscape(arn)+"?IncludeExecutionData=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d: %.200s", resp.StatusCode, b)
	}
	return b
}

// TestErrorOfLargeAnswer reads answers of over 2 MB (a 1 MB InputPayload
// before or after Error, a 1 MB ErrorData inside it) and checks that one
// ErrorOf allocates a small fraction of that: the answer is streamed, not
// held. The answers are taken from the simulator once and then served
// as-is, so that the simulator's own allocations are not counted.
func TestErrorOfLargeAnswer(t *testing.T) {
	const payload = 1 << 20
	var serve atomic.Pointer[[]byte]
	sim := lambdasim.New(lambdasim.Options{
		Now:          func() time.Time { return base.Add(time.Hour) },
		PayloadBytes: payload,
		ErrorTypes:   map[string][]string{"orders": {"PaymentDeclined"}},
		Intercept: func(r lambdasim.Request) *lambdasim.Fault {
			if b := serve.Load(); b != nil && r.Op == lambdasim.OpGet {
				return &lambdasim.Fault{Body: *b}
			}
			return nil
		},
	})
	srv := httptestServer(t, sim)
	c := newPool(scrape.PoolOptions{Endpoint: srv, BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}).Client(scrape.Access{})

	payloadsFirst := endAt(t, sim, "orders", "first", lambdasim.StatusFailed) // sequence 1: payloads first
	errorFirst := endAt(t, sim, "orders", "second", lambdasim.StatusFailed)   // sequence 2: Error first
	longType := endAt(t, sim, "orders", "long-type", lambdasim.StatusFailed)
	if err := sim.SetErrorType(longType, strings.Repeat("é", payload/2)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, arn string
		before    bool // InputPayload before Error
		wantType  string
	}{
		{"payloads first", payloadsFirst, true, "PaymentDeclined"},
		{"Error first", errorFirst, false, "PaymentDeclined"},
		{"1 MB ErrorType", longType, true, strings.Repeat("é", scrape.MaxErrorTypeBytes/2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serve.Store(nil)
			body := rawAnswer(t, srv, tc.arn)
			s := string(body)
			in, e := strings.Index(s, `"InputPayload"`), strings.Index(s, `"Error"`)
			if len(body) < 2*payload || in < 0 || e < 0 || (in < e) != tc.before {
				t.Fatalf("answer of %d bytes, InputPayload at %d, Error at %d", len(body), in, e)
			}
			serve.Store(&body)
			call := func() {
				got, err := c.ErrorOf(context.Background(), tc.arn)
				want := scrape.ExecutionError{Status: durable.Failed, Type: tc.wantType, HasError: true}
				if err != nil || got != want {
					t.Fatalf("ErrorOf = %+v (type of %d bytes), %v", got.Status, len(got.Type), err)
				}
			}
			call() // warm up: the connection, the SDK's caches
			const runs = 5
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			for range runs {
				call()
			}
			runtime.ReadMemStats(&m1)
			per := (m1.TotalAlloc - m0.TotalAlloc) / runs
			t.Logf("answer of %d bytes: %d bytes allocated per ErrorOf", len(body), per)
			if per > 256<<10 {
				t.Errorf("ErrorOf allocated %d bytes for an answer of %d bytes; want under 256 KiB", per, len(body))
			}
		})
	}
}

func httptestServer(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestErrorOfBudgets checks the error-read gate and the shared Get gate by
// counting requests, not by timing: at a budget of one request per 1000 s,
// a call after the first cannot be served within its 10 s deadline, and
// the limiter refuses it at once, before any request is sent.
func TestErrorOfBudgets(t *testing.T) {
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		return ctx
	}
	t.Run("error reads", func(t *testing.T) {
		sim, c := setupPool(t, lambdasim.Options{}, scrape.PoolOptions{Limits: scrape.Limits{ErrorReadsPerSecond: 0.001}})
		arn := endAt(t, sim, "orders", "x", lambdasim.StatusFailed)
		if _, err := c.ErrorOf(short(), arn); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := c.ErrorOf(short(), arn); err == nil {
				t.Fatal("a second error read within the budget's interval succeeded")
			}
		}
		// Get has a budget of its own, untouched by error reads.
		if _, err := c.Get(short(), arn); err != nil {
			t.Fatal(err)
		}
		if n := sim.Requests()[lambdasim.OpGet]; n != 2 {
			t.Fatalf("%d requests, want 2 (one error read, one Get)", n)
		}
	})
	t.Run("shared get budget", func(t *testing.T) {
		sim, c := setupPool(t, lambdasim.Options{}, scrape.PoolOptions{MaxAttempts: 2, Limits: scrape.Limits{GetPerSecond: 0.001}})
		arn := endAt(t, sim, "orders", "x", lambdasim.StatusFailed)
		if _, err := c.Get(short(), arn); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ErrorOf(short(), arn); err == nil {
			t.Fatal("an error read beyond the Get budget succeeded")
		}
		if n := sim.Requests()[lambdasim.OpGet]; n != 1 {
			t.Fatalf("%d requests, want 1", n)
		}
	})
}

// TestErrorOfCapAndRetries: an answer over PoolOptions.MaxResponseBytes
// fails with ErrResponseTooLarge, unretried; a throttle is retried like
// every Get, and the answer after it is read.
func TestErrorOfCapAndRetries(t *testing.T) {
	t.Run("cap", func(t *testing.T) {
		sim, c := setupPool(t, lambdasim.Options{PayloadBytes: 1 << 20}, scrape.PoolOptions{MaxResponseBytes: 1 << 20})
		arn := endAt(t, sim, "orders", "x", lambdasim.StatusFailed)
		_, err := c.ErrorOf(context.Background(), arn)
		if !errors.Is(err, scrape.ErrResponseTooLarge) {
			t.Fatalf("err %v, want ErrResponseTooLarge", err)
		}
		if n := sim.Requests()[lambdasim.OpGet]; n != 1 {
			t.Fatalf("%d requests, want 1", n)
		}
	})
	t.Run("throttled", func(t *testing.T) {
		sim, c := setupPool(t, lambdasim.Options{
			PayloadBytes: 64 << 10,
			Intercept: func(r lambdasim.Request) *lambdasim.Fault {
				if r.Op == lambdasim.OpGet && r.N == 1 {
					return &lambdasim.Fault{Status: 429, RetryAfter: "0"}
				}
				return nil
			},
		}, scrape.PoolOptions{})
		arn := endAt(t, sim, "orders", "x", lambdasim.StatusTimedOut)
		got, err := c.ErrorOf(context.Background(), arn)
		want := scrape.ExecutionError{Status: durable.TimedOut, Type: "Lambda.DurableExecutionTimedOut", HasError: true}
		if err != nil || got != want {
			t.Fatalf("ErrorOf = %+v, %v", got, err)
		}
		if n := sim.Requests()[lambdasim.OpGet]; n != 2 {
			t.Fatalf("%d requests, want 2", n)
		}
	})
}
