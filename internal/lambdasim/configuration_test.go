package lambdasim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

// TestGetFunctionConfiguration: the SDK's GetFunctionConfiguration gets the
// path and query AWS defines, and the answer ListFunctions gives, with the
// version an alias points at and the timeout SetExecutionTimeout set; errors
// decode to the SDK's modelled types.
func TestGetFunctionConfiguration(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	h.sim.AddFunction("orders", []string{"1", "2"}, map[string]string{"live": "2"})
	h.sim.SetExecutionTimeout("orders", 36*time.Hour)
	h.sim.AddPlainFunction("plain")
	ctx := context.Background()
	get := func(name, qualifier string) (*lambda.GetFunctionConfigurationOutput, error) {
		in := &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)}
		if qualifier != "" {
			in.Qualifier = aws.String(qualifier)
		}
		return h.client.GetFunctionConfiguration(ctx, in)
	}

	out, err := get("orders", "live")
	if err != nil {
		t.Fatal(err)
	}
	if r := h.last(); r.EscapedPath != "/2015-03-31/functions/orders/configuration" || r.Query.Get("Qualifier") != "live" {
		t.Errorf("request %s ?%s", r.EscapedPath, r.RawQuery)
	}
	if aws.ToString(out.FunctionName) != "orders" || aws.ToString(out.Version) != "2" || aws.ToString(out.FunctionArn) != fnARN+":live" ||
		out.DurableConfig == nil || aws.ToInt32(out.DurableConfig.ExecutionTimeout) != 36*3600 ||
		aws.ToInt32(out.DurableConfig.RetentionPeriodInDays) != 14 {
		t.Fatalf("orders:live = %+v, DurableConfig %+v", out, out.DurableConfig)
	}
	if out, err := get(fnARN+":1", ""); err != nil || aws.ToString(out.Version) != "1" {
		t.Fatalf("by qualified ARN: %+v, %v", out, err)
	}
	if out, err := get("plain", ""); err != nil || out.DurableConfig != nil || aws.ToString(out.Version) != "$LATEST" {
		t.Fatalf("plain: %+v, %v", out, err)
	}
	// Reset: the default again.
	h.sim.SetExecutionTimeout("orders", 0)
	if out, err := get("orders", ""); err != nil || aws.ToInt32(out.DurableConfig.ExecutionTimeout) != 86400 {
		t.Fatalf("default timeout: %+v, %v", out, err)
	}

	var nf *types.ResourceNotFoundException
	for _, c := range [][2]string{{"missing", ""}, {"orders", "9"}, {"arn:aws:lambda:us-east-1:999999999999:function:orders", ""}} {
		if _, err := get(c[0], c[1]); !errors.As(err, &nf) {
			t.Errorf("%s:%s: err %v, want ResourceNotFoundException", c[0], c[1], err)
		}
	}
	var bad *types.InvalidParameterValueException
	if _, err := get(fnARN+":1", "2"); !errors.As(err, &bad) {
		t.Errorf("qualifier mismatch: err %v, want InvalidParameterValueException", err)
	}
	if n := h.sim.Requests()[lambdasim.OpGetFunctionConfiguration]; n != 8 {
		t.Errorf("%d GetFunctionConfiguration requests counted, want 8", n)
	}
}
