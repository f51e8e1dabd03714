package scrape_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
)

// setupPool is setup with PoolOptions of the test's choosing: it serves sim
// (from o) over HTTP and returns a client of a Pool made with po, whose
// Endpoint it sets. Backoffs default to 1ms..10ms.
func setupPool(t *testing.T, o lambdasim.Options, po scrape.PoolOptions) (*lambdasim.Server, *scrape.Client) {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return base.Add(time.Hour) }
	}
	sim := lambdasim.New(o)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	po.Endpoint = srv.URL
	if po.BaseBackoff == 0 {
		po.BaseBackoff = time.Millisecond
	}
	if po.MaxBackoff == 0 {
		po.MaxBackoff = 10 * time.Millisecond
	}
	return sim, newPool(po).Client(scrape.Access{})
}

func newPool(po scrape.PoolOptions) *scrape.Pool {
	return scrape.NewPool(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}, po)
}

// bodyFault answers every request of op with body, as-is, status 200.
func bodyFault(op string, body string) func(lambdasim.Request) *lambdasim.Fault {
	return func(r lambdasim.Request) *lambdasim.Fault {
		if r.Op == op {
			return &lambdasim.Fault{Body: []byte(body)}
		}
		return nil
	}
}

// A. A 200 answer that is not a listing page is an error, not an empty page.
func TestListRejectsMalformedAnswers(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"empty body", ``, "empty"},
		{"blank body", " \r\n", "empty"},
		{"not JSON", `not json at all`, "not JSON"},
		{"HTML", `<html><body>Service Unavailable</body></html>`, "not JSON"},
		{"JSON array", `[]`, "not a JSON object"},
		{"JSON string", `"DurableExecutions"`, "not a JSON object"},
		{"no DurableExecutions", `{}`, "DurableExecutions"},
		{"only a marker", `{"NextMarker":"abc"}`, "DurableExecutions"},
		{"other casing", `{"durableExecutions":[]}`, "DurableExecutions"},
		{"DurableExecutions null", `{"DurableExecutions":null}`, "DurableExecutions"},
		{"DurableExecutions an object", `{"DurableExecutions":{"DurableExecutionArn":"x"}}`, "DurableExecutions"},
		{"NextMarker a number", `{"DurableExecutions":[],"NextMarker":17}`, "NextMarker"},
		{"truncated", `{"DurableExecutions":[{"DurableExecutionArn":"arn:aws:lambda:us-east-1:1`, "truncated"},
		{"trailing data", `{"DurableExecutions":[]}{"DurableExecutions":[]}`, "after"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, c := setupPool(t, lambdasim.Options{Intercept: bodyFault(lambdasim.OpList, tc.body)}, scrape.PoolOptions{})
			got, pages, err := collect(t, c, scrape.Query{FunctionName: "orders"})
			if !errors.Is(err, scrape.ErrMalformedResponse) {
				t.Fatalf("got %d executions in %d pages, err %v; want ErrMalformedResponse", len(got), pages, err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "page 1") {
				t.Errorf("error %q does not say %q and page 1", err, tc.want)
			}
		})
	}
	for _, body := range []string{`{"DurableExecutions":[]}`, `{"DurableExecutions":[],"NextMarker":""}`, `{"DurableExecutions":[],"NextMarker":null,"Other":{"a":[1]}}`} {
		t.Run("well-formed "+body, func(t *testing.T) {
			_, c := setupPool(t, lambdasim.Options{Intercept: bodyFault(lambdasim.OpList, body)}, scrape.PoolOptions{})
			got, pages, err := collect(t, c, scrape.Query{FunctionName: "orders"})
			if err != nil || pages != 1 || len(got) != 0 {
				t.Fatalf("got %d executions in %d pages, err %v; want an empty page", len(got), pages, err)
			}
		})
	}
}

// A. A 200 answer to Get without the execution's identity and status is an
// error, not a zero Execution.
func TestGetRejectsMalformedAnswers(t *testing.T) {
	arn := "arn:aws:lambda:us-east-1:123456789012:function:orders:1/durable-execution/x/id"
	cases := []struct{ name, body, want string }{
		{"empty body", ``, "empty"},
		{"not JSON", `<html>oops</html>`, "not JSON"},
		{"JSON array", `[{"DurableExecutionArn":"x"}]`, "not a JSON object"},
		{"empty object", `{}`, "DurableExecutionArn"},
		{"no status", `{"DurableExecutionArn":"` + arn + `"}`, "Status"},
		{"empty status", `{"DurableExecutionArn":"` + arn + `","Status":""}`, "Status"},
		{"no ARN", `{"Status":"RUNNING","StartTimestamp":1.5}`, "DurableExecutionArn"},
		{"ARN a number", `{"DurableExecutionArn":5,"Status":"RUNNING"}`, "DurableExecutionArn"},
		{"status null", `{"DurableExecutionArn":"` + arn + `","Status":null}`, "Status"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, c := setupPool(t, lambdasim.Options{Intercept: bodyFault(lambdasim.OpGet, tc.body)}, scrape.PoolOptions{})
			e, err := c.Get(context.Background(), arn)
			if !errors.Is(err, scrape.ErrMalformedResponse) {
				t.Fatalf("got %+v, err %v; want ErrMalformedResponse", e, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	t.Run("well-formed", func(t *testing.T) {
		body := `{"DurableExecutionArn":"` + arn + `","Status":"RUNNING","StartTimestamp":1764320000.123}`
		_, c := setupPool(t, lambdasim.Options{Intercept: bodyFault(lambdasim.OpGet, body)}, scrape.PoolOptions{})
		e, err := c.Get(context.Background(), arn)
		if err != nil || e.ARN != arn || e.Status != durable.Running || e.Start != 1764320000123 {
			t.Fatalf("got %+v, err %v", e, err)
		}
	})
}

// countingHandler counts the body bytes h writes.
type countingHandler struct {
	h       http.Handler
	written atomic.Int64
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.h.ServeHTTP(&countingWriter{ResponseWriter: w, n: &c.written}, r)
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n.Add(int64(n))
	return n, err
}

// B. An answer larger than PoolOptions.MaxResponseBytes fails the request
// with an error naming the cap, without reading the rest, and is not
// retried.
func TestResponseSizeCap(t *testing.T) {
	const limit = 64 << 10
	const huge = 32 << 20
	arn := "arn:aws:lambda:us-east-1:123456789012:function:orders:1/durable-execution/x/id"
	bigHTML := []byte("<html>" + strings.Repeat("<p>Bad Gateway</p>\n", 20000) + "</html>")
	cases := []struct {
		name  string
		fault lambdasim.Fault
		get   bool
	}{
		{"list, Content-Length", lambdasim.Fault{BodySize: huge}, false},
		{"list, chunked", lambdasim.Fault{BodySize: huge, Chunked: true}, false},
		{"list, 502 HTML", lambdasim.Fault{Status: 502, Body: bigHTML, ContentType: "text/html"}, false},
		{"get, chunked", lambdasim.Fault{BodySize: huge, Chunked: true}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			sim := lambdasim.New(lambdasim.Options{Now: func() time.Time { return base }, Intercept: func(r lambdasim.Request) *lambdasim.Fault {
				requests.Add(1)
				f := tc.fault
				return &f
			}})
			h := &countingHandler{h: sim}
			pipe := lambdasim.NewPipe(h)
			t.Cleanup(func() { _ = pipe.Close() })
			c := newPool(scrape.PoolOptions{Endpoint: lambdasim.PipeURL, Dialer: pipe, MaxResponseBytes: limit,
				BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond}).Client(scrape.Access{})
			var err error
			if tc.get {
				_, err = c.Get(context.Background(), arn)
			} else {
				_, _, err = collect(t, c, scrape.Query{FunctionName: "orders"})
			}
			if !errors.Is(err, scrape.ErrResponseTooLarge) {
				t.Fatalf("err = %v, want ErrResponseTooLarge", err)
			}
			if !strings.Contains(err.Error(), "64 KiB") || !strings.Contains(err.Error(), "MaxResponseBytes") {
				t.Errorf("error %q does not name the 64 KiB cap", err)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests, want 1: an oversized answer is not retried", n)
			}
			// net.Pipe is synchronous: the server gets to write about as
			// much as the client reads, plus the buffers of both ends.
			time.Sleep(50 * time.Millisecond)
			if w := h.written.Load(); w > 1<<20 {
				t.Errorf("the server wrote %d bytes: the client read far past the cap", w)
			}
		})
	}
	t.Run("under the cap", func(t *testing.T) {
		sim, c := setupPool(t, lambdasim.Options{}, scrape.PoolOptions{PageSize: 1000, MaxResponseBytes: 1 << 20})
		populate(sim, "orders", 1000)
		got, pages, err := collect(t, c, scrape.Query{FunctionName: "orders"})
		if err != nil || len(got) != 1000 || pages != 1 {
			t.Fatalf("got %d executions in %d pages, err %v", len(got), pages, err)
		}
	})
}

// C. A wrongly typed item is handed over as Malformed; the rest of its page,
// and the pages after it, are kept.
func TestListToleratesMalformedItems(t *testing.T) {
	sim, c := setupPool(t, lambdasim.Options{}, scrape.PoolOptions{PageSize: 4})
	arns := populate(sim, "orders", 10)
	fnARN := sim.FunctionARN("orders") + ":1"
	badARN := func(n string) string { return fnARN + "/durable-execution/" + n + "/id-" + n }
	// Ordered among the others (a usable StartTimestamp), so they land on
	// pages with a NextMarker.
	sim.AddRaw("orders", map[string]any{"DurableExecutionArn": badARN("badstatus"), "DurableExecutionName": "badstatus",
		"FunctionArn": fnARN, "Status": 7, "StartTimestamp": base.Add(1500 * time.Millisecond)})
	sim.AddRaw("orders", map[string]any{"DurableExecutionArn": badARN("badend"), "DurableExecutionName": "badend",
		"FunctionArn": fnARN, "Status": "SUCCEEDED", "StartTimestamp": base.Add(4500 * time.Millisecond), "EndTimestamp": true})
	sim.AddRaw("orders", map[string]any{"DurableExecutionArn": 42, "DurableExecutionName": "badarn",
		"FunctionArn": fnARN, "Status": "RUNNING", "StartTimestamp": base.Add(7500 * time.Millisecond)})
	// Listed last.
	sim.AddRaw("orders", map[string]any{"DurableExecutionArn": badARN("badstart"), "DurableExecutionName": "badstart",
		"FunctionArn": fnARN, "Status": "RUNNING", "StartTimestamp": "abc"})

	got, pages, err := collect(t, c, scrape.Query{FunctionName: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if pages != 4 || len(got) != 14 {
		t.Fatalf("got %d executions in %d pages, want 14 in 4", len(got), pages)
	}
	good := map[string]scrape.Execution{}
	malformed := map[string]scrape.Execution{}
	for _, e := range got {
		if e.Malformed != "" {
			malformed[e.Name] = e
		} else {
			good[e.ARN] = e
		}
	}
	for i, a := range arns {
		e, ok := good[a]
		if !ok {
			t.Fatalf("execution %s missing", a)
		}
		if e.Name != fmt.Sprintf("exec-%d", i) || e.Start != base.Add(time.Duration(i)*time.Second).UnixMilli() {
			t.Errorf("execution %d: %+v", i, e)
		}
	}
	want := map[string]scrape.Execution{
		"badstatus": {ARN: badARN("badstatus"), Name: "badstatus", FunctionARN: fnARN, Malformed: "Status: not a string"},
		"badend":    {ARN: badARN("badend"), Name: "badend", FunctionARN: fnARN, Malformed: "EndTimestamp: not a number"},
		"badarn":    {Name: "badarn", FunctionARN: fnARN, Malformed: "DurableExecutionArn: not a string"},
		"badstart":  {ARN: badARN("badstart"), Name: "badstart", FunctionARN: fnARN, Malformed: "StartTimestamp: not a number"},
	}
	for name, w := range want {
		if e := malformed[name]; e != w {
			t.Errorf("%s:\n got %+v\nwant %+v", name, e, w)
		}
	}
}

// C. Items that are not objects at all, several bad fields, and the order
// of a page are kept.
func TestListMalformedItemsInOrder(t *testing.T) {
	body := `{"DurableExecutions":[
		{"DurableExecutionArn":"a1","Status":"RUNNING","StartTimestamp":1764320000.123},
		5,
		null,
		{"DurableExecutionArn":"a2","DurableExecutionName":["x"],"StartTimestamp":"abc","EndTimestamp":1e999},
		{"DurableExecutionArn":"a3","Status":"SUCCEEDED","StartTimestamp":1764320000,"EndTimestamp":1764320001.5,"KMSKeyArn":null,"Extra":{}}
	]}`
	_, c := setupPool(t, lambdasim.Options{Intercept: bodyFault(lambdasim.OpList, body)}, scrape.PoolOptions{})
	got, pages, err := collect(t, c, scrape.Query{FunctionName: "orders"})
	if err != nil || pages != 1 {
		t.Fatalf("%d pages, err %v", pages, err)
	}
	want := []scrape.Execution{
		{ARN: "a1", Status: durable.Running, RawStatus: "RUNNING", Start: 1764320000123},
		{Malformed: "not a JSON object"},
		{Malformed: "not a JSON object"},
		{ARN: "a2", Malformed: "DurableExecutionName: not a string; StartTimestamp: not a number; EndTimestamp: out of range"},
		{ARN: "a3", Status: durable.Succeeded, RawStatus: "SUCCEEDED", Start: 1764320000000, End: 1764320001500},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d items: %+v", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("item %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

const badGateway = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n" +
	"<hr><center>awselb/2.0</center>\r\n" + "<!-- a long padding comment that must not end up in the log line -->" + "</body>\r\n</html>\r\n"

// D. A request retried until the caller's deadline reports the last
// attempt's cause along with the deadline.
func TestDeadlineKeepsLastAttemptCause(t *testing.T) {
	cases := []struct {
		name  string
		fault lambdasim.Fault
		want  []string
	}{
		{"502 HTML", lambdasim.Fault{Status: 502, Body: []byte(badGateway), ContentType: "text/html"},
			[]string{"last attempt: HTTP 502", "502 Bad Gateway"}},
		{"500 JSON", lambdasim.Fault{Status: 500},
			[]string{"last attempt: HTTP 500", "ServiceException"}},
	}
	for _, tc := range cases {
		for _, op := range []string{lambdasim.OpList, lambdasim.OpGet} {
			t.Run(tc.name+" "+op, func(t *testing.T) {
				_, c := setupPool(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
					f := tc.fault
					return &f
				}}, scrape.PoolOptions{MaxAttempts: 1 << 20})
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				defer cancel()
				var err error
				if op == lambdasim.OpList {
					_, err = c.List(ctx, scrape.Query{FunctionName: "orders"}, func(scrape.Execution) {})
				} else {
					_, err = c.Get(ctx, "arn:aws:lambda:us-east-1:123456789012:function:orders:1/durable-execution/x/id")
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want a deadline", err)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "padding comment") {
					t.Errorf("error %q is not a short excerpt", err)
				}
			})
		}
	}
	t.Run("no answer at all", func(t *testing.T) {
		_, c := setupPool(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
			return &lambdasim.Fault{Delay: time.Minute}
		}}, scrape.PoolOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := c.List(ctx, scrape.Query{FunctionName: "orders"}, func(scrape.Execution) {})
		if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "last attempt") {
			t.Fatalf("err = %v, want a plain deadline", err)
		}
	})
}

// E. ServerOffset is the service's clock minus ours, from the Date header.
func TestServerOffset(t *testing.T) {
	for _, skew := range []time.Duration{-10 * time.Minute, 10 * time.Minute, 0} {
		t.Run(skew.String(), func(t *testing.T) {
			sim, c := setupPool(t, lambdasim.Options{Now: func() time.Time { return time.Now().Add(skew) }}, scrape.PoolOptions{})
			if _, ok := c.ServerOffset(); ok {
				t.Fatal("an offset before any answer")
			}
			populate(sim, "orders", 3)
			for range 3 {
				if _, _, err := collect(t, c, scrape.Query{FunctionName: "orders"}); err != nil {
					t.Fatal(err)
				}
			}
			off, ok := c.ServerOffset()
			if !ok || off < skew-1500*time.Millisecond || off > skew+1500*time.Millisecond {
				t.Fatalf("ServerOffset() = %v, %v; want %v ± 1.5s", off, ok, skew)
			}
		})
	}
	t.Run("fake clocks", func(t *testing.T) {
		// Both clocks fake, a year from the real one: the offset is between
		// them, the real clock plays no part.
		api := &fixedClock{t: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
		local := &fixedClock{t: api.t.Add(7 * time.Minute)}
		sim, c := setupPool(t, lambdasim.Options{Now: api.Now}, scrape.PoolOptions{Clock: local})
		populate(sim, "orders", 3)
		if _, _, err := collect(t, c, scrape.Query{FunctionName: "orders"}); err != nil {
			t.Fatal(err)
		}
		if off, ok := c.ServerOffset(); !ok || off != -7*time.Minute {
			t.Fatalf("ServerOffset() = %v, %v; want -7m", off, ok)
		}
	})
	t.Run("error answers count too", func(t *testing.T) {
		_, c := setupPool(t, lambdasim.Options{Now: func() time.Time { return time.Now().Add(-time.Hour) }}, scrape.PoolOptions{})
		if _, err := c.Get(context.Background(), "arn:aws:lambda:us-east-1:123456789012:function:orders:1/durable-execution/x/id"); !errors.Is(err, scrape.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
		if off, ok := c.ServerOffset(); !ok || off < -time.Hour-1500*time.Millisecond || off > -time.Hour+1500*time.Millisecond {
			t.Fatalf("ServerOffset() = %v, %v; want -1h", off, ok)
		}
	})
}

// F. Query.MaxPages bounds a listing.
func TestListMaxPages(t *testing.T) {
	t.Run("endless unique markers", func(t *testing.T) {
		var n atomic.Int32
		_, c := setupPool(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
			i := n.Add(1)
			if i >= 50 { // a safety net for a client that ignores MaxPages
				return &lambdasim.Fault{Body: []byte(`{"DurableExecutions":[]}`)}
			}
			return &lambdasim.Fault{Body: fmt.Appendf(nil, `{"DurableExecutions":[],"NextMarker":"m-%d"}`, i)}
		}}, scrape.PoolOptions{})
		_, pages, err := collect(t, c, scrape.Query{FunctionName: "orders", MaxPages: 5})
		if !errors.Is(err, scrape.ErrTooManyPages) || pages != 5 || n.Load() != 5 {
			t.Fatalf("pages=%d requests=%d err=%v; want ErrTooManyPages after 5", pages, n.Load(), err)
		}
		if !strings.Contains(err.Error(), "5 pages") {
			t.Errorf("error %q does not name the limit", err)
		}
	})
	t.Run("exact fit", func(t *testing.T) {
		sim, c := setupPool(t, lambdasim.Options{}, scrape.PoolOptions{PageSize: 100})
		populate(sim, "orders", 250)
		got, pages, err := collect(t, c, scrape.Query{FunctionName: "orders", MaxPages: 3})
		if err != nil || pages != 3 || len(got) != 250 {
			t.Fatalf("got %d executions in %d pages, err %v", len(got), pages, err)
		}
		_, pages, err = collect(t, c, scrape.Query{FunctionName: "orders", MaxPages: 2})
		if !errors.Is(err, scrape.ErrTooManyPages) || pages != 2 {
			t.Fatalf("pages=%d err=%v; want ErrTooManyPages after 2", pages, err)
		}
	})
}

// fixedClock is a clock that stands still.
type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }
