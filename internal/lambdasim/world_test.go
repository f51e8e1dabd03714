package lambdasim_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	ttypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

func TestWorldUnknownAccessKey(t *testing.T) {
	h := newWorldHarness(t, lambdasim.WorldOptions{}, t0)
	h.w.AddAccount(acctA)
	h.w.Partition(acctA, regUS).AddFunction("orders", nil, nil)
	unknown := static("AKIAUNKNOWNUNKNOWN00", "secret")
	ctx := context.Background()

	_, err := h.lambda(regUS, unknown).ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if code, msg, status := apiError(t, err); code != "UnrecognizedClientException" || status != 403 ||
		msg != "The security token included in the request is invalid." {
		t.Fatalf("ListFunctions: %s %q %d", code, msg, status)
	}
	_, err = h.lambda(regUS, unknown).ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("orders")})
	if code, _, status := apiError(t, err); code != "UnrecognizedClientException" || status != 403 {
		t.Fatalf("durable list: %s %d", code, status)
	}
	_, err = h.sts(regUS, unknown).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code, msg, status := apiError(t, err); code != "InvalidClientTokenId" || status != 403 ||
		msg != "The security token included in the request is invalid" {
		t.Fatalf("sts: %s %q %d", code, msg, status)
	}
	_, err = h.tagging(regUS, unknown).GetResources(ctx, &tagging.GetResourcesInput{})
	if code, msg, status := apiError(t, err); code != "UnrecognizedClientException" || status != 400 ||
		msg != "The security token included in the request is invalid." {
		t.Fatalf("tagging: %s %q %d", code, msg, status)
	}
	req := h.w.Requests()
	if req[lambdasim.OpListFunctions] != 1 || req[lambdasim.OpList] != 1 || req[lambdasim.OpGetCallerIdentity] != 1 || req[lambdasim.OpGetResources] != 1 {
		t.Fatalf("Requests %v", req)
	}
	if got := h.w.RequestsIn(acctA, regUS); len(got) != 0 {
		t.Fatalf("rejected requests counted in a partition: %v", got)
	}
	h.w.ResetRequests()
	if got := h.w.Requests(); len(got) != 0 {
		t.Fatalf("after reset %v", got)
	}

	// No Authorization at all.
	resp, err := http.Get(h.srv.URL + "/2015-03-31/functions")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Fatalf("anonymous: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestWorldDurableRouting: the durable API of each partition, by key and
// region; Intercept sees the partition.
func TestWorldDurableRouting(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	h := newWorldHarness(t, lambdasim.WorldOptions{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		mu.Lock()
		defer mu.Unlock()
		seen[r.Op+" "+r.Account+" "+r.Region+" "+r.Function]++
		return nil
	}}, t0)
	akA, skA := h.w.AddAccount(acctA)
	akB, skB := h.w.AddAccount(acctB)
	arnA := h.w.Partition(acctA, regUS).Start("orders", "", "a-run", t0)
	arnB := h.w.Partition(acctB, regEU).Start("orders", "", "b-run", t0)
	if !strings.HasPrefix(arnA, "arn:aws:lambda:us-east-1:111111111111:function:orders:$LATEST/durable-execution/a-run/") ||
		!strings.HasPrefix(arnB, "arn:aws:lambda:eu-west-1:222222222222:function:orders:$LATEST/durable-execution/b-run/") {
		t.Fatalf("ARNs %s %s", arnA, arnB)
	}
	ctx := context.Background()
	for _, c := range []struct {
		client *lambda.Client
		arn    string
	}{{h.lambda(regUS, static(akA, skA)), arnA}, {h.lambda(regEU, static(akB, skB)), arnB}} {
		out, err := c.client.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("orders")})
		if err != nil || !equalStrings(arns(out.DurableExecutions), []string{c.arn}) {
			t.Fatalf("list: %v %v", err, out)
		}
		got, err := c.client.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{DurableExecutionArn: aws.String(c.arn)})
		if err != nil || aws.ToString(got.DurableExecutionArn) != c.arn {
			t.Fatalf("get: %v", err)
		}
	}
	// Account A in eu-west-1 has no such function; B's execution is not
	// A's.
	_, err := h.lambda(regEU, static(akA, skA)).GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{DurableExecutionArn: aws.String(arnB)})
	var rnf *ltypes.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("cross-partition get: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{
		"ListDurableExecutionsByFunction 111111111111 us-east-1 orders": 1,
		"GetDurableExecution 111111111111 us-east-1 orders":             1,
		"ListDurableExecutionsByFunction 222222222222 eu-west-1 orders": 1,
		"GetDurableExecution 222222222222 eu-west-1 orders":             1,
		"GetDurableExecution 111111111111 eu-west-1 orders":             1,
	}
	if len(seen) != len(want) {
		t.Fatalf("Intercept saw %v", seen)
	}
	for k, v := range want {
		if seen[k] != v {
			t.Fatalf("Intercept saw %v", seen)
		}
	}
}

// TestWorldRateLimitPerPartition: each (account, region) has its own
// buckets.
func TestWorldRateLimitPerPartition(t *testing.T) {
	h := newWorldHarness(t, lambdasim.WorldOptions{ListFunctionsRate: 1, ListRate: 1}, t0)
	akA, skA := h.w.AddAccount(acctA)
	akB, skB := h.w.AddAccount(acctB)
	for _, p := range []*lambdasim.Server{h.w.Partition(acctA, regUS), h.w.Partition(acctA, regEU), h.w.Partition(acctB, regUS)} {
		p.AddFunction("orders", nil, nil)
	}
	aUS, aEU, bUS := h.lambda(regUS, static(akA, skA)), h.lambda(regEU, static(akA, skA)), h.lambda(regUS, static(akB, skB))
	ctx := context.Background()
	listFns := func(c *lambda.Client) error {
		_, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{})
		return err
	}
	listExecs := func(c *lambda.Client) error {
		_, err := c.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("orders")})
		return err
	}
	for _, call := range []func(*lambda.Client) error{listFns, listExecs} {
		if err := call(aUS); err != nil {
			t.Fatal(err)
		}
		err := call(aUS)
		var tm *ltypes.TooManyRequestsException
		if !errors.As(err, &tm) || aws.ToString(tm.RetryAfterSeconds) != "1" || tm.Reason != ltypes.ThrottleReasonCallerRateLimitExceeded {
			t.Fatalf("busy partition: %v", err)
		}
		if err := call(aEU); err != nil {
			t.Fatalf("other region throttled: %v", err)
		}
		if err := call(bUS); err != nil {
			t.Fatalf("other account throttled: %v", err)
		}
	}
	h.clock.Advance(time.Second)
	if err := listFns(aUS); err != nil {
		t.Fatalf("after refill: %v", err)
	}
	if got := h.w.RequestsIn(acctA, regUS); got[lambdasim.OpListFunctions] != 3 || got[lambdasim.OpList] != 2 {
		t.Fatalf("counts %v", got)
	}
}

// TestWorldInterceptProtocols: injected faults are answered in each
// service's protocol.
func TestWorldInterceptProtocols(t *testing.T) {
	h := newWorldHarness(t, lambdasim.WorldOptions{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
		if r.N != 1 {
			return nil
		}
		switch r.Op {
		case lambdasim.OpGetResources:
			return &lambdasim.Fault{Status: 500}
		case lambdasim.OpGetCallerIdentity:
			return &lambdasim.Fault{Status: 429}
		case lambdasim.OpListFunctions:
			return &lambdasim.Fault{Status: 429, RetryAfter: "3"}
		}
		return nil
	}}, t0)
	ak, sk := h.w.AddAccount(acctA)
	ctx := context.Background()

	_, err := h.tagging(regUS, static(ak, sk)).GetResources(ctx, &tagging.GetResourcesInput{})
	var ise *ttypes.InternalServiceException
	if !errors.As(err, &ise) {
		t.Fatalf("tagging fault: %v", err)
	}
	if _, err := h.tagging(regUS, static(ak, sk)).GetResources(ctx, &tagging.GetResourcesInput{}); err != nil {
		t.Fatal(err)
	}
	_, err = h.sts(regUS, static(ak, sk)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code, msg, status := apiError(t, err); code != "Throttling" || msg != "Rate exceeded" || status != 429 {
		t.Fatalf("sts fault: %s %q %d", code, msg, status)
	}
	_, err = h.lambda(regUS, static(ak, sk)).ListFunctions(ctx, &lambda.ListFunctionsInput{})
	var tm *ltypes.TooManyRequestsException
	if !errors.As(err, &tm) || aws.ToString(tm.RetryAfterSeconds) != "3" {
		t.Fatalf("lambda fault: %v", err)
	}
}

func TestListenWorld(t *testing.T) {
	w := lambdasim.NewWorld(lambdasim.WorldOptions{})
	ak, sk := w.AddAccount(acctA)
	url, stop, err := lambdasim.ListenWorld("", w)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stop(context.Background()) }()
	c := sts.NewFromConfig(aws.Config{Region: regUS, Credentials: static(ak, sk), BaseEndpoint: aws.String(url), RetryMaxAttempts: 1})
	out, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Account) != acctA {
		t.Fatalf("%v %+v", err, out)
	}
}
