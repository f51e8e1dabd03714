package lambdasim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

const fnARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"

// seedOrders registers "orders" (versions 1 and 2, alias live -> 2) with 250
// executions one minute apart ending before t0, with varied millisecond
// fractions, versions and statuses:
// i%5==0 -> $LATEST, else odd -> 2, even -> 1;
// i%3==0 SUCCEEDED, else i%7==0 FAILED, else i%11==0 TIMED_OUT, else RUNNING.
func seedOrders(t testing.TB, s *lambdasim.Server) {
	t.Helper()
	s.AddFunction("orders", []string{"1", "2"}, map[string]string{"live": "2"})
	for i := range 250 {
		at := t0.Add(-time.Duration(250-i)*time.Minute + time.Duration(i*37)*time.Millisecond)
		v := "1"
		switch {
		case i%5 == 0:
			v = "$LATEST"
		case i%2 == 1:
			v = "2"
		}
		arn := s.Start("orders", v, fmt.Sprintf("order-%d", i), at)
		var st string
		switch {
		case i%3 == 0:
			st = lambdasim.StatusSucceeded
		case i%7 == 0:
			st = lambdasim.StatusFailed
		case i%11 == 0:
			st = lambdasim.StatusTimedOut
		}
		if st != "" {
			if err := s.End(arn, st, at.Add(30*time.Second+time.Duration(i)*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestListPaginatesNewestFirst(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	seedOrders(t, h.sim)

	items, sizes := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{
		FunctionName: aws.String("orders"), MaxItems: 100,
	})
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Fatalf("page sizes = %v, want [100 100 50]", sizes)
	}
	want := reversed(h.sim.Executions("orders"))
	if len(items) != len(want) {
		t.Fatalf("got %d items, want %d", len(items), len(want))
	}
	for i, it := range items {
		w := want[i]
		if got := aws.ToString(it.DurableExecutionArn); got != w.ARN {
			t.Fatalf("item %d ARN = %s, want %s", i, got, w.ARN)
		}
		if aws.ToString(it.DurableExecutionName) != w.Name ||
			aws.ToString(it.FunctionArn) != fnARN+":"+w.Version ||
			string(it.Status) != w.Status ||
			!it.StartTimestamp.Equal(w.Start) {
			t.Fatalf("item %d = {%s %s %s %v}, want %+v", i, aws.ToString(it.DurableExecutionName),
				aws.ToString(it.FunctionArn), it.Status, it.StartTimestamp, w)
		}
		if w.Status == lambdasim.StatusRunning {
			if it.EndTimestamp != nil {
				t.Fatalf("item %d: RUNNING with EndTimestamp %v", i, it.EndTimestamp)
			}
		} else if it.EndTimestamp == nil || !it.EndTimestamp.Equal(w.End) {
			t.Fatalf("item %d: EndTimestamp %v, want %v", i, it.EndTimestamp, w.End)
		}
		if !strings.HasPrefix(w.ARN, fnARN+":"+w.Version+"/durable-execution/"+w.Name+"/") {
			t.Fatalf("ARN %s not of the documented form", w.ARN)
		}
	}
	if got := h.sim.Requests()[lambdasim.OpList]; got != 3 {
		t.Errorf("Requests()[List] = %d, want 3", got)
	}
	// The newest is order-249; the oldest order-0.
	if n := aws.ToString(items[0].DurableExecutionName); n != "order-249" {
		t.Errorf("first item %s, want order-249", n)
	}

	// Default MaxItems is 100.
	out, err := h.client.ListDurableExecutionsByFunction(context.Background(),
		&lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.DurableExecutions) != 100 || out.NextMarker == nil {
		t.Fatalf("default page: %d items, marker %v", len(out.DurableExecutions), out.NextMarker)
	}
}

func TestListFilters(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	seedOrders(t, h.sim)
	truth := h.sim.Executions("orders")
	count := func(pred func(lambdasim.Execution) bool) int {
		n := 0
		for _, e := range truth {
			if pred(e) {
				n++
			}
		}
		return n
	}
	list := func(t *testing.T, in lambda.ListDurableExecutionsByFunctionInput) []types.Execution {
		t.Helper()
		in.FunctionName = aws.String("orders")
		in.MaxItems = 40
		items, _ := listAll(t, h.client, &in)
		return items
	}

	for _, tc := range []struct {
		qualifier, version string
	}{{"1", "1"}, {"2", "2"}, {"live", "2"}, {"$LATEST", "$LATEST"}} {
		t.Run("Qualifier="+tc.qualifier, func(t *testing.T) {
			items := list(t, lambda.ListDurableExecutionsByFunctionInput{Qualifier: aws.String(tc.qualifier)})
			want := count(func(e lambdasim.Execution) bool { return e.Version == tc.version })
			if len(items) != want || want == 0 {
				t.Fatalf("got %d items, want %d", len(items), want)
			}
			for _, it := range items {
				if got := aws.ToString(it.FunctionArn); got != fnARN+":"+tc.version {
					t.Fatalf("FunctionArn %s, want version %s", got, tc.version)
				}
			}
		})
	}

	t.Run("Qualifier unknown", func(t *testing.T) {
		_, err := h.client.ListDurableExecutionsByFunction(context.Background(), &lambda.ListDurableExecutionsByFunctionInput{
			FunctionName: aws.String("orders"), Qualifier: aws.String("9"),
		})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Fatalf("err = %v, want ResourceNotFoundException", err)
		}
	})

	t.Run("DurableExecutionName exact", func(t *testing.T) {
		items := list(t, lambda.ListDurableExecutionsByFunctionInput{DurableExecutionName: aws.String("order-1")})
		if got := names(items); fmt.Sprint(got) != "[order-1]" {
			t.Fatalf("names = %v, want [order-1] (exact, not prefix)", got)
		}
		items = list(t, lambda.ListDurableExecutionsByFunctionInput{DurableExecutionName: aws.String("order-")})
		if len(items) != 0 {
			t.Fatalf("prefix matched %d items", len(items))
		}
	})

	for _, st := range []types.ExecutionStatus{types.ExecutionStatusRunning, types.ExecutionStatusSucceeded,
		types.ExecutionStatusFailed, types.ExecutionStatusTimedOut} {
		t.Run("Statuses="+string(st), func(t *testing.T) {
			items := list(t, lambda.ListDurableExecutionsByFunctionInput{Statuses: []types.ExecutionStatus{st}})
			want := count(func(e lambdasim.Execution) bool { return e.Status == string(st) })
			if len(items) != want || want == 0 {
				t.Fatalf("got %d, want %d", len(items), want)
			}
			for _, it := range items {
				if it.Status != st {
					t.Fatalf("status %s in %s listing", it.Status, st)
				}
			}
		})
	}

	t.Run("Statuses=STOPPED none", func(t *testing.T) {
		items := list(t, lambda.ListDurableExecutionsByFunctionInput{Statuses: []types.ExecutionStatus{types.ExecutionStatusStopped}})
		if len(items) != 0 {
			t.Fatalf("got %d STOPPED", len(items))
		}
	})

	t.Run("Qualifier and status", func(t *testing.T) {
		items := list(t, lambda.ListDurableExecutionsByFunctionInput{
			Qualifier: aws.String("live"), Statuses: []types.ExecutionStatus{types.ExecutionStatusRunning},
		})
		want := count(func(e lambdasim.Execution) bool { return e.Version == "2" && e.Status == lambdasim.StatusRunning })
		if len(items) != want || want == 0 {
			t.Fatalf("got %d, want %d", len(items), want)
		}
	})

	for name, in := range map[string]lambda.ListDurableExecutionsByFunctionInput{
		"two statuses":   {Statuses: []types.ExecutionStatus{types.ExecutionStatusRunning, types.ExecutionStatusFailed}},
		"unknown status": {Statuses: []types.ExecutionStatus{"PAUSED"}},
		"MaxItems 1001":  {MaxItems: 1001},
		"MaxItems -1":    {MaxItems: -1},
		"bad qualifier":  {Qualifier: aws.String("a b")},
	} {
		t.Run("invalid "+name, func(t *testing.T) {
			in.FunctionName = aws.String("orders")
			_, err := h.client.ListDurableExecutionsByFunction(context.Background(), &in)
			var ip *types.InvalidParameterValueException
			if !errors.As(err, &ip) {
				t.Fatalf("err = %v, want InvalidParameterValueException", err)
			}
			if ip.ErrorMessage() == "" || aws.ToString(ip.Type) != "User" {
				t.Fatalf("exception fields: message %q type %v", ip.ErrorMessage(), aws.ToString(ip.Type))
			}
		})
	}

	t.Run("StartedAfter and StartedBefore are strict", func(t *testing.T) {
		items := list(t, lambda.ListDurableExecutionsByFunctionInput{
			StartedAfter:  aws.Time(truth[10].Start),
			StartedBefore: aws.Time(truth[20].Start),
		})
		var want []string
		for _, e := range truth[11:20] {
			want = append(want, e.ARN)
		}
		if got := arns(items); !equalStrings(got, reversed(want)) {
			t.Fatalf("got %d items %v\nwant %v", len(got), got, reversed(want))
		}
		// One millisecond earlier bounds include both ends.
		items = list(t, lambda.ListDurableExecutionsByFunctionInput{
			StartedAfter:  aws.Time(truth[10].Start.Add(-time.Millisecond)),
			StartedBefore: aws.Time(truth[20].Start.Add(time.Millisecond)),
		})
		if len(items) != 11 {
			t.Fatalf("inclusive-ish window: %d items, want 11", len(items))
		}
		// Only StartedAfter.
		items = list(t, lambda.ListDurableExecutionsByFunctionInput{StartedAfter: aws.Time(truth[240].Start)})
		if len(items) != 9 || aws.ToString(items[8].DurableExecutionArn) != truth[241].ARN {
			t.Fatalf("StartedAfter: %d items", len(items))
		}
	})
}

func TestListReverseOrder(t *testing.T) {
	for _, newestFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("ReverseMeansNewestFirst=%v", newestFirst), func(t *testing.T) {
			h := newHarness(t, lambdasim.Options{ReverseMeansNewestFirst: newestFirst})
			seedOrders(t, h.sim)
			var oldest []string
			for _, e := range h.sim.Executions("orders") {
				oldest = append(oldest, e.ARN)
			}
			plain, sizes := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{
				FunctionName: aws.String("orders"), MaxItems: 7,
			})
			rev, _ := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{
				FunctionName: aws.String("orders"), MaxItems: 7, ReverseOrder: aws.Bool(true),
			})
			if len(sizes) != 36 {
				t.Fatalf("%d pages, want 36", len(sizes))
			}
			wantPlain, wantRev := reversed(oldest), oldest
			if newestFirst {
				wantPlain, wantRev = wantRev, wantPlain
			}
			if !equalStrings(arns(plain), wantPlain) {
				t.Fatal("default order wrong")
			}
			if !equalStrings(arns(rev), wantRev) {
				t.Fatal("ReverseOrder=true order wrong")
			}
			// ReverseOrder=false is the default order.
			f, _ := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{
				FunctionName: aws.String("orders"), MaxItems: 100, ReverseOrder: aws.Bool(false),
			})
			if !equalStrings(arns(f), wantPlain) {
				t.Fatal("ReverseOrder=false differs from default")
			}
		})
	}
}

func TestListTiesBrokenByARN(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	a := h.sim.Start("f", "", "b", t0)
	b := h.sim.Start("f", "", "a", t0)
	c := h.sim.Start("f", "", "c", t0.Add(-time.Second))
	items, _ := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("f"), MaxItems: 1})
	first, second := a, b
	if b > a {
		first, second = b, a
	}
	if got := arns(items); !equalStrings(got, []string{first, second, c}) {
		t.Fatalf("order %v", got)
	}
}

func TestFunctionNameForms(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	seedOrders(t, h.sim)
	all := len(h.sim.Executions("orders"))
	v1 := 0
	for _, e := range h.sim.Executions("orders") {
		if e.Version == "1" {
			v1++
		}
	}
	for name, want := range map[string]int{
		"orders":                         all,
		fnARN:                            all,
		fnARN + ":1":                     v1,
		"123456789012:function:orders":   all,
		"123456789012:function:orders:1": v1,
		"orders:1":                       v1,
	} {
		t.Run(name, func(t *testing.T) {
			items, _ := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String(name), MaxItems: 1000})
			if len(items) != want {
				t.Fatalf("%d items, want %d", len(items), want)
			}
		})
	}
	for name, wantNotFound := range map[string]bool{
		"nosuch": true,
		"arn:aws:lambda:us-east-1:999999999999:function:orders": true,
		"arn:aws:lambda:eu-west-1:123456789012:function:orders": true,
		"orders:7":                  true,
		"a:b:c:d:e":                 false,
		"arn:aws:s3:::bucket":       false,
		"123456789012:function:":    false,
		"orders:1:extra:parts:here": false,
	} {
		t.Run("error "+name, func(t *testing.T) {
			_, err := h.client.ListDurableExecutionsByFunction(context.Background(),
				&lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String(name)})
			var nf *types.ResourceNotFoundException
			var ip *types.InvalidParameterValueException
			if wantNotFound && !errors.As(err, &nf) {
				t.Fatalf("err = %v, want ResourceNotFoundException", err)
			}
			if !wantNotFound && !errors.As(err, &ip) {
				t.Fatalf("err = %v, want InvalidParameterValueException", err)
			}
		})
	}
	t.Run("qualifier conflict", func(t *testing.T) {
		_, err := h.client.ListDurableExecutionsByFunction(context.Background(), &lambda.ListDurableExecutionsByFunctionInput{
			FunctionName: aws.String("orders:1"), Qualifier: aws.String("2"),
		})
		var ip *types.InvalidParameterValueException
		if !errors.As(err, &ip) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not found message", func(t *testing.T) {
		_, err := h.client.ListDurableExecutionsByFunction(context.Background(),
			&lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("nosuch")})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) || nf.ErrorMessage() != "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nosuch" {
			t.Fatalf("err = %v", err)
		}
	})
}

// fiveRuns starts e1..e5 one second apart ending at t0.
func fiveRuns(s *lambdasim.Server) {
	for i := 1; i <= 5; i++ {
		s.Start("f", "1", fmt.Sprintf("e%d", i), t0.Add(time.Duration(i-5)*time.Second))
	}
}

func page(t *testing.T, c *lambda.Client, marker *string) ([]string, *string) {
	t.Helper()
	out, err := c.ListDurableExecutionsByFunction(context.Background(), &lambda.ListDurableExecutionsByFunctionInput{
		FunctionName: aws.String("f"), MaxItems: 2, Marker: marker,
	})
	if err != nil {
		t.Fatal(err)
	}
	return names(out.DurableExecutions), out.NextMarker
}

func TestCursorMarkersSurviveInserts(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	fiveRuns(h.sim)
	p1, m := page(t, h.client, nil)
	h.clock.Advance(time.Second)
	h.sim.Start("f", "1", "e6", t0.Add(time.Second)) // newest: before the cursor
	h.sim.Start("f", "1", "e0", t0.Add(-time.Hour))  // oldest: after the cursor
	p2, m := page(t, h.client, m)
	p3, m := page(t, h.client, m)
	if m != nil {
		t.Fatalf("unexpected marker after 3 pages")
	}
	got := fmt.Sprint(p1, p2, p3)
	if got != "[e5 e4] [e3 e2] [e1 e0]" {
		t.Fatalf("pages %s", got)
	}
}

func TestOffsetMarkersRepeatItems(t *testing.T) {
	h := newHarness(t, lambdasim.Options{OffsetMarkers: true})
	fiveRuns(h.sim)
	p1, m := page(t, h.client, nil)
	if aws.ToString(m) != "2" {
		t.Fatalf("offset marker %q, want 2", aws.ToString(m))
	}
	h.clock.Advance(time.Second)
	h.sim.Start("f", "1", "e6", t0.Add(time.Second))
	p2, m := page(t, h.client, m)
	p3, m := page(t, h.client, m)
	if m != nil {
		t.Fatalf("unexpected marker %q", *m)
	}
	if got := fmt.Sprint(p1, p2, p3); got != "[e5 e4] [e4 e3] [e2 e1]" {
		t.Fatalf("pages %s: want e4 repeated", got)
	}
}

func TestInvalidMarker(t *testing.T) {
	for _, tc := range []struct {
		offset bool
		marker string
	}{{false, "not a cursor!"}, {false, "2"}, {true, "abc"}, {true, "-1"}} {
		h := newHarness(t, lambdasim.Options{OffsetMarkers: tc.offset})
		fiveRuns(h.sim)
		_, err := h.client.ListDurableExecutionsByFunction(context.Background(), &lambda.ListDurableExecutionsByFunctionInput{
			FunctionName: aws.String("f"), Marker: aws.String(tc.marker),
		})
		var ip *types.InvalidParameterValueException
		if !errors.As(err, &ip) {
			t.Errorf("offset=%v marker %q: err = %v", tc.offset, tc.marker, err)
		}
	}
	// A cursor from one order is rejected in the other.
	h := newHarness(t, lambdasim.Options{})
	fiveRuns(h.sim)
	_, m := page(t, h.client, nil)
	_, err := h.client.ListDurableExecutionsByFunction(context.Background(), &lambda.ListDurableExecutionsByFunctionInput{
		FunctionName: aws.String("f"), Marker: m, ReverseOrder: aws.Bool(true),
	})
	var ip *types.InvalidParameterValueException
	if !errors.As(err, &ip) {
		t.Fatalf("cross-order marker: err = %v", err)
	}
}

func TestVisibilityDelay(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	h.sim.Start("f", "", "seen", t0.Add(-time.Second))
	arn := h.sim.StartVisibleAt("f", "", "late", t0, t0.Add(5*time.Second))
	listNames := func() string {
		items, _ := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("f")})
		return fmt.Sprint(names(items))
	}
	if got := listNames(); got != "[seen]" {
		t.Fatalf("before VisibleAt: %s", got)
	}
	// Get is consistent.
	out, err := h.client.GetDurableExecution(context.Background(), &lambda.GetDurableExecutionInput{
		DurableExecutionArn: aws.String(arn), IncludeExecutionData: aws.Bool(false),
	})
	if err != nil || aws.ToString(out.DurableExecutionName) != "late" {
		t.Fatalf("Get invisible: %v", err)
	}
	h.clock.Advance(4999 * time.Millisecond)
	if got := listNames(); got != "[seen]" {
		t.Fatalf("1ms before VisibleAt: %s", got)
	}
	h.clock.Advance(time.Millisecond)
	if got := listNames(); got != "[late seen]" {
		t.Fatalf("at VisibleAt: %s", got)
	}
	if x, _ := h.sim.Lookup(arn); !x.VisibleAt.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("VisibleAt = %v", x.VisibleAt)
	}
}

func TestAddRawItems(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	h.sim.AddFunction("f", []string{"1", "2"}, nil)
	realARN := h.sim.Start("f", "1", "real", t0)
	h.sim.AddRaw("f", map[string]any{ // no StartTimestamp, unknown status
		"DurableExecutionArn":  "arn:aws:lambda:us-east-1:123456789012:function:f:1/durable-execution/nostart/x",
		"DurableExecutionName": "nostart",
		"FunctionArn":          "arn:aws:lambda:us-east-1:123456789012:function:f:1",
		"Status":               "PAUSED",
	})
	h.sim.AddRaw("f", map[string]any{ // end before start, foreign function
		"DurableExecutionArn":  "arn:aws:lambda:us-east-1:123456789012:function:other:2/durable-execution/weird/y",
		"DurableExecutionName": "weird",
		"FunctionArn":          "arn:aws:lambda:us-east-1:123456789012:function:other:2",
		"Status":               "SUCCEEDED",
		"StartTimestamp":       t0.Add(-time.Hour),
		"EndTimestamp":         t0.Add(-2 * time.Hour),
		"KMSKeyArn":            "arn:aws:kms:us-east-1:123456789012:key/k",
	})
	items, _ := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("f"), MaxItems: 1})
	if got := fmt.Sprint(names(items)); got != "[real weird nostart]" {
		t.Fatalf("order %s", got)
	}
	if items[2].StartTimestamp != nil || items[2].Status != "PAUSED" {
		t.Fatalf("nostart item: %+v", items[2])
	}
	if !items[1].EndTimestamp.Before(*items[1].StartTimestamp) || aws.ToString(items[1].KMSKeyArn) == "" ||
		!items[1].StartTimestamp.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("weird item: %+v", items[1])
	}
	rev, _ := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{
		FunctionName: aws.String("f"), MaxItems: 2, ReverseOrder: aws.Bool(true),
	})
	if got := fmt.Sprint(names(rev)); got != "[weird real nostart]" {
		t.Fatalf("reverse order %s", got)
	}
	succ, _ := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{
		FunctionName: aws.String("f"), Statuses: []types.ExecutionStatus{types.ExecutionStatusSucceeded},
	})
	if got := fmt.Sprint(names(succ)); got != "[weird]" {
		t.Fatalf("status filter %s", got)
	}
	q2, _ := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{
		FunctionName: aws.String("f"), Qualifier: aws.String("2"),
	})
	if got := fmt.Sprint(names(q2)); got != "[weird]" {
		t.Fatalf("qualifier filter %s", got)
	}
	after, _ := listAll(t, h.client, &lambda.ListDurableExecutionsByFunctionInput{
		FunctionName: aws.String("f"), StartedAfter: aws.Time(t0.Add(-2 * time.Hour)),
	})
	if got := fmt.Sprint(names(after)); got != "[real weird]" {
		t.Fatalf("time filter %s", got)
	}
	if ex := h.sim.Executions("f"); len(ex) != 1 || ex[0].ARN != realARN {
		t.Fatalf("Executions includes raw items: %+v", ex)
	}
	// Get serves a raw item with an ARN verbatim.
	out, err := h.client.GetDurableExecution(context.Background(), &lambda.GetDurableExecutionInput{
		DurableExecutionArn: aws.String("arn:aws:lambda:us-east-1:123456789012:function:other:2/durable-execution/weird/y"),
	})
	if err != nil || aws.ToString(out.FunctionArn) != "arn:aws:lambda:us-east-1:123456789012:function:other:2" {
		t.Fatalf("Get raw: %v", err)
	}

	// A string StartTimestamp breaks the SDK's decoding of the page.
	h.sim.AddRaw("bad", map[string]any{"DurableExecutionArn": "z", "StartTimestamp": "yesterday", "Status": "RUNNING"})
	_, err = h.client.ListDurableExecutionsByFunction(context.Background(),
		&lambda.ListDurableExecutionsByFunctionInput{FunctionName: aws.String("bad")})
	if err == nil {
		t.Fatal("string StartTimestamp decoded without error")
	}
}

// TestWireFormat checks what the SDK puts on the wire and what the server
// answers, byte for byte where it matters.
func TestWireFormat(t *testing.T) {
	h := newHarness(t, lambdasim.Options{})
	arn := h.sim.Start("orders", "", "order-1", t0)
	if err := h.sim.End(arn, lambdasim.StatusSucceeded, t0.Add(1500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	_, err := h.client.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{
		FunctionName: aws.String(fnARN + ":$LATEST"), StartedAfter: aws.Time(t0.Add(-time.Hour)),
		StartedBefore: aws.Time(t0.Add(time.Nanosecond * 999_999)), ReverseOrder: aws.Bool(true), MaxItems: 5,
		Statuses: []types.ExecutionStatus{types.ExecutionStatusSucceeded},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := h.last()
	if want := "/2025-12-01/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aorders%3A%24LATEST/durable-executions"; r.EscapedPath != want {
		t.Errorf("list path %s\nwant %s", r.EscapedPath, want)
	}
	// Query timestamps: RFC 3339, UTC, truncated to milliseconds.
	if got := r.Query.Get("StartedAfter"); got != "2025-11-28T08:00:00.123Z" {
		t.Errorf("StartedAfter sent as %q", got)
	}
	if got := r.Query.Get("StartedBefore"); got != "2025-11-28T09:00:00.123Z" {
		t.Errorf("StartedBefore sent as %q (truncated, so the item at t0 is excluded)", got)
	}
	if r.Query.Get("ReverseOrder") != "true" || r.Query.Get("MaxItems") != "5" || fmt.Sprint(r.Query["Statuses"]) != "[SUCCEEDED]" {
		t.Errorf("query %s", r.RawQuery)
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/") || !strings.Contains(auth, "/us-east-1/lambda/aws4_request, SignedHeaders=") {
		t.Errorf("Authorization %q", auth)
	}

	// Two statuses go out as a repeated key.
	_, _ = h.client.ListDurableExecutionsByFunction(ctx, &lambda.ListDurableExecutionsByFunctionInput{
		FunctionName: aws.String("orders"),
		Statuses:     []types.ExecutionStatus{types.ExecutionStatusRunning, types.ExecutionStatusFailed},
	})
	// (The SDK sorts the values: FAILED before RUNNING.)
	if r := h.last(); fmt.Sprint(r.Query["Statuses"]) != "[FAILED RUNNING]" || !strings.Contains(r.RawQuery, "Statuses=FAILED&Statuses=RUNNING") {
		t.Errorf("two statuses: %s", r.RawQuery)
	}

	// Get escapes every ':' '/' '$' of the ARN in the single path label.
	if _, err := h.client.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{
		DurableExecutionArn: aws.String(arn), IncludeExecutionData: aws.Bool(false),
	}); err != nil {
		t.Fatal(err)
	}
	r = h.last()
	id := arn[strings.LastIndex(arn, "/")+1:]
	want := "/2025-12-01/durable-executions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aorders%3A%24LATEST%2Fdurable-execution%2Forder-1%2F" + id
	if r.EscapedPath != want || r.RawQuery != "IncludeExecutionData=false" {
		t.Errorf("get request %s?%s\nwant %s", r.EscapedPath, r.RawQuery, want)
	}

	// Raw answers: timestamps are epoch seconds with a millisecond fraction.
	body := rawGet(t, h.url+"/2025-12-01/functions/orders/durable-executions", http.StatusOK)
	var list struct {
		DurableExecutions []map[string]json.RawMessage
		NextMarker        *string
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.DurableExecutions) != 1 || list.NextMarker != nil {
		t.Fatalf("body %s", body)
	}
	it := list.DurableExecutions[0]
	if s, e := string(it["StartTimestamp"]), string(it["EndTimestamp"]); s != fmt.Sprintf("%d.123", t0.Unix()) || e != fmt.Sprintf("%d.623", t0.Unix()+1) {
		t.Errorf("timestamps %s %s", s, e)
	}
	if string(it["FunctionArn"]) != `"`+fnARN+`:$LATEST"` || string(it["Status"]) != `"SUCCEEDED"` {
		t.Errorf("item %s", body)
	}

	// A Get path with the ARN's '/' unescaped is accepted too.
	body = rawGet(t, h.url+"/2025-12-01/durable-executions/"+strings.ReplaceAll(arn, "$", "%24")+"?IncludeExecutionData=false", http.StatusOK)
	if !strings.Contains(string(body), `"DurableExecutionName":"order-1"`) {
		t.Errorf("unescaped Get: %s", body)
	}
}

// rawGet sends a GET with a syntactically valid SigV4 header and returns the
// body, checking the status.
func rawGet(t *testing.T, url string, wantStatus int) []byte {
	t.Helper()
	_, b := rawDo(t, url, validAuth, wantStatus)
	return b
}

const validAuth = "AWS4-HMAC-SHA256 Credential=AKID/20251128/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"

// rawDo sends a GET with the given Authorization header (none if empty) and
// returns the answer's header and body, checking the status.
func rawDo(t *testing.T, url, auth string, wantStatus int) (http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: status %d, want %d; body %s", url, resp.StatusCode, wantStatus, b)
	}
	return resp.Header, b
}
