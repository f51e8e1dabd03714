package lambdasim_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

const perFunction = 50_000

// loadLarge fills four functions with 50,000 executions each, inserted in
// random order, one every 100ms ending at t0; every 10th is still RUNNING,
// the rest SUCCEEDED.
func loadLarge(tb testing.TB, s *lambdasim.Server) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	for f := range 4 {
		fn := fmt.Sprintf("fn-%d", f)
		s.AddFunction(fn, []string{"1"}, nil)
		for _, i := range rng.Perm(perFunction) {
			at := t0.Add(-time.Duration(perFunction-i) * 100 * time.Millisecond)
			arn := s.Start(fn, "1", fmt.Sprintf("x-%d", i), at)
			if i%10 != 0 {
				if err := s.End(arn, lambdasim.StatusSucceeded, at.Add(time.Second)); err != nil {
					tb.Fatal(err)
				}
			}
		}
	}
}

func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 200,000 executions")
	}
	h := newHarness(t, lambdasim.Options{})
	loadLarge(t, h.sim)

	start := time.Now()
	items, sizes := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{
		FunctionName: aws.String("fn-2"), MaxItems: 1000,
	})
	t.Logf("listed %d executions in %d pages in %v", len(items), len(sizes), time.Since(start))
	if len(items) != perFunction || len(sizes) != 50 {
		t.Fatalf("%d items in %d pages", len(items), len(sizes))
	}
	seen := make(map[string]bool, len(items))
	for i, it := range items {
		arn := aws.ToString(it.DurableExecutionArn)
		if seen[arn] {
			t.Fatalf("duplicate %s", arn)
		}
		seen[arn] = true
		if want := fmt.Sprintf("x-%d", perFunction-1-i); aws.ToString(it.DurableExecutionName) != want {
			t.Fatalf("item %d is %s, want %s", i, aws.ToString(it.DurableExecutionName), want)
		}
	}

	// A one-hour window of RUNNING executions, both bounds strict: item i
	// starts (50000-i)/10 s before t0, so 100 < (50000-i)/10 < 3700 gives
	// i in 13001..48999, of which i%10 == 0 (RUNNING) are 13010..48990.
	items, _ = listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{
		FunctionName: aws.String("fn-0"), MaxItems: 1000,
		Statuses:      []types.ExecutionStatus{types.ExecutionStatusRunning},
		StartedAfter:  aws.Time(t0.Add(-time.Hour - 100*time.Second)),
		StartedBefore: aws.Time(t0.Add(-100 * time.Second)),
	})
	if len(items) != 3599 {
		t.Fatalf("window: %d RUNNING, want 3599", len(items))
	}
	if first, last := aws.ToString(items[0].DurableExecutionName), aws.ToString(items[3598].DurableExecutionName); first != "x-48990" || last != "x-13010" {
		t.Fatalf("window bounds %s .. %s", first, last)
	}
}

// benchServer returns the loaded simulator and a request builder that calls
// ServeHTTP directly, so the benchmarks measure the simulator, not HTTP.
func benchServer(b *testing.B) *lambdasim.Server {
	b.Helper()
	s := lambdasim.New(lambdasim.Options{Now: func() time.Time { return t0 }})
	loadLarge(b, s)
	return s
}

func serve(b *testing.B, s *lambdasim.Server, path string, q url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path+"?"+q.Encode(), nil)
	req.Header.Set("Authorization", validAuth)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	return rec
}

// BenchmarkListPageDeep serves a 100-item page from the middle of a
// 50,000-execution function with a cursor marker.
func BenchmarkListPageDeep(b *testing.B) {
	s := benchServer(b)
	path := "/2025-12-01/functions/fn-1/durable-executions"
	// Walk to the middle to get a deep cursor.
	q := url.Values{"MaxItems": {"1000"}}
	var marker string
	for range 25 {
		rec := serve(b, s, path, q)
		var out struct{ NextMarker string }
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			b.Fatal(err)
		}
		marker = out.NextMarker
		q.Set("Marker", marker)
	}
	q = url.Values{"MaxItems": {"100"}, "Marker": {marker}}
	b.ResetTimer()
	for b.Loop() {
		serve(b, s, path, q)
	}
}

// BenchmarkListStatusWindow serves a page of RUNNING executions in a
// one-hour window.
func BenchmarkListStatusWindow(b *testing.B) {
	s := benchServer(b)
	q := url.Values{
		"MaxItems":      {"100"},
		"Statuses":      {"RUNNING"},
		"StartedAfter":  {t0.Add(-2 * time.Hour).Format(time.RFC3339Nano)},
		"StartedBefore": {t0.Add(-time.Hour).Format(time.RFC3339Nano)},
	}
	b.ResetTimer()
	for b.Loop() {
		serve(b, s, "/2025-12-01/functions/fn-3/durable-executions", q)
	}
}

// BenchmarkGet serves GetDurableExecution.
func BenchmarkGet(b *testing.B) {
	s := benchServer(b)
	arn := s.Executions("fn-0")[perFunction/2].ARN
	path := "/2025-12-01/durable-executions/" + url.PathEscape(arn)
	q := url.Values{"IncludeExecutionData": {"false"}}
	b.ResetTimer()
	for b.Loop() {
		serve(b, s, path, q)
	}
}

// TestConcurrentUse lists and reads while writers start (out of order) and
// end executions, with cursor markers: every execution present before
// paging began is listed exactly once.
func TestConcurrentUse(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	for i := range 500 {
		h.sim.Start("f", "1", fmt.Sprintf("old-%d", i), t0.Add(-time.Duration(i+1)*time.Second))
	}
	before := h.sim.Executions("f")
	done := make(chan struct{})
	var writers sync.WaitGroup
	for w := range 3 {
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				// Newer than everything (listed before the cursor) or
				// older than everything (listed after all old ones).
				at := t0.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
				if i%2 == 1 {
					at = t0.Add(-time.Hour - time.Duration(rng.IntN(1000))*time.Second)
				}
				arn := h.sim.Start("f", "1", fmt.Sprintf("new-%d-%d", w, i), at)
				_ = h.sim.End(arn, lambdasim.StatusSucceeded, at.Add(time.Second))
				_ = h.sim.Executions("f")
			}
		})
	}
	for range 3 {
		items, _ := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("f"), MaxItems: 37})
		count := map[string]int{}
		for _, a := range arns(items) {
			count[a]++
		}
		for a, n := range count {
			if n != 1 {
				t.Fatalf("%s listed %d times", a, n)
			}
		}
		for _, e := range before {
			if count[e.ARN] != 1 {
				t.Fatalf("%s missing", e.Name)
			}
		}
	}
	close(done)
	writers.Wait()
}
