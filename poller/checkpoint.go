package poller

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
)

// A checkpoint is what a target's tracker must keep across a restart for its
// numbers to continue exactly: the counters and histograms, the
// de-duplication state (running executions with their ARNs, the compact
// records of terminal ones, tombstones, invalid-report records), the hash
// key those records were made with, the baseline and the time of the last
// successful poll. The gauges are not kept: the first poll after the restart
// recomputes them. package storage wraps it in a versioned, checksummed file.
//
// Layout (integers are varints unless said otherwise; a string is its
// length then its bytes):
//
//	spec key (string), hash key (8 bytes)
//	baseline, lastSuccess, lastFull, flags (primed 1, needFull 2)
//	exported statuses (bit mask), window, overlap
//	bounds: n, then n float64 bits (8 bytes each); 0 = the default bounds
//	finished: NumStatuses counts; durations: per status count, sum (ms), n, n counts,
//	  then the native buckets: schema reduction, zero count, offset, n, n counts
//	invalid: NumReasons counts; corrections; overruns
//	running: n, then arn (string), start, flags (unknown 1), misses, version index
//	done: n, then hash (8 bytes), start, status, version index
//	tomb: n, then hash (8 bytes), expiry
//	flagged: n, then key (8 bytes), expiry
//	breakdowns: flags (by version 1, by error type 2), then
//	  versions: n, then name (string), flags (free 1), last finish, since,
//	    finished and durations as above
//	  error types: cap, n, then status, type (string), count, since
//	  pending error reads: n, then arn (string), status, misses

// checkpointName is the file name of a target's checkpoint: a hash of its
// key, which may hold any character.
func checkpointName(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:12])
}

// saved is what a checkpoint restores besides the tracker.
type saved struct {
	key      string // the target's Spec.Key
	overruns uint64
}

func encodeCheckpoint(key string, t *tracker, overruns uint64) []byte {
	b := make([]byte, 0, 256+len(t.running)*128+(len(t.done)+len(t.tomb)+len(t.flagged))*16)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	u := func(v uint64) { b = binary.AppendUvarint(b, v) }
	i := func(v int64) { b = binary.AppendVarint(b, v) }
	fixed := func(v uint64) { b = binary.LittleEndian.AppendUint64(b, v) }

	str(key)
	fixed(t.key)
	i(t.baseline)
	i(t.lastSuccess)
	i(t.lastFull)
	u(boolBit(t.primed, 1) | boolBit(t.needFull, 2))
	var mask uint64
	for s, e := range t.exported {
		mask |= boolBit(e, 1<<s)
	}
	u(mask)
	i(t.window)
	i(t.overlap)
	u(uint64(len(t.bounds)))
	for _, f := range t.bounds {
		fixed(math.Float64bits(f))
	}
	nb := len(t.bucketBounds())
	counts := func(finished *[durable.NumStatuses]uint64, durations *[durable.NumStatuses]durable.Histogram) {
		for _, n := range finished {
			u(n)
		}
		for s := range durations {
			h := &durations[s]
			u(h.Count)
			u(h.SumMillis)
			u(uint64(nb))
			for _, c := range h.Counts[:nb] {
				u(c)
			}
			u(uint64(h.NativeReduced))
			u(h.NativeZero)
			i(int64(h.NativeOffset))
			u(uint64(h.NativeLen))
			for _, c := range h.NativeCounts[:h.NativeLen] {
				u(c)
			}
		}
	}
	counts(&t.finished, &t.durations)
	for _, n := range t.invalid {
		u(n)
	}
	u(t.corrections)
	u(overruns)
	u(uint64(len(t.running)))
	for _, r := range t.running {
		str(r.arn)
		i(r.start)
		u(boolBit(r.unknown, 1))
		u(uint64(r.misses))
		u(uint64(r.ver))
	}
	u(uint64(len(t.done)))
	for h, d := range t.done {
		fixed(h)
		i(d.start())
		u(uint64(d.status()))
		u(uint64(d.ver()))
	}
	u(uint64(len(t.tomb)))
	for h, exp := range t.tomb {
		fixed(h)
		i(exp)
	}
	u(uint64(len(t.flagged)))
	for k, exp := range t.flagged {
		fixed(k)
		i(exp)
	}
	u(boolBit(t.byVersion, 1) | boolBit(t.byErrorType, 2))
	if t.byVersion {
		u(uint64(len(t.vers)))
		for k := range t.vers {
			v := &t.vers[k]
			str(v.name)
			u(boolBit(v.free, 1))
			i(v.lastFinish)
			i(v.since)
			counts(&v.finished, &v.durations)
		}
	}
	if t.byErrorType {
		u(uint64(t.maxErrTypes))
		u(uint64(len(t.errCounts)))
		for k, n := range t.errCounts {
			u(uint64(k.status))
			str(k.typ)
			u(n)
			i(t.errSince[k])
		}
		u(uint64(len(t.pending)))
		for _, p := range t.pending {
			str(p.arn)
			u(uint64(p.status))
			u(uint64(p.misses))
		}
	}
	return b
}

func boolBit(b bool, bit uint64) uint64 {
	if b {
		return bit
	}
	return 0
}

// errCheckpoint wraps every reason a checkpoint's payload is unusable.
var errCheckpoint = errors.New("unusable checkpoint")

// reader decodes a payload; the first error sticks and every later read
// returns zero.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errCheckpoint, fmt.Sprintf(format, a...))
	}
}

func (r *reader) u() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) i() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) fixed() uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) str() string {
	n := r.u()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.fail("truncated")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// count reads a number of records of at least size bytes each: never more
// than the rest of the payload can hold, so a damaged count cannot make the
// decoder allocate without bound.
func (r *reader) count(size int, what string) int {
	n := r.u()
	if r.err == nil && n > uint64(len(r.b)/size) {
		r.fail("%d %s in %d bytes", n, what, len(r.b))
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

// decodeCheckpoint rebuilds a tracker from a payload, checking everything a
// damaged or foreign file could get wrong; an error wraps errCheckpoint.
func decodeCheckpoint(b []byte) (*tracker, saved, error) {
	r := &reader{b: b}
	var sv saved
	t := newTracker()
	sv.key = r.str()
	t.key = r.fixed()
	t.baseline = r.i()
	t.lastSuccess = r.i()
	t.lastFull = r.i()
	flags := r.u()
	t.primed, t.needFull = flags&1 != 0, flags&2 != 0
	mask := r.u()
	if mask >= 1<<uint(durable.NumStatuses) {
		r.fail("statuses %#x", mask)
	}
	for s := range t.exported {
		t.exported[s] = mask&(1<<s) != 0
	}
	t.window = r.i()
	t.overlap = r.i()
	if nb := r.count(8, "bucket bounds"); nb > 0 {
		if nb > durable.MaxBuckets {
			r.fail("%d bucket bounds, at most %d", nb, durable.MaxBuckets)
		}
		for range min(nb, durable.MaxBuckets) {
			f := math.Float64frombits(r.fixed())
			if n := len(t.bounds); math.IsNaN(f) || math.IsInf(f, 0) || (n > 0 && f <= t.bounds[n-1]) {
				r.fail("bucket bounds not increasing")
			}
			t.bounds = append(t.bounds, f)
		}
	}
	nb := len(t.bucketBounds())
	counts := func(finished *[durable.NumStatuses]uint64, durations *[durable.NumStatuses]durable.Histogram) {
		for s := range finished {
			finished[s] = r.u()
		}
		for s := range durations {
			h := &durations[s]
			h.Count, h.SumMillis = r.u(), r.u()
			if n := r.u(); r.err == nil && n != uint64(nb) {
				r.fail("%d histogram buckets for %d bounds", n, nb)
			}
			prev := uint64(0)
			for k := range nb {
				if r.err != nil {
					break
				}
				h.Counts[k] = r.u()
				if h.Counts[k] < prev || h.Counts[k] > h.Count {
					r.fail("histogram buckets not cumulative")
				}
				prev = h.Counts[k]
			}
			if h.Count > finished[s] {
				r.fail("%d durations for %d finished", h.Count, finished[s])
			}
			decodeNative(r, h)
		}
	}
	counts(&t.finished, &t.durations)
	for k := range t.invalid {
		t.invalid[k] = r.u()
	}
	t.corrections = r.u()
	sv.overruns = r.u()
	maxVer := uint64(0) // the highest version index a record refers to
	for range r.count(4, "running executions") {
		arn, start, fl, misses, ver := r.str(), r.i(), r.u(), r.u(), r.u()
		if r.err == nil && (arn == "" || start <= 0 || misses >= maxNotFound || ver > maxVersions+1) {
			r.fail("running execution %q", arn)
		}
		maxVer = max(maxVer, ver)
		t.running[hashKey(t.key, arn)] = runRec{arn: arn, start: start, unknown: fl&1 != 0, misses: int(misses), ver: uint16(ver)}
	}
	for range r.count(11, "terminal executions") {
		h, start, st, ver := r.fixed(), r.i(), r.u(), r.u()
		if r.err == nil && (st >= uint64(durable.NumStatuses) || !durable.Status(st).Terminal() && durable.Status(st) != durable.Unknown) {
			r.fail("terminal status %d", st)
		}
		if r.err == nil && ver > maxVersions+1 {
			r.fail("version index %d", ver)
		}
		if r.err == nil && (start < 0 || start > maxDoneStart) {
			r.fail("terminal execution started at %d", start)
		}
		maxVer = max(maxVer, ver)
		t.done[h] = mkDone(start, durable.Status(st), uint16(ver))
	}
	for range r.count(9, "tombstones") {
		h := r.fixed()
		t.tomb[h] = r.i()
	}
	for range r.count(9, "invalid-report records") {
		k := r.fixed()
		t.flagged[k] = r.i()
	}
	decodeBreakdowns(r, t, counts, maxVer)
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after the end", len(r.b))
	}
	if r.err == nil && (!t.primed || t.lastSuccess <= 0 || t.baseline <= 0 || t.baseline > t.lastSuccess) {
		r.fail("no successful poll recorded")
	}
	if r.err != nil {
		return nil, saved{}, r.err
	}
	return t, sv, nil
}

// decodeBreakdowns reads the breakdown section of a checkpoint: the version
// table, which every record's version index must fit, and the error counts
// and queue, which must not add up to more than was counted.
func decodeBreakdowns(r *reader, t *tracker, counts func(*[durable.NumStatuses]uint64, *[durable.NumStatuses]durable.Histogram), maxVer uint64) {
	flags := r.u()
	if r.err == nil && flags > 3 {
		r.fail("breakdown flags %#x", flags)
	}
	t.byVersion, t.byErrorType = flags&1 != 0, flags&2 != 0
	if !t.byVersion && maxVer > 0 {
		r.fail("version index %d without the version breakdown", maxVer)
	}
	if t.byVersion {
		n := r.count(3, "versions")
		if r.err == nil && (n == 0 || n > maxVersions+2 || uint64(n) <= maxVer) {
			r.fail("%d versions for version index %d", n, maxVer)
		}
		for k := range n {
			if r.err != nil {
				break
			}
			v := verState{name: r.str(), free: r.u()&1 != 0, lastFinish: r.i(), since: r.i()}
			counts(&v.finished, &v.durations)
			switch {
			case k == 0 && (v.name != "" || v.free):
				r.fail("version 0 is %q", v.name)
			case k > 0 && !v.free && (v.name == "" || t.verIdx[v.name] != 0):
				r.fail("version %q twice or empty", v.name)
			case k > 0 && v.free && v.name != "":
				r.fail("free version slot named %q", v.name)
			}
			if k > 0 && !v.free {
				if t.verIdx == nil {
					t.verIdx = make(map[string]uint16)
				}
				t.verIdx[v.name] = uint16(k)
			}
			t.vers = append(t.vers, v)
		}
		for _, rec := range t.running {
			if r.err == nil && int(rec.ver) < len(t.vers) && t.vers[rec.ver].free {
				r.fail("running execution in a free version slot")
			}
		}
		for _, d := range t.done {
			if r.err == nil && int(d.ver()) < len(t.vers) && t.vers[d.ver()].free {
				r.fail("terminal execution in a free version slot")
			}
		}
	}
	if t.byErrorType {
		t.maxErrTypes = int(r.u())
		var sum [durable.NumStatuses]uint64
		for range r.count(3, "error counts") {
			st, typ, n, since := r.u(), r.str(), r.u(), r.i()
			if r.err == nil && (!errorStatus(st) || (cleanErrorType(typ) != typ) || t.errCounts[errKey{durable.Status(st), typ}] != 0 || n == 0) {
				r.fail("error count %d of %q", st, typ)
			}
			if t.errCounts == nil {
				t.errCounts = make(map[errKey]uint64)
			}
			t.errCounts[errKey{durable.Status(st), typ}] = n
			if since != 0 {
				if t.errSince == nil {
					t.errSince = make(map[errKey]int64)
				}
				t.errSince[errKey{durable.Status(st), typ}] = since
			}
			sum[min(st, uint64(durable.NumStatuses)-1)] += n
		}
		np := r.count(3, "pending error reads")
		if r.err == nil && np > maxPendingErrors {
			r.fail("%d pending error reads", np)
		}
		for range np {
			if r.err != nil {
				break
			}
			p := pendingErr{arn: r.str(), status: durable.Status(r.u()), misses: int(r.u())}
			if r.err == nil && (p.arn == "" || !errorStatus(uint64(p.status)) || p.misses >= maxNotFound) {
				r.fail("pending error read %q", p.arn)
			}
			sum[min(int(p.status), durable.NumStatuses-1)]++
			t.pending = append(t.pending, p)
		}
		for s, n := range sum {
			if r.err == nil && n > t.finished[s] {
				r.fail("%d error counts for %d finished %s", n, t.finished[s], durable.Status(s))
			}
		}
	}
}

// errorStatus says whether status s (a decoded number) is one whose errors
// are read.
func errorStatus(s uint64) bool {
	return s == uint64(durable.Failed) || s == uint64(durable.TimedOut) || s == uint64(durable.Stopped)
}

// decodeNative reads a histogram's native buckets: a schema in range, a
// window of at most NativeMaxBuckets buckets, and counts that, with the zero
// bucket, add up to the histogram's count.
func decodeNative(r *reader, h *durable.Histogram) {
	reduced, zero, offset, n := r.u(), r.u(), r.i(), r.u()
	if r.err != nil {
		return
	}
	if reduced > durable.NativeMaxSchema-durable.NativeMinSchema || n > durable.NativeMaxBuckets ||
		offset < math.MinInt32 || offset > math.MaxInt32-int64(n) || (n == 0 && offset != 0) {
		r.fail("native buckets: schema -%d, %d buckets from %d", reduced, n, offset)
		return
	}
	h.NativeReduced, h.NativeZero, h.NativeOffset, h.NativeLen = uint8(reduced), zero, int32(offset), uint8(n)
	sum := zero
	for k := range int(n) {
		h.NativeCounts[k] = r.u()
		sum += h.NativeCounts[k]
	}
	if r.err == nil && sum != h.Count {
		r.fail("native buckets hold %d observations, the histogram %d", sum, h.Count)
	}
}
