package poller

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// fakeExec is one execution of the in-memory fake API.
type fakeExec struct {
	arn, name  string
	status     durable.Status
	start, end int64 // ms
	visible    int64 // ms; listings show it from then on
}

// fakeAPI is a small in-memory Source for unit tests of the poller's logic;
// everything that crosses the SDK is tested against lambdasim over HTTP.
type fakeAPI struct {
	function string
	now      int64
	execs    []*fakeExec
	byARN    map[string]*fakeExec
	rng      *rand.Rand
	lists    int
	gets     int
	// stale executions are listed as RUNNING (with no end) while their
	// flag is set, whatever they are now: a lagging listing.
	stale map[*fakeExec]bool
	// notFound answers 404 to that many more reads of an ARN.
	notFound map[string]int
	// version, when set, gives the version the n-th execution runs under
	// (default "1").
	version func(n int) string
	// errType gives the ErrorType of an ended execution ("" = no Error);
	// default: one of three types by the execution's number.
	errType   func(e *fakeExec) string
	errReads  int
	errFail   error          // when set, every error read fails with it
	errMissed map[string]int // 404 to that many more error reads of an ARN
}

func newFakeAPI(function string, seed uint64) *fakeAPI {
	return &fakeAPI{function: function, byARN: map[string]*fakeExec{}, rng: rand.New(rand.NewPCG(seed, seed+1)),
		stale: map[*fakeExec]bool{}, notFound: map[string]int{}, errMissed: map[string]int{}}
}

func (f *fakeAPI) start(at, visible int64) *fakeExec {
	n := len(f.execs)
	v := "1"
	if f.version != nil {
		v = f.version(n)
	}
	e := &fakeExec{
		arn:    fmt.Sprintf("arn:aws:lambda:us-east-1:123456789012:function:%s:%s/durable-execution/run-%d/id-%d", f.function, v, n, n),
		name:   fmt.Sprintf("run-%d", n),
		status: durable.Running, start: at, visible: max(at, visible),
	}
	f.execs = append(f.execs, e)
	f.byARN[e.arn] = e
	return e
}

func (f *fakeAPI) end(e *fakeExec, s durable.Status, at int64) {
	e.status, e.end = s, at
}

func (f *fakeAPI) toScrape(e *fakeExec) scrape.Execution {
	return scrape.Execution{
		ARN: e.arn, Name: e.name, Status: e.status, RawStatus: e.status.String(),
		FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:" + f.function + ":1",
		Start:       e.start, End: e.end,
	}
}

// List returns matching visible executions in a random order (the API's
// sort order is documented both ways; the poller must not care). A page is
// counted per 1000 items.
func (f *fakeAPI) List(ctx context.Context, q scrape.Query, visit func(scrape.Execution)) (int, error) {
	var out []*fakeExec
	for _, e := range f.execs {
		if e.visible > f.now {
			continue
		}
		status := e.status
		if f.stale[e] {
			status = durable.Running
		}
		if q.Status != durable.Unknown && status != q.Status {
			continue
		}
		if !q.StartedAfter.IsZero() && e.start <= q.StartedAfter.UnixMilli() {
			continue
		}
		if !q.StartedBefore.IsZero() && e.start >= q.StartedBefore.UnixMilli() {
			continue
		}
		if q.ExecutionName != "" && e.name != q.ExecutionName {
			continue
		}
		out = append(out, e)
	}
	f.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	for _, e := range out {
		x := f.toScrape(e)
		if f.stale[e] {
			x.Status, x.RawStatus, x.End = durable.Running, "RUNNING", 0
		}
		visit(x)
	}
	pages := len(out)/1000 + 1
	f.lists += pages
	return pages, nil
}

func (f *fakeAPI) Get(ctx context.Context, arn string) (scrape.Execution, error) {
	f.gets++
	e, ok := f.byARN[arn]
	if n := f.notFound[arn]; n > 0 {
		f.notFound[arn] = n - 1
		ok = false
	}
	if !ok {
		return scrape.Execution{}, scrape.ErrNotFound
	}
	return f.toScrape(e), nil
}

// fakeErrorTypes are the error types of fakeAPI's failures by default.
var fakeErrorTypes = []string{"StepFailedError", "PaymentDeclined", "Sandbox.Timedout"}

// errorTypeOf is the ErrorType an ended execution reports.
func (f *fakeAPI) errorTypeOf(e *fakeExec) string {
	if f.errType != nil {
		return f.errType(e)
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(e.name, "run-"))
	return fakeErrorTypes[n%len(fakeErrorTypes)]
}

// ErrorOf reads an execution's error, as scrape.Client does with its
// execution data.
func (f *fakeAPI) ErrorOf(ctx context.Context, arn string) (scrape.ExecutionError, error) {
	f.errReads++
	if f.errFail != nil {
		return scrape.ExecutionError{}, f.errFail
	}
	e, ok := f.byARN[arn]
	if n := f.errMissed[arn]; n > 0 {
		f.errMissed[arn] = n - 1
		ok = false
	}
	if !ok {
		return scrape.ExecutionError{}, scrape.ErrNotFound
	}
	typ := f.errorTypeOf(e)
	return scrape.ExecutionError{Status: e.status, Type: typ, HasError: typ != ""}, nil
}

// truth is what an exact exporter must show at time now.
type truth struct {
	inWindow  [durable.NumStatuses]uint64
	finished  [durable.NumStatuses]uint64
	durations [durable.NumStatuses]durable.Histogram
	oldest    int64
}

func (f *fakeAPI) truth(now, baseline int64, window time.Duration) truth {
	var t truth
	cut := now - window.Milliseconds()
	for _, e := range f.execs {
		if e.visible > now {
			continue
		}
		// RUNNING whatever the start; terminal statuses within the window.
		if e.start >= cut || e.status == durable.Running {
			t.inWindow[e.status]++
			if e.status == durable.Running && (t.oldest == 0 || e.start < t.oldest) {
				t.oldest = e.start
			}
		}
		if e.status.Terminal() && e.end >= baseline {
			t.finished[e.status]++
			t.durations[e.status].ObserveMillis(max(e.end-e.start, 0))
		}
		if e.status == durable.Unknown && e.end > 0 && e.end >= baseline {
			t.finished[durable.Unknown]++ // ended, under a status this build does not know
		}
	}
	return t
}

// pollFake runs one poll of tr against f at now, a full one when the state
// wants it with the given resync period, and applies it.
func pollFake(t testing.TB, f *fakeAPI, tr *tracker, now int64, resync time.Duration) (req [2]uint64, full bool) {
	t.Helper()
	f.now = now
	full = tr.wantFull(now, resync.Milliseconds())
	spec := &Spec{Target: snapshot.Target{Function: f.function}, APIName: f.function}
	b, req, err := gather(context.Background(), f, tr, spec, time.UnixMilli(now), full, costs{pageSize: 1000, listRate: 10, getRate: 20})
	if err != nil {
		t.Fatal(err)
	}
	tr.apply(b, now)
	return req, full
}
