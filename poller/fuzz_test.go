package poller

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/storage"
)

// FuzzApplyPages fuzzes applying pages of executions to the state. The
// input is a program run against the unit-level fakeAPI, polled with gather
// and tracker.apply as scenario.run does. Its first byte configures the
// target; then each operation is one byte (taken modulo 10) and its
// argument bytes (a missing byte reads as 0):
//
//	0 a b  start an execution a%64*10s ago; if b&0x80, visible only
//	       (b&0x7f)*10s after its start
//	1 a b  end the a-th running execution (counting on from a, wrapping)
//	       with b%6: 0-3 a terminal status (at now-1ms-(b/6%16)*5s, not
//	       before its start), 4 an unknown status ("UNKNOWN"), 5 a terminal
//	       status with an EndTimestamp 1-16s before its StartTimestamp
//	2 a    advance the clock (1+a%64)*15s, or by 2h+15s when a is 255;
//	       when a is 254, restart from a checkpoint of the state (as with
//	       --storage.path: the numbers must go on exactly); when 253 (and a
//	       byte c), restart from that checkpoint with bit c*131 flipped in
//	       its file: it must be refused, and the state starts fresh
//	3 a    poll; a full one if a&1 (else only when the tracker wants one)
//	4 a    a poll whose request number a%4 fails (after part of a listing)
//	5 a    odd items in every listing from now on, by bits of a: 1 the
//	       first item repeated, 2 an execution of another function, 4 an
//	       item without StartTimestamp, 8 one without ARN, 16 one with an
//	       unknown status (items the validator must not take); 32 stale
//	       RUNNING copies, in the RUNNING listing, of every third execution
//	       that ended longer ago than the tombstone lasts and that the
//	       state can tell from a new running one (fuzzSource.tracking): a
//	       listing that lags by minutes to days; 64 unknown statuses (op 1) come with
//	       an EndTimestamp: the execution has ended, under a status this
//	       build does not know; 128 the exporter's clock 10 minutes behind
//	       the API's (which the source tells it, as Date headers do)
//	6 a    a burst of 1+a%8 executions started in the last minute
//	7 a b  an execution started a*15min ago (history); if b&1 it ended
//	       already, at a time b/2 128ths of the way to now, with status b%4
//	8 a    end every third running execution (those whose index+a is a
//	       multiple of 3), statuses by index
//	9      poll
//
// After every poll: no panic; finished[s] never exceeds the number of
// distinct executions that ended with status s after the baseline, and the
// duration histogram holds exactly finished[s] observations; when every execution
// became visible less than the overlap after its start, every number equals the
// brute-force recount (fakeAPI.truth, compare): the odd items must change
// nothing. A failed poll must leave the tracker exactly as it was.
func FuzzApplyPages(f *testing.F) {
	// The seed corpus is testdata/fuzz/FuzzApplyPages: history then polls a
	// minute apart; late visibility within the overlap, a failed poll and a
	// forced full one; odd items, an end before the start and a status
	// filter; unknown statuses before a first sighting and a clock jump past
	// the window; a long program with small pages and resyncs; versions that
	// leave with their counters and come back; and the inputs that found the
	// bugs (named bug-*). Every program runs with both breakdowns on: the
	// versions must add up to the totals, and the error counts to the
	// finishes (checkBreakdownSums). Plain `go test` runs every
	// file of the corpus, bug-* included, as a subtest
	// (FuzzApplyPages/<file>), so each is a regression test; `go test -fuzz`
	// starts mutating from them.
	f.Fuzz(func(t *testing.T, data []byte) {
		runProgram(t, data, false)
	})
}

// fuzzSource is a fakeAPI that can fail a request of the current poll and
// add odd items to every listing.
type fuzzSource struct {
	*fakeAPI
	odd    byte
	failAt int // request of the current poll that fails; -1 none
	calls  int
	// tracking says whether a stale RUNNING copy of an execution (its ARN
	// and start) would be indistinguishable from a right listing, so that
	// none is made of it: the state tracks it as running, or it is new (not
	// known to the state and started after what the last poll's listings
	// covered). A new execution that ended in a status the target does not
	// export is listed by no full poll, so its stale copy is a new running
	// execution as far as anyone can tell until it vanishes and is read
	// back. Stale copies are thus made of what the state settled, and of
	// what started before the last listings' reach and it never saw.
	tracking func(arn string, start int64) bool
}

var errInjected = errors.New("injected failure")

func (s *fuzzSource) fail() bool {
	s.calls++
	return s.calls-1 == s.failAt
}

func (s *fuzzSource) List(ctx context.Context, q scrape.Query, visit func(scrape.Execution)) (int, error) {
	if s.fail() {
		// A listing that fails after some of its pages.
		i := 0
		_, _ = s.fakeAPI.List(ctx, q, func(e scrape.Execution) {
			if i++; i%2 == 1 {
				visit(e)
			}
		})
		return 1, fmt.Errorf("list page 2: %w", errInjected)
	}
	var first *scrape.Execution
	n, err := s.fakeAPI.List(ctx, q, func(e scrape.Execution) {
		visit(e)
		if first == nil {
			first = &e
		}
	})
	now := s.now
	status := q.Status
	if status == durable.Unknown {
		status = durable.Running
	}
	timed := !q.StartedAfter.IsZero() || !q.StartedBefore.IsZero()
	if s.odd&1 != 0 && first != nil {
		visit(*first)
	}
	if s.odd&2 != 0 {
		fn := "arn:aws:lambda:us-east-1:123456789012:function:billing:1"
		visit(scrape.Execution{ARN: fn + "/durable-execution/foreign/id-f", Name: "foreign", FunctionARN: fn,
			Status: status, RawStatus: status.String(), Start: now - 1000, End: ifTerminal(status, now-500)})
	}
	if s.odd&4 != 0 && !timed && status == durable.Running {
		visit(scrape.Execution{ARN: fuzzARN("nostart"), Name: "nostart", Status: durable.Running, RawStatus: "RUNNING"})
	}
	if s.odd&8 != 0 && (q.Status == durable.Unknown || q.Status == durable.Succeeded) {
		visit(scrape.Execution{Name: "noarn", FunctionARN: fuzzFunctionARN, Status: durable.Succeeded, RawStatus: "SUCCEEDED",
			Start: now - 1000, End: now - 500})
	}
	if s.odd&16 != 0 && q.Status == durable.Unknown {
		visit(scrape.Execution{ARN: fuzzARN("paused"), Name: "paused", FunctionARN: fuzzFunctionARN, RawStatus: "PAUSED", Start: now - 1000})
	}
	if s.odd&32 != 0 && q.Status == durable.Running {
		tomb := (fuzzOverlap + 3*interval).Milliseconds()
		for i, e := range s.execs {
			if i%3 == 0 && e.status.Terminal() && e.end > 0 && e.end < now-tomb && e.visible <= now && !s.tracking(e.arn, e.start) {
				x := s.toScrape(e)
				x.Status, x.RawStatus, x.End = durable.Running, "RUNNING", 0
				visit(x)
			}
		}
	}
	return n, err
}

// skew is the API's clock minus the exporter's: 10 minutes with odd bit
// 128, else none.
func (s *fuzzSource) skew() time.Duration {
	if s.odd&128 != 0 {
		return 10 * time.Minute
	}
	return 0
}

// ServerOffset tells the poller the skew, as a scrape.Client learns it
// from the Date headers.
func (s *fuzzSource) ServerOffset() (time.Duration, bool) { return s.skew(), true }

func (s *fuzzSource) Get(ctx context.Context, arn string) (scrape.Execution, error) {
	if s.fail() {
		return scrape.Execution{}, fmt.Errorf("get: %w", errInjected)
	}
	return s.fakeAPI.Get(ctx, arn)
}

const fuzzOverlap = 5 * time.Minute

const fuzzFunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:orders:1"

func fuzzARN(name string) string {
	return fuzzFunctionARN + "/durable-execution/" + name + "/id-" + name
}

func ifTerminal(s durable.Status, end int64) int64 {
	if s.Terminal() {
		return end
	}
	return 0
}

// runProgram interprets data (see FuzzApplyPages). With verbose, it logs
// each operation.
func runProgram(t *testing.T, data []byte, verbose bool) {
	const (
		maxOps   = 400
		maxExecs = 600
		overlap  = fuzzOverlap
	)
	pos := 0
	next := func() byte {
		if pos >= len(data) {
			pos++
			return 0
		}
		b := data[pos]
		pos++
		return b
	}
	h := next()
	window := []time.Duration{30 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}[h&3]
	statuses := [][]durable.Status{nil, {durable.Failed, durable.TimedOut}, {durable.Running, durable.Succeeded}, {durable.Stopped}}[h>>2&3]
	resync := []time.Duration{0, 10 * time.Minute, 30 * time.Minute, time.Hour}[h>>4&3]
	pageSize := []int{1, 5, 100, 1000}[h>>6&3]

	f := newFakeAPI("orders", 1)
	f.version = func(n int) string { return fmt.Sprint(n % 3) }
	tr := newTracker()
	src := &fuzzSource{fakeAPI: f, failAt: -1, tracking: func(arn string, start int64) bool {
		h := tr.hash(arn)
		if _, ok := tr.running[h]; ok || !tr.primed { // before the first poll the state can tell nothing
			return true
		}
		return !tr.known(h) && start >= tr.lastSuccess-tr.overlap
	}}
	tr.configure(statusesOrAll(statuses), window.Milliseconds(), overlap.Milliseconds(), interval.Milliseconds())
	tr.setVersionBreakdown(true)
	tr.setErrorBreakdown(true, 2)
	shown := map[string]bool{} // versions shown so far
	spec := &Spec{Target: snapshot.Target{Function: "orders"}, APIName: "orders"}
	c := costs{pageSize: pageSize, listRate: 10, getRate: 20}

	now := t0
	f.now = now
	inserted := map[*fakeExec]int64{} // when each execution was added to the world
	afterPoll := map[*fakeExec]bool{} // added after the first poll (at the same instant or later)
	firstPoll := int64(-1)
	baseline := int64(0)
	// Situations that once exposed bugs (since fixed); named in a failure
	// message to help whoever reads it.
	var knownBugs []string
	bug := func(name string) {
		if !slices.Contains(knownBugs, name) {
			knownBugs = append(knownBugs, name)
		}
	}
	logf := func(format string, a ...any) {
		if verbose {
			t.Logf(format, a...)
		}
	}
	start := func(at, vis int64) *fakeExec {
		e := f.start(at, vis)
		inserted[e], afterPoll[e] = now, firstPoll >= 0
		return e
	}
	end := func(e *fakeExec, s durable.Status, at int64) {
		if s == durable.Unknown {
			if _, ok := tr.running[tr.hash(e.arn)]; ok {
				bug("TestUnknownStatusAfterRunning")
			}
			if src.odd&64 == 0 {
				at = 0
			}
		}
		f.end(e, s, at)
	}
	running := func(from int) *fakeExec {
		for i := range f.execs {
			if e := f.execs[(from+i)%len(f.execs)]; e.status == durable.Running {
				return e
			}
		}
		return nil
	}

	poll := func(full bool, failAt int) {
		f.now = now
		full = full || tr.wantFull(now, resync.Milliseconds())
		gap := full && tr.primed && now-tr.lastSuccess > window.Milliseconds()
		src.calls, src.failAt = 0, failAt
		lists, gets := f.lists, f.gets
		before := trackerCopy(tr)
		// The exporter's clock is off the API's by the source's skew; the
		// poll's start on the API's clock is now.
		b, req, err := gather(context.Background(), src, tr, spec, time.UnixMilli(now).Add(-src.skew()), full, c)
		src.failAt = -1
		where := fmt.Sprintf("op at byte %d (now=t0+%v, full=%v)", pos, time.Duration(now-t0)*time.Millisecond, full)
		if !reflect.DeepEqual(trackerCopy(tr), before) {
			t.Fatalf("%s: gather changed the tracker", where)
		}
		if err != nil {
			if failAt < 0 || !errors.Is(err, errInjected) {
				t.Fatalf("%s: %v", where, err)
			}
			logf("%s: failed as told: %v", where, err)
			return
		}
		if req[durable.OpList] != uint64(f.lists-lists) || req[durable.OpGet] != uint64(f.gets-gets) {
			t.Fatalf("%s: poll counted %v requests, the API served %d lists and %d gets", where, req, f.lists-lists, f.gets-gets)
		}
		if b.now != now {
			t.Fatalf("%s: the poll's start on the API's clock is %d, want %d", where, b.now-t0, now-t0)
		}
		tr.apply(b, b.now)
		if _, _, err := tr.readErrors(context.Background(), f); err != nil {
			t.Fatalf("%s: reading errors: %v", where, err)
		}
		checkBreakdownSums(t, where, tr, shown)
		if gap {
			bug("TestFullPollAfterGapLongerThanWindow")
		}
		if firstPoll < 0 {
			firstPoll, baseline = now, now
		}
		logf("%s: finished=%v inWindow=%v", where, tr.finished, tr.inWindow)

		// Never more finished executions than ended after the baseline.
		var ended [durable.NumStatuses]uint64
		lagged := false
		for _, e := range f.execs {
			if e.status.Terminal() && e.end >= baseline {
				ended[e.status]++
			}
			// Listed first by a poll after the first one, and too late for
			// the overlap that poll re-lists (StartedAfter is exclusive).
			late := afterPoll[e] || e.visible > firstPoll
			if v := max(e.visible, inserted[e]); late && v-e.start >= overlap.Milliseconds() {
				lagged = true
			}
		}
		for _, s := range durable.Terminals {
			if tr.finished[s] > ended[s] {
				t.Fatalf("%s: finished{status=%s} = %d, but only %d executions ended so after the baseline", where, s, tr.finished[s], ended[s])
			}
			if tr.durations[s].Count != tr.finished[s] {
				t.Fatalf("%s: %d durations observed for %d finished{status=%s}", where, tr.durations[s].Count, tr.finished[s], s)
			}
		}
		if lagged {
			return // incremental polls may miss what became visible late; only the bound holds
		}
		want := f.truth(now, baseline, window)
		if d := truthDiff(tr, want, statuses); d != "" {
			t.Fatalf("%s: %s (the program ran into: %s)", where, d, strings.Join(knownBugs, ", "))
		}
		compare(t, where, tr, want, statuses)
	}

	for ops := 0; pos < len(data) && ops < maxOps; ops++ {
		op := next() % 10
		logf("byte %d: op %d", pos-1, op)
		if len(f.execs) >= maxExecs && (op == 0 || op == 6 || op == 7) {
			continue
		}
		switch op {
		case 0:
			a, b := next(), next()
			at := now - int64(a%64)*10_000
			vis := at
			if b&0x80 != 0 {
				vis += int64(b&0x7f) * 10_000
			}
			start(at, vis)
			logf("start at %d visible %d", at-t0, vis-t0)
		case 1:
			a, b := next(), next()
			if len(f.execs) == 0 {
				continue
			}
			e := running(int(a))
			if e == nil {
				continue
			}
			switch k := b % 6; k {
			case 4:
				end(e, durable.Unknown, 0)
			case 5:
				end(e, terminals[b/6%4], e.start-1000-int64(b/6%16)*1000)
			default:
				end(e, terminals[k], max(now-1-int64(b/6%16)*5000, e.start))
			}
			logf("end %s: %s at %d", e.name, e.status, e.end-t0)
		case 2:
			switch a := next(); a {
			case 255:
				now += (2*time.Hour + 15*time.Second).Milliseconds()
			case 254, 253:
				// A restart with --storage.path, after the last poll.
				if firstPoll < 0 {
					continue
				}
				file := storage.Encode(encodeCheckpoint("orders", tr, 0))
				if a == 253 {
					// The file damaged: a bit flipped where next says.
					i := int(next()) * 131 % (len(file) * 8)
					file[i/8] ^= 1 << (i % 8)
				}
				payload, reason := storage.Decode(file)
				restored, _, err := decodeCheckpoint(payload)
				if a == 254 && (reason != "" || err != nil) {
					t.Fatalf("restart at byte %d: %s %v", pos, reason, err)
				}
				if reason == "" && err == nil {
					if a == 253 {
						t.Fatalf("restart at byte %d: a damaged checkpoint was taken", pos)
					}
					restored.needFull = true
					tr = restored
				} else {
					// Unusable: the target starts fresh, with a new baseline.
					tr = newTracker()
					firstPoll, baseline = -1, 0
				}
				tr.configure(statusesOrAll(statuses), window.Milliseconds(), overlap.Milliseconds(), interval.Milliseconds())
				tr.setVersionBreakdown(true)
				tr.setErrorBreakdown(true, 2)
				logf("restart at byte %d: restored=%v", pos, reason == "" && err == nil)
			default:
				now += int64(1+a%64) * 15_000
			}
		case 3:
			poll(next()&1 == 1, -1)
		case 4:
			poll(false, int(next()%4))
		case 5:
			src.odd = next()
		case 6:
			for i := int64(0); i <= int64(next()%8); i++ {
				start(now-i*7_000, now-i*7_000)
			}
		case 7:
			a, b := next(), next()
			at := now - int64(a)*15*60_000
			e := start(at, at)
			if b&1 == 1 {
				end(e, terminals[b%4], min(at+(now-at)*int64(b>>1)/128, now-1))
			}
		case 8:
			a := int(next())
			for i, e := range f.execs {
				if e.status == durable.Running && (i+a)%3 == 0 {
					end(e, terminals[i%4], max(now-1, e.start))
				}
			}
		case 9:
			poll(false, -1)
		}
	}
}

// truthDiff is compare as a value: "" when tr shows want, else what differs.
func truthDiff(tr *tracker, want truth, statuses []durable.Status) string {
	var d []string
	for _, s := range statusesOrAll(statuses) {
		if tr.inWindow[s] != want.inWindow[s] {
			d = append(d, fmt.Sprintf("executions{status=%s} = %d, want %d", s, tr.inWindow[s], want.inWindow[s]))
		}
		if s.Terminal() && (tr.finished[s] != want.finished[s] || tr.durations[s] != want.durations[s]) {
			d = append(d, fmt.Sprintf("finished{status=%s} = %d, want %d", s, tr.finished[s], want.finished[s]))
		}
	}
	if (len(statuses) == 0 || slices.Contains(statuses, durable.Running)) && tr.oldestRunning != want.oldest {
		d = append(d, fmt.Sprintf("oldest running start = %d, want %d", tr.oldestRunning, want.oldest))
	}
	return strings.Join(d, "; ")
}

// TestUnknownStatusAfterRunning: an execution the poller has seen RUNNING
// that then shows a status this build does not know (the API's enum "can be
// expanded") is no longer running; it must leave the RUNNING gauge and the
// oldest-running age, and not be read back at every poll forever.
func TestUnknownStatusAfterRunning(t *testing.T) {
	for _, old := range []bool{false, true} {
		t.Run(fmt.Sprintf("startedBeforeTheOverlap=%v", old), func(t *testing.T) {
			f := newFakeAPI("orders", 5)
			at := t0 - 60_000
			if old {
				at = t0 - 3_600_000
			}
			e := f.start(at, at)
			tr := newTracker()
			tr.configure(durable.Known, (24 * time.Hour).Milliseconds(), (5 * time.Minute).Milliseconds(), interval.Milliseconds())
			poll := func(now int64) { pollFake(t, f, tr, now, 0) }
			poll(t0)
			if tr.inWindow[durable.Running] != 1 {
				t.Fatalf("running = %d after the first poll", tr.inWindow[durable.Running])
			}
			f.end(e, durable.Unknown, 0) // e.g. a new "PAUSED" status
			for i := int64(1); i <= 10; i++ {
				poll(t0 + i*60_000)
			}
			now := t0 + 10*60_000
			// It leaves the RUNNING gauge (and the oldest-running age); it
			// is still read back (one Get a poll) until it reaches a known
			// status, so that it is counted then.
			if d := truthDiff(tr, f.truth(now, t0, 24*time.Hour), nil); d != "" {
				t.Fatalf("an execution seen RUNNING that takes an unknown status: %s", d)
			}
			if tr.oldestRunning != 0 {
				t.Fatalf("oldest running = %d; an unknown-status execution is not running", tr.oldestRunning)
			}
		})
	}
}

// TestFullPollAfterGapLongerThanWindow: when no poll succeeds for longer than
// the window (an outage of the API, or of the exporter's network), an
// execution that started after the last successful poll and ended during the
// gap was never seen. An incremental poll lists everything started since the
// last success (minus the overlap) and counts it; a full poll (the periodic
// resync is due by then) lists only the window and the overlap before it,
// and must not lose it either.
func TestFullPollAfterGapLongerThanWindow(t *testing.T) {
	for _, resync := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprintf("resync=%v", resync), func(t *testing.T) {
			f := newFakeAPI("orders", 9)
			tr := newTracker()
			tr.configure(durable.Known, time.Hour.Milliseconds(), (5 * time.Minute).Milliseconds(), interval.Milliseconds())
			poll := func(now int64) bool { _, full := pollFake(t, f, tr, now, resync); return full }
			poll(t0)
			poll(t0 + 60_000)
			// Started after the last successful poll; the polls of the next
			// three hours fail; it ends in the meantime.
			e := f.start(t0+90_000, t0+90_000)
			f.end(e, durable.Succeeded, t0+3_600_000)
			now := t0 + 3*3_600_000
			full := poll(now)
			if tr.finished[durable.Succeeded] != 1 {
				if !full {
					t.Fatalf("finished{status=SUCCEEDED} = %d after an incremental poll, want 1", tr.finished[durable.Succeeded])
				}
				t.Fatalf("a full poll after a gap longer than the window: finished{status=SUCCEEDED} = %d, want 1", tr.finished[durable.Succeeded])
			}
			compare(t, "after the gap", tr, f.truth(now, t0, time.Hour), nil)
		})
	}
}

// TestUnknownStatusThenTerminal: an execution first listed with a status
// this build does not know (a new non-final status, say "PAUSED") that
// reaches a terminal status only after the overlap has passed its start
// must still be counted once it ends, like any execution that was running.
func TestUnknownStatusThenTerminal(t *testing.T) {
	f := newFakeAPI("orders", 6)
	tr := newTracker()
	tr.configure(durable.Known, (24 * time.Hour).Milliseconds(), (5 * time.Minute).Milliseconds(), interval.Milliseconds())
	poll := func(now int64) { pollFake(t, f, tr, now, 0) }
	poll(t0)
	e := f.start(t0+30_000, t0+30_000)
	f.end(e, durable.Unknown, 0)
	for i := int64(1); i <= 20; i++ {
		poll(t0 + i*60_000)
	}
	f.end(e, durable.Succeeded, t0+20*60_000+1)
	now := t0 + 23*60_000
	for i := int64(21); i <= 23; i++ {
		poll(t0 + i*60_000)
	}
	if d := truthDiff(tr, f.truth(now, t0, 24*time.Hour), nil); d != "" {
		t.Fatalf("an execution listed with an unknown status that ends after the overlap: %s", d)
	}
}

// checkBreakdownSums checks what the breakdowns must always satisfy, whatever
// the API did: the versions add up to the totals, gauges always, counters
// and histograms as long as no version has left (shown: the versions shown
// so far; a version that leaves takes its counters along, and starts from
// zero if it comes back), and the error
// counts of each status with the reads still pending add up to its
// finishes.
func checkBreakdownSums(t *testing.T, where string, tr *tracker, shown map[string]bool) {
	t.Helper()
	var s snapshot.Snapshot
	tr.fill(&s)
	var in, fin [durable.NumStatuses]uint64
	var obs [durable.NumStatuses]uint64
	now := map[string]bool{}
	for _, v := range s.Versions {
		now[v.Version] = true
	}
	const someLeft = "\x00" // a version has left (sticky)
	for v := range shown {
		if v != someLeft && !now[v] {
			shown[someLeft] = true
		}
	}
	for v := range now {
		shown[v] = true
	}
	left := shown[someLeft]
	for _, v := range s.Versions {
		for st := range durable.NumStatuses {
			in[st] += v.InWindow[st]
			fin[st] += v.Finished[st]
			obs[st] += v.Durations[st].Count
		}
	}
	for _, st := range s.Statuses {
		if in[st] != s.InWindow[st] {
			t.Fatalf("%s: versions add up to executions{%s} = %d, the total is %d", where, st, in[st], s.InWindow[st])
		}
	}
	for st := range durable.NumStatuses {
		if fin[st] > s.Finished[st] || fin[st] != s.Finished[st] && !left || (durable.Status(st) != durable.Unknown && obs[st] != fin[st]) {
			t.Fatalf("%s: versions add up to finished{%s} = %d (%d observed), the total is %d (%d)",
				where, durable.Status(st), fin[st], obs[st], s.Finished[st], s.Durations[st].Count)
		}
	}
	var errs [durable.NumStatuses]uint64
	for _, e := range s.Errors {
		errs[e.Status] += e.Count
	}
	for _, p := range tr.pending {
		errs[p.status]++
	}
	for _, st := range []durable.Status{durable.Failed, durable.TimedOut, durable.Stopped} {
		if errs[st] != s.Finished[st] {
			t.Fatalf("%s: error counts and pending reads add up to %d for %s, finished is %d", where, errs[st], st, s.Finished[st])
		}
	}
}
