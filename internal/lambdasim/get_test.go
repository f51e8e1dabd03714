package lambdasim_test

import (
	"context"
	"errors"
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
	if out.Status != types.ExecutionStatusFailed || !out.EndTimestamp.Equal(t0.Add(-90*time.Second)) ||
		aws.ToString(out.Version) != "1" || out.Error == nil ||
		aws.ToString(out.Error.ErrorType) != "StepFailedError" || aws.ToString(out.Error.ErrorMessage) == "" ||
		out.Error.StackTrace != nil || out.Error.ErrorData != nil {
		t.Fatalf("failed, no data: %+v err %+v", out, out.Error)
	}
	out, err = get(failed, nil) // IncludeExecutionData defaults to true
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(out.ExecutionDataIncluded) || len(out.Error.StackTrace) != 2 || out.InputPayload == nil {
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
