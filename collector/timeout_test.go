package collector

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// TestExecutionTimeoutGauge: the timeout is exported with the target's
// labels when known, also before the first successful poll; not when
// unknown, nor for a function that is gone.
func TestExecutionTimeoutGauge(t *testing.T) {
	known := &snapshot.Snapshot{
		Target:           snapshot.Target{Function: "order-workflow", Qualifier: "live", Region: "us-east-1", AccountID: "123456789012"},
		Statuses:         durable.Known,
		Primed:           true,
		ExecutionTimeout: 7200,
	}
	unprimed := &snapshot.Snapshot{
		Target:           snapshot.Target{Function: "billing", Region: "eu-west-1"},
		Statuses:         durable.Known,
		ExecutionTimeout: 86400,
	}
	unknown := &snapshot.Snapshot{
		Target:   snapshot.Target{Function: "nightly-report", Region: "us-east-1", AccountID: "123456789012"},
		Statuses: durable.Known,
		Primed:   true,
	}
	gone := &snapshot.Snapshot{
		Target:           snapshot.Target{Function: "deleted", Region: "us-east-1", AccountID: "123456789012"},
		Statuses:         durable.Known,
		Primed:           true,
		Gone:             true,
		ExecutionTimeout: 600,
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(fixed{known, unprimed, unknown, gone}))
	want := `
# HELP lambda_durable_function_execution_timeout_seconds The function's DurableConfig.ExecutionTimeout, read with GetFunctionConfiguration (static functions) or ListFunctions (discovered ones) once per refresh; absent while not known.
# TYPE lambda_durable_function_execution_timeout_seconds gauge
lambda_durable_function_execution_timeout_seconds{account_id="",function="billing",qualifier="",region="eu-west-1"} 86400
lambda_durable_function_execution_timeout_seconds{account_id="123456789012",function="order-workflow",qualifier="live",region="us-east-1"} 7200
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "lambda_durable_function_execution_timeout_seconds"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "lambda_durable_function_execution_timeout_seconds"); err != nil || n != 2 {
		t.Errorf("%d series (%v), want 2: the filter must not hide a typo", n, err)
	}
	if problems, err := testutil.GatherAndLint(reg, "lambda_durable_function_execution_timeout_seconds"); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
