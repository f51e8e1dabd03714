package scrape_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
)

// discoverer serves a simulator over HTTP and returns a discovery client
// that talks to it through the real SDK.
func discoverer(t *testing.T, sim *lambdasim.Server) (*scrape.Discoverer, *scrape.Metrics) {
	t.Helper()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	m := scrape.NewMetrics("lambda_durable")
	pool := scrape.NewPool(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}, scrape.PoolOptions{Endpoint: srv.URL, BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, Metrics: m})
	return pool.Discoverer(scrape.Access{}), m
}

// TestExecutionTimeout reads DurableConfig.ExecutionTimeout with
// GetFunctionConfiguration over HTTP: by name, ARN, version and alias; none
// for a function without DurableConfig; ErrFunctionNotFound for an unknown
// function or qualifier. Every request is counted under its operation.
func TestExecutionTimeout(t *testing.T) {
	sim := lambdasim.New(lambdasim.Options{})
	sim.AddFunction("orders", []string{"$LATEST", "1", "2"}, map[string]string{"live": "2"})
	sim.SetExecutionTimeout("orders", 2*time.Hour)
	sim.AddFunction("billing", nil, nil) // the simulator's default: one day
	sim.AddPlainFunction("plain")
	d, m := discoverer(t, sim)
	ctx := context.Background()

	for _, tc := range []struct {
		function, qualifier string
		want                time.Duration
		ok                  bool
		notFound            bool
	}{
		{function: "orders", want: 2 * time.Hour, ok: true},
		{function: "orders", qualifier: "1", want: 2 * time.Hour, ok: true},
		{function: "orders", qualifier: "live", want: 2 * time.Hour, ok: true},
		{function: sim.FunctionARN("orders"), qualifier: "live", want: 2 * time.Hour, ok: true},
		{function: "billing", want: 24 * time.Hour, ok: true},
		{function: "plain"},
		{function: "missing", notFound: true},
		{function: "orders", qualifier: "7", notFound: true},
	} {
		got, ok, err := d.ExecutionTimeout(ctx, tc.function, tc.qualifier)
		if tc.notFound {
			if !errors.Is(err, scrape.ErrFunctionNotFound) {
				t.Errorf("%s:%s: err = %v, want ErrFunctionNotFound", tc.function, tc.qualifier, err)
			}
			continue
		}
		if err != nil || got != tc.want || ok != tc.ok {
			t.Errorf("%s:%s = %v, %v, %v; want %v, %v, nil", tc.function, tc.qualifier, got, ok, err, tc.want, tc.ok)
		}
	}
	if n := sim.Requests()[lambdasim.OpGetFunctionConfiguration]; n != 8 {
		t.Errorf("simulator served %d GetFunctionConfiguration requests, want 8 (no retry of a 404)", n)
	}
	if v := testutil.ToFloat64(m.Requests.WithLabelValues(scrape.OpGetFunctionConfiguration, scrape.OutcomeSuccess)); v != 6 {
		t.Errorf("api_requests_total{GetFunctionConfiguration,success} = %v, want 6", v)
	}
	if v := testutil.ToFloat64(m.Requests.WithLabelValues(scrape.OpGetFunctionConfiguration, scrape.OutcomeError)); v != 2 {
		t.Errorf("api_requests_total{GetFunctionConfiguration,error} = %v, want 2", v)
	}
}

// TestDurableFunctionsCarryTimeout: discovery takes each function's
// ExecutionTimeout from ListFunctions, without another request.
func TestDurableFunctionsCarryTimeout(t *testing.T) {
	sim := lambdasim.New(lambdasim.Options{})
	sim.SetExecutionTimeout("orders", 90*time.Minute)
	sim.AddFunction("billing", nil, nil)
	sim.AddPlainFunction("plain")
	d, _ := discoverer(t, sim)
	fns, err := d.DurableFunctions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Duration{}
	for _, f := range fns {
		got[f.Name] = f.ExecutionTimeout
	}
	want := map[string]time.Duration{"orders": 90 * time.Minute, "billing": 24 * time.Hour}
	if len(got) != len(want) || got["orders"] != want["orders"] || got["billing"] != want["billing"] {
		t.Errorf("timeouts = %v, want %v", got, want)
	}
	if n := sim.Requests()[lambdasim.OpGetFunctionConfiguration]; n != 0 {
		t.Errorf("discovery sent %d GetFunctionConfiguration requests, want 0", n)
	}
}
