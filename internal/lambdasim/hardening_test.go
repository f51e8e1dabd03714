package lambdasim_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

// The Date header of every answer comes from the simulator's clock, not the
// real one, so that clients can be tested against a skewed service.
func TestDateHeaderFollowsTheClock(t *testing.T) {
	h := newHarness(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		if r.Query.Get("Marker") == "fault" {
			return &lambdasim.Fault{Status: 500, Delay: time.Millisecond}
		}
		return nil
	}})
	seedOrders(t, h.sim)
	h.clock.Advance(-400 * 24 * time.Hour)
	want := h.clock.Now().UTC().Format(http.TimeFormat)
	u := h.url + "/2025-12-01/functions/orders/durable-executions"
	for _, tc := range []struct {
		name, url, auth string
		status          int
	}{
		{"answer", u, validAuth, 200},
		{"API error", h.url + "/2025-12-01/functions/nope/durable-executions", validAuth, 404},
		{"fault", u + "?Marker=fault", validAuth, 500},
		{"no credentials", u, "", 403},
		{"unknown operation", h.url + "/2025-12-01/other", validAuth, 404},
	} {
		hdr, _ := rawDo(t, tc.url, tc.auth, tc.status)
		if got := hdr.Get("Date"); got != want {
			t.Errorf("%s: Date %q, want %q", tc.name, got, want)
		}
	}

	wh := newWorldHarness(t, lambdasim.WorldOptions{}, time.Date(2020, 2, 29, 23, 59, 58, 0, time.UTC))
	for _, auth := range []string{"", validAuth} {
		hdr, _ := rawDo(t, wh.srv.URL+"/2025-12-01/functions/orders/durable-executions", auth, 403)
		if got := hdr.Get("Date"); got != "Sat, 29 Feb 2020 23:59:58 GMT" {
			t.Errorf("World, auth %q: Date %q", auth, got)
		}
	}
}

// A Fault with both Status and Body serves Body as-is with that status: a
// proxy's HTML error page.
func TestInterceptRawErrorBody(t *testing.T) {
	page := []byte("<html><title>502 Bad Gateway</title></html>")
	h := newHarness(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		return &lambdasim.Fault{Status: 502, Body: page, ContentType: "text/html"}
	}})
	hdr, b := rawDo(t, h.url+"/2025-12-01/functions/orders/durable-executions", validAuth, 502)
	if !bytes.Equal(b, page) || hdr.Get("Content-Type") != "text/html" || hdr.Get("X-Amzn-ErrorType") != "" {
		t.Fatalf("header %v body %q", hdr, b)
	}
	_, err := listOrders(h.client)
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 502 {
		t.Fatalf("err = %v, want an HTTP 502", err)
	}
}

// BodySize serves a valid empty page of exactly that size, with or without
// a Content-Length.
func TestInterceptBodySize(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		for _, size := range []int64{1, 100, 3 << 20} {
			h := newHarness(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
				return &lambdasim.Fault{BodySize: size, Chunked: chunked}
			}})
			req, _ := http.NewRequest(http.MethodGet, h.url+"/2025-12-01/functions/orders/durable-executions", nil)
			req.Header.Set("Authorization", validAuth)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, err %v", resp.StatusCode, err)
			}
			wantLen := max(size, 37)
			if int64(len(b)) != wantLen {
				t.Errorf("chunked=%v size=%d: got %d bytes", chunked, size, len(b))
			}
			if cl := resp.Header.Get("Content-Length"); chunked != (cl == "") || (!chunked && cl != strconv.FormatInt(wantLen, 10)) {
				t.Errorf("chunked=%v size=%d: Content-Length %q, transfer %v", chunked, size, cl, resp.TransferEncoding)
			}
			var page struct{ DurableExecutions []json.RawMessage }
			if err := json.Unmarshal(b, &page); err != nil || page.DurableExecutions == nil || len(page.DurableExecutions) != 0 {
				t.Errorf("chunked=%v size=%d: not an empty page: %v", chunked, size, err)
			}
		}
	}
	// A client that goes away stops the writing.
	done := make(chan struct{})
	sim := lambdasim.New(lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		return &lambdasim.Fault{BodySize: 1 << 40}
	}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		sim.ServeHTTP(w, r)
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/2025-12-01/functions/orders/durable-executions", nil)
	req.Header.Set("Authorization", validAuth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler kept writing after the client went away")
	}
}
