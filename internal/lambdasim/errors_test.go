package lambdasim_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

func listOrders(c *lambda.Client) (*lambda.ListDurableExecutionsByFunctionOutput, error) {
	return c.ListDurableExecutionsByFunction(context.Background(), &lambda.ListDurableExecutionsByFunctionInput{
		FunctionName: aws.String(fnARN), MaxItems: 10,
	})
}

func TestInterceptThrottle(t *testing.T) {
	var mu sync.Mutex
	var seen []lambdasim.Request
	h := newHarness(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		if r.Op == lambdasim.OpList && r.N == 1 {
			return &lambdasim.Fault{Status: http.StatusTooManyRequests, RetryAfter: "7"}
		}
		return nil
	}})
	seedOrders(t, h.sim)

	_, err := listOrders(h.client)
	var tm *types.TooManyRequestsException
	if !errors.As(err, &tm) {
		t.Fatalf("err = %v, want TooManyRequestsException", err)
	}
	if aws.ToString(tm.RetryAfterSeconds) != "7" || tm.Reason != types.ThrottleReasonCallerRateLimitExceeded ||
		tm.ErrorMessage() != "Rate exceeded" || aws.ToString(tm.Type) != "User" {
		t.Fatalf("exception %+v", tm)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 429 || re.Response.Header.Get("Retry-After") != "7" || re.RequestID == "" {
		t.Fatalf("response error %v", re)
	}
	out, err := listOrders(h.client)
	if err != nil || len(out.DurableExecutions) != 10 {
		t.Fatalf("second request: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[1].N != 2 || seen[0].Function != "orders" || seen[0].Query.Get("MaxItems") != "10" {
		t.Fatalf("Intercept saw %+v", seen)
	}
}

func TestInterceptServerError(t *testing.T) {
	h := newHarness(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		if r.Op == lambdasim.OpGet {
			return &lambdasim.Fault{Status: 500}
		}
		return nil
	}})
	arn := h.sim.Start("f", "", "x", t0)
	_, err := h.client.GetDurableExecution(context.Background(), &lambda.GetDurableExecutionInput{DurableExecutionArn: aws.String(arn)})
	var se *types.ServiceException
	if !errors.As(err, &se) || se.ErrorFault() != smithy.FaultServer || aws.ToString(se.Type) != "Service" || se.ErrorMessage() == "" {
		t.Fatalf("err = %v, want ServiceException", err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Fatalf("status: %v", err)
	}
}

func TestInterceptBodyFaults(t *testing.T) {
	var mode atomic.Value
	mode.Store("")
	h := newHarness(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		switch mode.Load() {
		case "truncate":
			return &lambdasim.Fault{Truncate: true}
		case "body":
			return &lambdasim.Fault{Body: []byte(`{"DurableExecutions":[{"DurableExecutionArn":"x","Status":"PAUSED","StartTimestamp":1.5}],"NextMarker":""}`)}
		case "reset":
			return &lambdasim.Fault{Reset: true}
		case "delay":
			return &lambdasim.Fault{Delay: 5 * time.Second}
		}
		return nil
	}})
	seedOrders(t, h.sim)

	mode.Store("truncate")
	_, err := listOrders(h.client)
	var de *smithy.DeserializationError
	if !errors.As(err, &de) {
		t.Fatalf("truncated body: err = %v, want DeserializationError", err)
	}

	mode.Store("body")
	out, err := listOrders(h.client)
	if err != nil || len(out.DurableExecutions) != 1 || out.DurableExecutions[0].Status != "PAUSED" ||
		!out.DurableExecutions[0].StartTimestamp.Equal(time.UnixMilli(1500)) || aws.ToString(out.NextMarker) != "" {
		t.Fatalf("raw body: %+v %v", out, err)
	}

	// net/http retries a GET once by itself when a reused keep-alive
	// connection closes without an answer, so every attempt is reset here.
	mode.Store("reset")
	before := h.sim.Requests()[lambdasim.OpList]
	_, err = listOrders(h.client)
	var api smithy.APIError
	if err == nil || errors.As(err, &api) || errors.As(err, &de) {
		t.Fatalf("reset: err = %v, want a transport error", err)
	}
	if n := h.sim.Requests()[lambdasim.OpList] - before; n < 1 || n > 2 {
		t.Fatalf("reset: %d attempts", n)
	}

	mode.Store("delay")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = h.client.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("orders")})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("delay: err = %v after %v", err, time.Since(start))
	}

	mode.Store("")
	out, err = listOrders(h.client)
	if err != nil || len(out.DurableExecutions) != 10 {
		t.Fatalf("after faults: %v", err)
	}
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	h.sim.Start("f", "", "x", t0)
	url := h.url + "/2025-12-01/functions/f/durable-executions"
	for _, tc := range []struct{ auth, code string }{
		{"", "MissingAuthenticationTokenException"},
		{"Bearer abc", "IncompleteSignatureException"},
		{"AWS4-HMAC-SHA256 Credential=AKID/20251128/us-east-1/lambda/aws4_request", "IncompleteSignatureException"},
		{"AWS4-HMAC-SHA256 Credential=AKID/20251128/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc", "InvalidSignatureException"},
		{"AWS4-HMAC-SHA256 Credential=AKID/20251128/eu-west-1/lambda/aws4_request, SignedHeaders=host, Signature=abc", "InvalidSignatureException"},
	} {
		hdr, body := rawDo(t, url, tc.auth, http.StatusForbidden)
		var msg map[string]string
		if err := json.Unmarshal(body, &msg); err != nil || hdr.Get("X-Amzn-ErrorType") != tc.code || msg["message"] == "" {
			t.Errorf("auth %q: %s %s", tc.auth, hdr.Get("X-Amzn-ErrorType"), body)
		}
	}
	rawGet(t, url, http.StatusOK)

	// The SDK without credentials sends no signature.
	anon := lambda.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1},
		func(o *lambda.Options) { o.BaseEndpoint = aws.String(h.url) })
	_, err := anon.ListDurableExecutionsByFunction(context.Background(), &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("f")})
	var api smithy.APIError
	var re *awshttp.ResponseError
	if !errors.As(err, &api) || api.ErrorCode() != "MissingAuthenticationTokenException" || api.ErrorMessage() != "Missing Authentication Token" ||
		!errors.As(err, &re) || re.HTTPStatusCode() != 403 {
		t.Fatalf("unsigned SDK request: %v", err)
	}
	// A client signing for another region is refused.
	other := lambda.NewFromConfig(aws.Config{Region: "eu-west-1", Credentials: h.client.Options().Credentials, RetryMaxAttempts: 1},
		func(o *lambda.Options) { o.BaseEndpoint = aws.String(h.url) })
	_, err = other.ListDurableExecutionsByFunction(context.Background(), &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("f")})
	if !errors.As(err, &api) || api.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("wrong-region SDK request: %v", err)
	}
	if got := h.sim.Requests()[lambdasim.OpList]; got != 8 {
		t.Fatalf("Requests = %d, want 8 (rejected ones count)", got)
	}
}

func TestUnknownOperation(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	for _, p := range []string{"/2025-12-01/functions", "/2015-03-31/functions/f/durable-executions", "/2025-12-01/functions/a/b/durable-executions"} {
		hdr, _ := rawDo(t, h.url+p, validAuth, http.StatusNotFound)
		if hdr.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
			t.Errorf("%s: %s", p, hdr.Get("X-Amzn-ErrorType"))
		}
	}
	if len(h.sim.Requests()) != 0 {
		t.Fatalf("unknown operations counted: %v", h.sim.Requests())
	}
}

func TestRateLimits(t *testing.T) {
	h := newHarness(t, lambdasim.Options{ListRate: 2, GetRate: 3})
	arn := h.sim.Start("orders", "", "x", t0)
	list := func() error { _, err := listOrders(h.client); return err }
	get := func() error {
		_, err := h.client.GetDurableExecution(context.Background(), &lambda.GetDurableExecutionInput{DurableExecutionArn: aws.String(arn)})
		return err
	}
	throttled := func(err error, retryAfter string) bool {
		var tm *types.TooManyRequestsException
		return errors.As(err, &tm) && aws.ToString(tm.RetryAfterSeconds) == retryAfter &&
			tm.Reason == types.ThrottleReasonCallerRateLimitExceeded
	}
	for i := range 2 {
		if err := list(); err != nil {
			t.Fatalf("list %d: %v", i, err)
		}
	}
	if err := list(); !throttled(err, "1") {
		t.Fatalf("3rd list: %v", err)
	}
	for i := range 3 { // separate bucket
		if err := get(); err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
	}
	if err := get(); !throttled(err, "1") {
		t.Fatalf("4th get: %v", err)
	}
	h.clock.Advance(500 * time.Millisecond) // one list token back
	if err := list(); err != nil {
		t.Fatalf("list after refill: %v", err)
	}
	if err := list(); !throttled(err, "1") {
		t.Fatalf("list after one refill: %v", err)
	}
	h.clock.Advance(10 * time.Second) // bursts are capped at the rate
	for i := range 2 {
		if err := list(); err != nil {
			t.Fatalf("list %d after idle: %v", i, err)
		}
	}
	if err := list(); err == nil {
		t.Fatal("burst above rate allowed")
	}
	if got := h.sim.Requests(); got[lambdasim.OpList] != 8 || got[lambdasim.OpGet] != 4 {
		t.Fatalf("Requests = %v", got)
	}
}

func TestListen(t *testing.T) {
	s := lambdasim.New(lambdasim.Options{})
	s.Start("f", "", "x", time.Now().Add(-time.Second))
	url, shutdown, err := lambdasim.Listen("127.0.0.1:0", s)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(url, &http.Client{Timeout: 10 * time.Second})
	out, err := c.ListDurableExecutionsByFunction(context.Background(), &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("f")})
	if err != nil || len(out.DurableExecutions) != 1 || aws.ToString(out.DurableExecutions[0].DurableExecutionName) != "x" {
		t.Fatalf("list over Listen: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListDurableExecutionsByFunction(context.Background(), &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("f")}); err == nil {
		t.Fatal("request after shutdown succeeded")
	}
}
