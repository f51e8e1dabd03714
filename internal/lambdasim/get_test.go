package lambdasim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

func TestGetDurableExecution(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	h.sim.AddFunction("orders", []string{"1", "2"}, map[string]string{"live": "2"})
	running := h.sim.Start("orders", "live", "run-1", t0.Add(-time.Minute))
	failed := h.sim.Start("orders", "1", "fail-1", t0.Add(-2*time.Minute))
	ok := h.sim.Start("orders", "", "ok-1", t0.Add(-3*time.Minute))
	if err := h.sim.End(failed, lambdasim.StatusFailed, t0.Add(-90*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.End(ok, lambdasim.StatusSucceeded, t0.Add(-150*time.Second)); err != nil {
		t.Fatal(err)
	}
	get := func(arn string, include *bool) (*lambda.GetDurableExecutionOutput, error) {
		return h.client.GetDurableExecution(context.Background(), &lambda.GetDurableExecutionInput{
			DurableExecutionArn: aws.String(arn), IncludeExecutionData: include,
		})
	}

	out, err := get(running, aws.Bool(false))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(running, ":function:orders:2/durable-execution/run-1/") {
		t.Fatalf("alias not resolved in ARN %s", running)
	}
	if aws.ToString(out.DurableExecutionArn) != running || aws.ToString(out.DurableExecutionName) != "run-1" ||
		aws.ToString(out.FunctionArn) != fnARN+":2" || out.Status != types.ExecutionStatusRunning ||
		!out.StartTimestamp.Equal(t0.Add(-time.Minute)) || out.EndTimestamp != nil || out.Error != nil ||
		aws.ToString(out.Version) != "2" || aws.ToBool(out.ExecutionDataIncluded) || out.InputPayload != nil {
		t.Fatalf("running: %+v", out)
	}
	if out.DurableConfig == nil || aws.ToInt32(out.DurableConfig.RetentionPeriodInDays) != 14 {
		t.Fatalf("DurableConfig %+v", out.DurableConfig)
	}

	out, err = get(failed, aws.Bool(false))
	if err != nil {
		t.Fatal(err)
	}
	// Without execution data there is no Error either.
	if out.Status != types.ExecutionStatusFailed || !out.EndTimestamp.Equal(t0.Add(-90*time.Second)) ||
		aws.ToString(out.Version) != "1" || out.Error != nil || out.InputPayload != nil {
		t.Fatalf("failed, no data: %+v err %+v", out, out.Error)
	}
	out, err = get(failed, nil) // IncludeExecutionData defaults to true
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(out.ExecutionDataIncluded) || out.Error == nil || len(out.Error.StackTrace) != 2 || out.InputPayload == nil ||
		aws.ToString(out.Error.ErrorType) != "StepFailedError" || aws.ToString(out.Error.ErrorMessage) == "" ||
		aws.ToString(out.Error.ErrorData) == "" {
		t.Fatalf("failed, with data: %+v", out)
	}

	out, err = get(ok, aws.Bool(true))
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != types.ExecutionStatusSucceeded || aws.ToString(out.Result) != `{"ok":true}` ||
		aws.ToString(out.Version) != "$LATEST" || out.Error != nil {
		t.Fatalf("succeeded: %+v", out)
	}

	_, err = get(running+"x", aws.Bool(false))
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || !strings.HasPrefix(nf.ErrorMessage(), "Durable execution not found: ") || aws.ToString(nf.Type) != "User" {
		t.Fatalf("unknown ARN: %v", err)
	}
	if got := h.sim.Requests()[lambdasim.OpGet]; got != 5 {
		t.Fatalf("Requests()[Get] = %d, want 5", got)
	}
	h.sim.ResetRequests()
	if got := h.sim.Requests()[lambdasim.OpGet]; got != 0 {
		t.Fatalf("after reset: %d", got)
	}
}

func TestGetErrorTypesAndPayloads(t *testing.T) {
	const payload = 100 << 10
	h := newHarness(t, lambdasim.Options{
		ErrorTypes:   map[string][]string{"orders": {"A", "B"}},
		PayloadBytes: payload,
	})
	at := t0.Add(-time.Hour)
	var arns []string
	for i, status := range []string{lambdasim.StatusFailed, lambdasim.StatusFailed, lambdasim.StatusFailed,
		lambdasim.StatusTimedOut, lambdasim.StatusStopped, lambdasim.StatusFailed, lambdasim.StatusFailed, lambdasim.StatusSucceeded} {
		arn := h.sim.Start("orders", "1", fmt.Sprintf("x-%d", i), at)
		if err := h.sim.End(arn, status, at.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		arns = append(arns, arn)
	}
	other := h.sim.Start("billing", "1", "b", at)
	if err := h.sim.End(other, lambdasim.StatusFailed, at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.SetErrorType(arns[5], ""); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.RemoveError(arns[6]); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.SetErrorType("nosuch", "X"); !errors.Is(err, lambdasim.ErrNotFound) {
		t.Fatalf("SetErrorType(nosuch) = %v", err)
	}
	if err := h.sim.RemoveError("nosuch"); !errors.Is(err, lambdasim.ErrNotFound) {
		t.Fatalf("RemoveError(nosuch) = %v", err)
	}
	errType := func(arn string) (string, bool) {
		t.Helper()
		out, err := h.client.GetDurableExecution(context.Background(), &lambda.GetDurableExecutionInput{
			DurableExecutionArn: aws.String(arn), IncludeExecutionData: aws.Bool(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(aws.ToString(out.InputPayload)); n < payload {
			t.Fatalf("%s: InputPayload of %d bytes, want at least %d", arn, n, payload)
		}
		if out.Error == nil {
			return "", false
		}
		if n := len(aws.ToString(out.Error.ErrorData)); n < payload {
			t.Fatalf("%s: ErrorData of %d bytes", arn, n)
		}
		return aws.ToString(out.Error.ErrorType), true
	}
	// Executions 1, 2, 3 have sequence numbers 1, 2, 3: B, A, B.
	for i, want := range []string{"B", "A", "B", "Lambda.DurableExecutionTimedOut", "Lambda.DurableExecutionStopped", ""} {
		if got, ok := errType(arns[i]); !ok || got != want {
			t.Errorf("execution %d: ErrorType %q (present %v), want %q", i, got, ok, want)
		}
	}
	if got, ok := errType(arns[6]); ok {
		t.Errorf("removed Error still served: %q", got)
	}
	if got, ok := errType(arns[7]); ok {
		t.Errorf("SUCCEEDED with Error %q", got)
	}
	if got, _ := errType(other); got != "StepFailedError" {
		t.Errorf("function without ErrorTypes: %q", got)
	}
}

// TestGetMemberOrder checks that answers come in both member orders, with
// the payloads before and after Error and Status.
func TestGetMemberOrder(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	var orders []string
	for i := range 2 {
		arn := h.sim.Start("orders", "1", fmt.Sprintf("x-%d", i), t0.Add(-time.Hour))
		if err := h.sim.End(arn, lambdasim.StatusFailed, t0); err != nil {
			t.Fatal(err)
		}
		body := string(rawGet(t, h.url+"/2025-12-01/durable-executions/"+url.PathEscape(arn), http.StatusOK))
		in, e, st := strings.Index(body, `"InputPayload"`), strings.Index(body, `"Error"`), strings.Index(body, `"Status"`)
		if in < 0 || e < 0 || st < 0 {
			t.Fatalf("members missing: %s", body)
		}
		if !json.Valid([]byte(body)) {
			t.Fatalf("not JSON: %s", body)
		}
		orders = append(orders, fmt.Sprint(in < e, in < st))
	}
	if orders[0] == orders[1] {
		t.Fatalf("both answers in one order: %v", orders)
	}
}

func TestEndErrors(t *testing.T) {
	s := lambdasim.New(lambdasim.Options{})
	arn := s.Start("f", "", "x", t0)
	for _, tc := range []struct {
		arn, status string
		at          time.Time
		want        error
	}{
		{"nosuch", lambdasim.StatusSucceeded, t0, lambdasim.ErrNotFound},
		{arn, lambdasim.StatusRunning, t0, lambdasim.ErrBadStatus},
		{arn, "DONE", t0, lambdasim.ErrBadStatus},
		{arn, lambdasim.StatusStopped, t0.Add(-time.Millisecond), lambdasim.ErrEndBefore},
	} {
		if err := s.End(tc.arn, tc.status, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("End(%s, %s) = %v, want %v", tc.arn, tc.status, err, tc.want)
		}
	}
	if err := s.End(arn, lambdasim.StatusStopped, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.End(arn, lambdasim.StatusFailed, t0); !errors.Is(err, lambdasim.ErrNotRunning) {
		t.Fatalf("second End = %v", err)
	}
	x, ok := s.Lookup(arn)
	if !ok || x.Status != lambdasim.StatusStopped || !x.End.Equal(t0) || x.Function != "f" || x.Version != "$LATEST" {
		t.Fatalf("Lookup = %+v", x)
	}
	if fns := s.Functions(); len(fns) != 1 || fns[0] != "f" {
		t.Fatalf("Functions = %v", fns)
	}
}
