package poller

import (
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// How the tracker decides what counts
//
// An execution is identified by a 64-bit hash of its ARN. The tracker keeps:
//   - running: every execution last seen RUNNING, whatever its age, with its
//     ARN (needed to read it back when it leaves the RUNNING listing);
//   - done: one compact record (start, status) per terminal execution whose
//     start lies within the window plus the overlap, for the status gauges
//     and so that a terminal execution listed again is never counted twice;
//   - tomb: hashes of terminal executions outside that range that were
//     settled recently (long runners that ended), kept a little while in
//     case a lagging RUNNING listing shows them again.
//
// A terminal execution is counted in finished_total exactly when it is seen
// terminal for the first time (it is in neither done nor tomb) and its
// EndTimestamp is not before the baseline, the start of the target's first
// successful poll: executions that had ended before the exporter started
// watching are not counted, so a restart never produces a burst. (Between
// the process start and that first poll nothing can be seen: a long runner
// that ends then was never observed running.) Terminal statuses are final, so a
// RUNNING sighting never undoes a terminal one.

// futureSlack is how far past the poll's start (on the service's clock,
// known to the second) a StartTimestamp may lie before it is invalid.
const futureSlack = int64(60_000)

// maxNotFound is how many polls in a row a vanished execution may answer 404
// before it is given up: the API can briefly not know an execution it listed.
const maxNotFound = 3

// hashKey hashes an ARN (or another identity) to the 64 bits the tracker
// keeps, keyed: each tracker draws its key at random, so that nobody can
// choose names that collide, and a checkpoint keeps it, so that the hashes
// a restored state holds still match what the API lists.
func hashKey(key uint64, s string) uint64 {
	var d xxhash.Digest
	d.ResetWithSeed(key)
	_, _ = d.WriteString(s)
	return d.Sum64()
}

type runRec struct {
	arn   string
	start int64
	// unknown marks an execution last seen with a status this build does
	// not know and no end: it is read back like a running one until it
	// ends, but counts in no gauge.
	unknown bool
	// misses counts the reads in a row that answered 404.
	misses int
	ver    uint16 // index in the version table (version breakdown)
}

// doneRec is the record of a terminal execution, packed in 64 bits (a
// million of them are a map of 16-byte entries): its StartTimestamp in ms
// (43 bits, up to the year 2248), its status (3 bits) and its version index
// (16 bits).
type doneRec uint64

const (
	doneStartBits  = 43
	doneStatusBits = 3
	// maxDoneStart is the latest StartTimestamp a record holds.
	maxDoneStart = 1<<doneStartBits - 1
)

func mkDone(start int64, s durable.Status, ver uint16) doneRec {
	return doneRec(uint64(min(max(start, 0), maxDoneStart)) | uint64(s)<<doneStartBits | uint64(ver)<<(doneStartBits+doneStatusBits))
}

func (d doneRec) start() int64 { return int64(d & maxDoneStart) }
func (d doneRec) status() durable.Status {
	return durable.Status(d >> doneStartBits & (1<<doneStatusBits - 1))
}
func (d doneRec) ver() uint16 { return uint16(d >> (doneStartBits + doneStatusBits)) }
func (d doneRec) withVer(v uint16) doneRec {
	return mkDone(d.start(), d.status(), v)
}

// obs is one listed execution, validated and reduced to what the tracker
// needs. The ARN is kept only for RUNNING executions.
type obs struct {
	hash       uint64
	status     durable.Status
	start, end int64
	// arn is kept for RUNNING executions, and for all when a breakdown
	// needs it (the version, the error read).
	arn string
	ver uint16 // resolved by apply when the version breakdown is on
	// stale marks the read-back of an execution that a listing showed
	// RUNNING although the state had no record of it and it started long
	// before what the listings cover: a lagging listing, or a ghost of an
	// execution settled long ago (see settle).
	stale bool
}

// final reports whether the execution has ended: a terminal status, or a
// status this build does not know with an EndTimestamp.
func (o *obs) final() bool {
	return o.status.Terminal() || (o.status == durable.Unknown && o.end > 0)
}

// invalidNote is one invalid execution seen in a poll, reported once.
type invalidNote struct {
	key    uint64
	reason durable.Reason
	arn    string
	detail string
}

// batch gathers everything one poll saw; the tracker applies it only when
// the whole poll succeeded, so a failed poll changes nothing.
type batch struct {
	full bool
	now  int64 // the poll's start on the service's clock, ms
	// listedAfter is the lower StartTimestamp bound of the window listing of
	// a full poll; terminal executions in done that start later must have
	// been listed, or they are phantoms.
	listedAfter int64
	// listedStatuses says which statuses the window listing covered.
	listedStatuses [durable.NumStatuses]bool
	windowSeen     map[uint64]struct{}
	items          []obs
	gone           []uint64 // running executions whose read answered 404
	invalid        []invalidNote
}

// tracker is the state of one target between polls. It is owned by the
// target's poll goroutine; nothing else reads it.
type tracker struct {
	key      uint64 // of hashKey
	exported [durable.NumStatuses]bool
	window   int64 // ms
	overlap  int64 // ms
	interval int64 // ms, the poll interval
	tombTTL  int64 // ms

	baseline    int64 // ms
	primed      bool
	needFull    bool
	lastSuccess int64 // ms, start of the last successful poll
	lastFull    int64 // ms

	running map[uint64]runRec
	done    map[uint64]doneRec
	tomb    map[uint64]int64 // hash -> expiry (ms)
	flagged map[uint64]int64 // invalid-report keys -> expiry (ms)

	finished    [durable.NumStatuses]uint64
	durations   [durable.NumStatuses]durable.Histogram
	bounds      []float64 // histogram upper bounds; nil = durable.DurationBuckets
	invalid     [durable.NumReasons]uint64
	corrections uint64

	ages []time.Duration // running-age thresholds, increasing

	// Breakdowns (see breakdown.go).
	byVersion   bool
	vers        []verState
	verIdx      map[string]uint16
	byErrorType bool
	maxErrTypes int
	errCounts   map[errKey]uint64
	errSince    map[errKey]int64 // when each was first counted, ms
	// pollNow is the start of the poll being applied (ms), for what it
	// creates.
	pollNow int64
	pending []pendingErr

	// Gauges as of the last successful poll.
	inWindow      [durable.NumStatuses]uint64
	oldestRunning int64
	olderThan     []uint64 // running executions older than each of ages
}

func newTracker() *tracker {
	return &tracker{
		key:     rand.Uint64(),
		running: make(map[uint64]runRec),
		done:    make(map[uint64]doneRec),
		tomb:    make(map[uint64]int64),
		flagged: make(map[uint64]int64),
	}
}

// configure applies a target's settings; a change of window or statuses
// makes the next poll a full one.
func (t *tracker) configure(statuses []durable.Status, window, overlap, interval int64) {
	var exp [durable.NumStatuses]bool
	for _, s := range statuses {
		exp[s] = true
	}
	if exp != t.exported || window != t.window || overlap != t.overlap {
		t.needFull = true
	}
	t.exported, t.window, t.overlap, t.interval = exp, window, overlap, interval
	t.tombTTL = overlap + 3*interval
}

// setBuckets sets the duration histogram's upper bounds (nil = default).
// Observations cannot be moved between bucket sets, so a change starts the
// histograms afresh (Prometheus treats that as a counter reset); the
// finished counters are not touched.
func (t *tracker) setBuckets(bounds []float64) {
	if slices.Equal(bounds, t.bounds) {
		return
	}
	t.bounds = slices.Clone(bounds)
	t.durations = [durable.NumStatuses]durable.Histogram{}
	for i := range t.vers {
		t.vers[i].durations = [durable.NumStatuses]durable.Histogram{}
	}
}

func (t *tracker) bucketBounds() []float64 {
	if t.bounds == nil {
		return durable.DurationBuckets[:]
	}
	return t.bounds
}

// coverage is the earliest StartTimestamp that done keeps at time now.
func (t *tracker) coverage(now int64) int64 { return now - t.window - t.overlap }

// wantFull says whether the poll starting at now must list the whole window:
// the first poll, a forced one, or a resync.
//
// Resyncs are spread over the period: each tracker resyncs on a grid of its
// own, with boundaries at k*resync - phase and the phase taken from its
// random hash key, so that targets started together (every target of a
// process, every replica of a rollout) do not all re-list their window in
// the same minute and drain the account's list budget in bursts. A resync
// is due at the first poll at or past the next boundary after the last full
// poll: resyncs come one period apart, the first one after a start within
// one period. A boundary may be taken up to a second (a tenth of the period
// at most) early, for scheduling noise; with resync_interval at most the
// interval, every poll is full.
func (t *tracker) wantFull(now, resync int64) bool {
	switch {
	case !t.primed || t.needFull:
		return true
	case resync <= 0:
		return false
	case resync <= t.interval:
		return true
	}
	slack := min(resync/10, 1000)
	phase := int64(t.key % uint64(resync))
	return (now+slack+phase)/resync > (t.lastFull+slack+phase)/resync
}

// hash returns the tracker's hash of an ARN.
func (t *tracker) hash(arn string) uint64 { return hashKey(t.key, arn) }

// known reports whether the state has a record of the execution.
func (t *tracker) known(h uint64) bool {
	if _, ok := t.running[h]; ok {
		return true
	}
	if _, ok := t.done[h]; ok {
		return true
	}
	_, ok := t.tomb[h]
	return ok
}

// vanished returns the running executions that no listing of this poll
// mentioned: they have ended (or the listing lags) and must be read back.
func (t *tracker) vanished(seen map[uint64]struct{}) []runRec {
	var out []runRec
	for h, r := range t.running {
		if _, ok := seen[h]; !ok {
			out = append(out, r)
		}
	}
	return out
}

// estimate counts the executions the tracker knows of with a start in
// [from, to]: the size of a range listing over that span.
func (t *tracker) estimate(from, to int64) int {
	n := 0
	for _, d := range t.done {
		if d.start() >= from && d.start() <= to {
			n++
		}
	}
	for _, r := range t.running {
		if r.start >= from && r.start <= to {
			n++
		}
	}
	return n
}

// apply folds a successful poll that started at now into the state. It
// returns the invalid executions reported for the first time, for the log.
func (t *tracker) apply(b *batch, now int64) (fresh []invalidNote) {
	if !t.primed {
		t.baseline = now
	}
	if b.full && t.primed {
		t.dropPhantoms(b)
	}
	for i := range b.items {
		if o := &b.items[i]; o.start > now+futureSlack {
			b.invalid = append(b.invalid, invalidNote{key: o.hash, reason: durable.FutureStart, arn: o.arn})
		}
	}
	for _, n := range b.invalid {
		if t.flag(n.key, n.reason, now) {
			fresh = append(fresh, n)
		}
	}
	// In a full poll, an execution unknown to the state that started before
	// what the last incremental listing covered is drift: a correction.
	missedBefore := int64(-1 << 62)
	if b.full && t.primed {
		missedBefore = t.lastSuccess - t.overlap
	}
	t.pollNow = now
	if t.byVersion {
		t.ensureVersions()
		for i := range b.items {
			b.items[i].ver = t.verIndex(versionOf(b.items[i].arn))
		}
	}
	for i := range b.items {
		if o := &b.items[i]; o.final() {
			_, wasRunning := t.running[o.hash]
			delete(t.running, o.hash)
			t.settle(o, now, !wasRunning && o.start < missedBefore)
		}
	}
	for i := range b.items {
		o := &b.items[i]
		if (o.status != durable.Running && o.status != durable.Unknown) || o.final() {
			continue
		}
		if _, ok := t.done[o.hash]; ok {
			continue
		}
		if _, ok := t.tomb[o.hash]; ok {
			continue
		}
		if _, ok := t.running[o.hash]; !ok && o.start < missedBefore && o.status == durable.Running {
			t.corrections++
		}
		t.running[o.hash] = runRec{arn: o.arn, start: o.start, unknown: o.status == durable.Unknown, ver: o.ver}
	}
	// A 404 on read-back can be transient: the execution stays tracked for
	// a few polls before it is given up.
	for _, h := range b.gone {
		r, ok := t.running[h]
		if !ok {
			continue
		}
		if r.misses++; r.misses < maxNotFound {
			t.running[h] = r
			continue
		}
		delete(t.running, h)
		t.flag(h, durable.NotFound, now)
	}
	t.evict(now)
	t.recount(now)
	t.primed = true
	t.lastSuccess = now
	if b.full {
		t.lastFull = now
		t.needFull = false
	}
	return fresh
}

// settle records a terminal execution and counts it if this is the first
// time it is seen terminal and it ended after the baseline; missed says that
// a full poll found what the incremental ones should have seen.
//
// A stale read-back (see obs.stale) that ended more than the tombstone's
// lifetime ago is not counted: had it been counted, its tombstone would
// have expired by now; had it not, the state would have tracked it running
// (every running execution is listed on every poll), so it ended before the
// baseline. Either way counting it now could count it twice.
func (t *tracker) settle(o *obs, now int64, missed bool) {
	if d, ok := t.done[o.hash]; ok {
		// Terminal statuses are final, but if the API changes its mind the
		// gauges follow it; the counters stay as first counted.
		if d.status() != o.status {
			t.done[o.hash] = mkDone(d.start(), o.status, d.ver())
			t.corrections++
		}
		if t.byVersion && o.arn != "" && d.ver() != o.ver {
			// A record kept from before the breakdown was on.
			d = t.done[o.hash]
			d = d.withVer(o.ver)
			t.done[o.hash] = d
		}
		return
	}
	cov := t.coverage(now)
	if _, ok := t.tomb[o.hash]; ok {
		if o.start >= cov {
			delete(t.tomb, o.hash)
			t.done[o.hash] = mkDone(o.start, o.status, o.ver)
		}
		return
	}
	if o.start >= cov {
		t.done[o.hash] = mkDone(o.start, o.status, o.ver)
	} else {
		t.tomb[o.hash] = now + t.tombTTL
	}
	if o.stale && o.end > 0 && o.end <= now-t.tombTTL {
		return
	}
	if missed || o.stale {
		t.corrections++
	}
	ended := o.end >= t.baseline || (o.end == 0 && t.primed)
	if !ended || !t.counts(o.status) {
		return
	}
	t.finished[o.status]++
	ms := max(o.end-o.start, 0)
	t.countVersion(o.ver, o.status, ms, now, o.status != durable.Unknown)
	if o.status == durable.Unknown {
		return // no histogram for statuses this build does not know
	}
	t.queueError(o.arn, o.status)
	// Without a usable duration (no end, or an end before the start, both
	// counted as invalid) the observation is 0 s, so that the histogram's
	// count always equals finished_total.
	t.durations[o.status].ObserveMillisIn(ms, t.bucketBounds())
}

// counts says whether finishes in status s are counted: the exported
// terminal statuses, and UNKNOWN (a status this build does not know, with
// an end) when the target exports every status.
func (t *tracker) counts(s durable.Status) bool {
	if s == durable.Unknown {
		return t.exportsAll()
	}
	return t.exported[s]
}

// dropPhantoms removes terminal executions that a full window listing should
// have returned and did not. They go to tomb, not away: if they show up
// again they return to the gauges but are never counted a second time.
func (t *tracker) dropPhantoms(b *batch) {
	for h, d := range t.done {
		if d.start() <= b.listedAfter+1000 || !b.listedStatuses[d.status()] {
			continue
		}
		if _, ok := b.windowSeen[h]; !ok {
			delete(t.done, h)
			t.tomb[h] = d.start() + t.window + t.overlap
			t.corrections++
		}
	}
}

// flag counts an invalid execution once per reason. The record lives as
// long as the item keeps being listed (each sighting extends it), so an item
// listed for longer than the window is still counted once. It reports
// whether this is the first report.
func (t *tracker) flag(key uint64, r durable.Reason, now int64) bool {
	key ^= uint64(r) << 56
	_, seen := t.flagged[key]
	t.flagged[key] = now + t.window + t.overlap
	if !seen {
		t.invalid[r]++
	}
	return !seen
}

// evict forgets what can no longer be listed again.
func (t *tracker) evict(now int64) {
	cov := t.coverage(now)
	for h, d := range t.done {
		if d.start() < cov {
			delete(t.done, h)
		}
	}
	for h, exp := range t.tomb {
		if exp < now {
			delete(t.tomb, h)
		}
	}
	for h, exp := range t.flagged {
		if exp < now {
			delete(t.flagged, h)
		}
	}
}

// recount computes the gauges at now: the terminal statuses over the
// window ending at now, RUNNING over every running execution whatever its
// start (a workflow stuck for weeks must show), with its oldest start and
// how many are older than each age threshold.
func (t *tracker) recount(now int64) {
	cut := now - t.window
	var c [durable.NumStatuses]uint64
	for _, d := range t.done {
		if d.start() >= cut {
			c[d.status()]++
		}
	}
	oldest := int64(0)
	older := make([]uint64, len(t.ages))
	for _, r := range t.running {
		if r.unknown {
			continue
		}
		c[durable.Running]++
		// A start in the future (counted as invalid) is taken as now: an
		// age is never negative.
		start := min(r.start, now)
		if oldest == 0 || start < oldest {
			oldest = start
		}
		for i, a := range t.ages {
			if now-start > a.Milliseconds() {
				older[i]++
			}
		}
	}
	t.inWindow, t.oldestRunning, t.olderThan = c, oldest, older
	t.recountVersions(now)
}

// size is how many executions the tracker keeps state for.
func (t *tracker) size() int { return len(t.running) + len(t.done) + len(t.tomb) }

// idle reports whether nothing runs.
func (t *tracker) idle() bool { return len(t.running) == 0 }

// fill copies the tracker's numbers into a snapshot.
func (t *tracker) fill(s *snapshot.Snapshot) {
	s.Primed = t.primed
	s.InWindow = t.inWindow
	if t.oldestRunning > 0 {
		s.OldestRunningStart = float64(t.oldestRunning) / 1000
	}
	s.Finished = t.finished
	s.Durations = t.durations
	s.AgeThresholds = t.ages
	s.RunningOlderThan = t.olderThan
	s.Buckets = t.bounds
	s.Invalid = t.invalid
	s.Corrections = t.corrections
	s.Tracked = t.size()
	t.fillBreakdowns(s)
	if t.primed {
		s.Since = t.baseline
	}
}

// validator returns a validator of the executions of function into b, with
// this tracker's hash key; listing says it reads a listing, whose
// duplicates it reports (a read has none).
func (t *tracker) validator(function string, b *batch, listing bool) *validator {
	v := &validator{key: t.key, keepARN: t.byVersion || t.byErrorType, function: function, b: b}
	if listing {
		v.seen = make(map[uint64]struct{})
	}
	return v
}

// validator turns scrape.Executions into observations for one target.
type validator struct {
	key      uint64 // the tracker's hash key
	keepARN  bool   // keep the ARN of terminal executions too (breakdowns)
	function string // bare function name
	b        *batch
	seen     map[uint64]struct{} // this listing's hashes, for duplicates
}

// observe validates e and adds it to the batch; it returns the hash, or
// false when the execution cannot be used.
func (v *validator) observe(e scrape.Execution) (uint64, bool) {
	if e.Malformed != "" {
		// A field of the wrong type: the item cannot be taken, the rest of
		// its page is.
		v.note(hashKey(v.key, e.ARN+"\x00"+e.Name+"\x00"+e.FunctionARN), durable.Malformed, e, e.Malformed)
		return 0, false
	}
	if e.ARN == "" {
		v.note(hashKey(v.key, e.Name+"\x00"+e.FunctionARN+"\x00"+e.RawStatus), durable.MissingARN, e, "")
		return 0, false
	}
	h := hashKey(v.key, e.ARN)
	if fn := functionOf(e); fn != "" && fn != v.function {
		v.note(h, durable.ForeignFunction, e, "function "+fn)
		return 0, false
	}
	if v.seen != nil {
		if _, dup := v.seen[h]; dup {
			v.note(h, durable.DuplicateInListing, e, "")
			return h, false
		}
		v.seen[h] = struct{}{}
	}
	if e.Start <= 0 {
		v.note(h, durable.MissingStart, e, "")
		return 0, false
	}
	switch {
	case e.Status == durable.Unknown:
		// Reported once, and kept track of (not counted in any gauge) so
		// that it is still counted when it reaches a known status.
		v.note(h, durable.UnknownStatus, e, "status "+e.RawStatus)
	case e.Status.Terminal() && e.End == 0:
		v.note(h, durable.MissingEnd, e, "")
	case e.Status.Terminal() && e.End < e.Start:
		v.note(h, durable.EndBeforeStart, e, "")
	}
	o := obs{hash: h, status: e.Status, start: e.Start, end: e.End}
	if !o.final() || v.keepARN {
		o.arn = e.ARN
	}
	v.b.items = append(v.b.items, o)
	return h, true
}

func (v *validator) note(key uint64, r durable.Reason, e scrape.Execution, detail string) {
	v.b.invalid = append(v.b.invalid, invalidNote{key: key, reason: r, arn: e.ARN, detail: detail})
}

// functionOf returns the bare function name an execution belongs to, from
// its FunctionArn or else its own ARN; "" when neither says.
func functionOf(e scrape.Execution) string {
	for _, arn := range []string{e.FunctionARN, e.ARN} {
		// arn:aws:lambda:REGION:ACCOUNT:function:NAME[:VERSION][/durable-execution/...]
		if i := strings.Index(arn, ":function:"); i >= 0 {
			rest := arn[i+len(":function:"):]
			if j := strings.IndexAny(rest, ":/"); j >= 0 {
				rest = rest[:j]
			}
			return rest
		}
	}
	return ""
}
