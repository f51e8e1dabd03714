package lambdasim_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

// TestWorldListFunctions lists two accounts x two regions with the real
// client, two per page.
func TestWorldListFunctions(t *testing.T) {
	h := newWorldHarness(t, lambdasim.WorldOptions{}, t0)
	akA, skA := h.w.AddAccount(acctA)
	akB, skB := h.w.AddAccount(acctB)

	aUS := h.w.Partition(acctA, regUS)
	aUS.AddFunction("gamma", nil, nil)
	aUS.Start("alpha", "", "run-1", t0)
	aUS.AddFunction("beta", []string{"1"}, nil)
	aUS.AddPlainFunction("legacy")
	h.clock.Advance(90_000_000_000) // 90s: zeta is registered later
	aUS.Start("zeta", "", "", t0)
	h.w.Partition(acctA, regEU).AddFunction("eu-only", nil, nil)
	bUS := h.w.Partition(acctB, regUS)
	bUS.AddFunction("b-orders", nil, nil)
	bUS.AddPlainFunction("b-plain")

	cases := []struct {
		ak, sk, account, region string
		want                    []string
		plain                   map[string]bool
		sizes                   []int
	}{
		{akA, skA, acctA, regUS, []string{"alpha", "beta", "gamma", "legacy", "zeta"}, map[string]bool{"legacy": true}, []int{2, 2, 1}},
		{akA, skA, acctA, regEU, []string{"eu-only"}, nil, []int{1}},
		{akB, skB, acctB, regUS, []string{"b-orders", "b-plain"}, map[string]bool{"b-plain": true}, []int{2}},
		{akB, skB, acctB, regEU, []string{}, nil, []int{0}},
	}
	for _, c := range cases {
		fs, sizes := listFunctions(t, h.lambda(c.region, static(c.ak, c.sk)), &lambda.ListFunctionsInput{MaxItems: aws.Int32(2)})
		if got := functionNames(fs); !equalStrings(got, c.want) || !equalInts(sizes, c.sizes) {
			t.Fatalf("%s/%s: functions %v pages %v, want %v %v", c.account, c.region, got, sizes, c.want, c.sizes)
		}
		for _, f := range fs {
			name := aws.ToString(f.FunctionName)
			wantARN := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", c.region, c.account, name)
			if aws.ToString(f.FunctionArn) != wantARN || aws.ToString(f.Version) != "$LATEST" ||
				f.Runtime != ltypes.RuntimeNodejs22x || f.PackageType != ltypes.PackageTypeZip ||
				aws.ToString(f.LoggingConfig.LogGroup) != "/aws/lambda/"+name {
				t.Fatalf("%s: %+v", name, f)
			}
			if c.plain[name] {
				if f.DurableConfig != nil {
					t.Fatalf("%s: plain function has DurableConfig %+v", name, f.DurableConfig)
				}
			} else if f.DurableConfig == nil || aws.ToInt32(f.DurableConfig.ExecutionTimeout) != 86400 ||
				aws.ToInt32(f.DurableConfig.RetentionPeriodInDays) != 14 {
				t.Fatalf("%s: DurableConfig %+v", name, f.DurableConfig)
			}
		}
		if n := h.w.RequestsIn(c.account, c.region)[lambdasim.OpListFunctions]; n != len(c.sizes) {
			t.Fatalf("%s/%s: %d ListFunctions requests, want %d", c.account, c.region, n, len(c.sizes))
		}
	}
	// LastModified is the registration time on the World's clock, in
	// Lambda's format.
	fs, _ := listFunctions(t, h.lambda(regUS, static(akA, skA)), &lambda.ListFunctionsInput{})
	if lm := aws.ToString(fs[0].LastModified); lm != "2025-11-28T09:00:00.123+0000" {
		t.Fatalf("alpha LastModified %q", lm)
	}
	if lm := aws.ToString(fs[4].LastModified); lm != "2025-11-28T09:01:30.123+0000" {
		t.Fatalf("zeta LastModified %q", lm)
	}
	if got := h.w.Requests()[lambdasim.OpListFunctions]; got != 3+1+1+1+1 {
		t.Fatalf("World ListFunctions count %d", got)
	}

	// FunctionVersion=ALL lists every version with qualified ARNs.
	out, err := h.lambda(regUS, static(akA, skA)).ListFunctions(context.Background(), &lambda.ListFunctionsInput{
		FunctionVersion: ltypes.FunctionVersionAll, MaxItems: aws.Int32(3),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range out.Functions {
		got = append(got, aws.ToString(f.FunctionArn))
	}
	want := []string{
		"arn:aws:lambda:us-east-1:111111111111:function:alpha:$LATEST",
		"arn:aws:lambda:us-east-1:111111111111:function:beta:$LATEST",
		"arn:aws:lambda:us-east-1:111111111111:function:beta:1",
	}
	if !equalStrings(got, want) || out.NextMarker == nil {
		t.Fatalf("ALL: %v next %v", got, out.NextMarker)
	}
}

// TestListFunctionsPageCap: AWS returns at most 50 functions per page.
func TestListFunctionsPageCap(t *testing.T) {
	h := newWorldHarness(t, lambdasim.WorldOptions{}, t0)
	ak, sk := h.w.AddAccount(acctA)
	p := h.w.Partition(acctA, regUS)
	for i := range 60 {
		p.AddFunction(fmt.Sprintf("fn-%03d", i), nil, nil)
	}
	fs, sizes := listFunctions(t, h.lambda(regUS, static(ak, sk)), &lambda.ListFunctionsInput{MaxItems: aws.Int32(1000)})
	if !equalInts(sizes, []int{50, 10}) || len(fs) != 60 || aws.ToString(fs[59].FunctionName) != "fn-059" {
		t.Fatalf("pages %v, %d functions", sizes, len(fs))
	}
	fs, sizes = listFunctions(t, h.lambda(regUS, static(ak, sk)), &lambda.ListFunctionsInput{})
	if !equalInts(sizes, []int{50, 10}) || len(fs) != 60 {
		t.Fatalf("default: pages %v", sizes)
	}
}

func TestListFunctionsValidation(t *testing.T) {
	h := newWorldHarness(t, lambdasim.WorldOptions{}, t0)
	ak, sk := h.w.AddAccount(acctA)
	c := h.lambda(regUS, static(ak, sk))
	for _, in := range []*lambda.ListFunctionsInput{
		{MaxItems: aws.Int32(0)},
		{MaxItems: aws.Int32(10001)},
		{FunctionVersion: "LATEST"},
		{MasterRegion: aws.String("mars")},
	} {
		_, err := c.ListFunctions(context.Background(), in)
		if code, _, status := apiError(t, err); code != "ValidationException" || status != 400 {
			t.Fatalf("%+v: %s %d", in, code, status)
		}
	}
	_, err := c.ListFunctions(context.Background(), &lambda.ListFunctionsInput{Marker: aws.String("bogus!")})
	var ipv *ltypes.InvalidParameterValueException
	if !errors.As(err, &ipv) {
		t.Fatalf("bad marker: %v", err)
	}
	_, err = c.ListFunctions(context.Background(), &lambda.ListFunctionsInput{MasterRegion: aws.String("us-east-1")})
	if !errors.As(err, &ipv) {
		t.Fatalf("MasterRegion without ALL: %v", err)
	}
	out, err := c.ListFunctions(context.Background(), &lambda.ListFunctionsInput{MasterRegion: aws.String("ALL"), FunctionVersion: ltypes.FunctionVersionAll})
	if err != nil || len(out.Functions) != 0 || out.NextMarker != nil {
		t.Fatalf("MasterRegion ALL: %v %+v", err, out)
	}
}

// TestServerListFunctions: a Server alone serves ListFunctions too.
func TestServerListFunctions(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	h.sim.AddFunction("durable", nil, nil)
	h.sim.AddPlainFunction("plain")
	h.sim.SetTags("durable", map[string]string{"team": "payments"})
	fs, sizes := listFunctions(t, h.client, &lambda.ListFunctionsInput{})
	if !equalStrings(functionNames(fs), []string{"durable", "plain"}) || !equalInts(sizes, []int{2}) ||
		aws.ToString(fs[0].FunctionArn) != "arn:aws:lambda:us-east-1:123456789012:function:durable" ||
		fs[0].DurableConfig == nil || fs[1].DurableConfig != nil {
		t.Fatalf("%+v", fs)
	}
	if r := h.last(); r.EscapedPath != "/2015-03-31/functions" {
		t.Fatalf("path %q", r.EscapedPath)
	}
	if got := h.sim.Tags("durable"); len(got) != 1 || got["team"] != "payments" || h.sim.Tags("plain") != nil {
		t.Fatalf("tags %v", got)
	}
	if got := h.sim.Functions(); !equalStrings(got, []string{"durable", "plain"}) {
		t.Fatalf("Functions %v", got)
	}
	if n := h.sim.Requests()[lambdasim.OpListFunctions]; n != 1 {
		t.Fatalf("requests %v", h.sim.Requests())
	}
}
