// Package durable holds the domain values shared by the scraper, the poller
// and the collector: execution statuses, invalid-data reasons and the
// duration histogram's buckets. It imports nothing from AWS or Prometheus.
package durable

import (
	"math"
	"sort"
)

// Status is the state of a durable execution. The zero value is Unknown: the
// API's enum "can be expanded", so a status this build does not know maps to
// Unknown rather than breaking anything.
type Status uint8

// The statuses of a durable execution, in the order the exporter emits them.
const (
	Unknown Status = iota
	Running
	Succeeded
	Failed
	TimedOut
	Stopped
)

// NumStatuses sizes arrays indexed by Status.
const NumStatuses = int(Stopped) + 1

var statusNames = [NumStatuses]string{"UNKNOWN", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"}

// Known lists every status the API documents, in emission order.
var Known = []Status{Running, Succeeded, Failed, TimedOut, Stopped}

// Terminals lists the statuses an execution can end in.
var Terminals = []Status{Succeeded, Failed, TimedOut, Stopped}

// ParseStatus maps the API's string to a Status; anything else is Unknown.
func ParseStatus(s string) Status {
	for i := Running; i <= Stopped; i++ {
		if statusNames[i] == s {
			return i
		}
	}
	return Unknown
}

// String returns the API's spelling of the status.
func (s Status) String() string {
	if int(s) < NumStatuses {
		return statusNames[s]
	}
	return statusNames[Unknown]
}

// Terminal reports whether the status is final.
func (s Status) Terminal() bool { return s >= Succeeded && s <= Stopped }

// The API operations a poller makes, by the names the API (and so the
// SDK, the IAM policy and every metric label) gives them.
const (
	ListOperation = "ListDurableExecutionsByFunction"
	GetOperation  = "GetDurableExecution"
)

// Op is one of those operations; it indexes per-poll request counts.
type Op uint8

// The operations, in the order the exporter emits them.
const (
	OpList Op = iota
	OpGet
	NumOps
)

var opNames = [NumOps]string{ListOperation, GetOperation}

// String returns the API's name of the operation.
func (o Op) String() string {
	if o < NumOps {
		return opNames[o]
	}
	return "unknown"
}

// Reason says why an execution returned by the API was not taken as it came.
type Reason uint8

// The reasons for lambda_durable_exporter_invalid_executions_total.
const (
	MissingARN Reason = iota
	MissingStart
	MissingEnd
	EndBeforeStart
	UnknownStatus
	ForeignFunction
	DuplicateInListing
	NotFound
	FutureStart
	Malformed
	NumReasons
)

var reasonNames = [NumReasons]string{
	"missing_arn", "missing_start_timestamp", "missing_end_timestamp",
	"end_before_start", "unknown_status", "foreign_function",
	"duplicate_in_listing", "not_found", "future_start_timestamp", "malformed_item",
}

// String returns the label value of the reason.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// DurationBuckets are the upper bounds, in seconds, of the execution duration
// histogram: from one second to thirty days, roughly doubling, because durable
// executions run from seconds up to a year.
var DurationBuckets = [...]float64{
	1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 43200,
	86400, 172800, 345600, 604800, 1209600, 2592000,
}

// MaxBuckets is the most upper bounds a duration histogram may have; the
// default set uses them all. Fewer buckets mean fewer series per function.
const MaxBuckets = len(DurationBuckets)

// Histogram is a duration histogram kept by the poller, in two forms that
// Prometheus reads from one family: classic buckets and native (exponential)
// buckets.
//
// Classic: with bounds b (DurationBuckets unless configured), Counts[i]
// counts observations <= b[i] (cumulative, as Prometheus wants);
// observations above the last bound show only in Count.
//
// Native: bucket i of schema s holds the observations v (in seconds) with
// 2^((i-1)/2^s) < v <= 2^(i/2^s), as Prometheus's native histograms define
// them; 0 ms goes to the zero bucket. The buckets kept are a window of at
// most NativeMaxBuckets consecutive indexes, from NativeOffset on. The
// schema starts at NativeMaxSchema (buckets about 9% wide); an observation
// that does not fit in the window halves the resolution (the schema drops
// by one, two buckets merge into one) until it fits. The result does not
// depend on the order of observations.
//
// The sum is kept in whole milliseconds, the API's precision, so it is
// exact whatever the order of observations.
type Histogram struct {
	Counts    [MaxBuckets]uint64
	Count     uint64
	SumMillis uint64

	// NativeReduced is how far the schema fell below NativeMaxSchema.
	NativeReduced uint8
	NativeLen     uint8 // buckets in use from NativeOffset on; 0 = none yet
	NativeOffset  int32
	NativeZero    uint64 // observations of 0 ms
	NativeCounts  [NativeMaxBuckets]uint64
}

// NativeMaxBuckets bounds the native buckets of a histogram.
const NativeMaxBuckets = 160

// NativeMaxSchema is the native schema a histogram starts with: 2^(1/8), buckets
// about 9% wide. NativeMinSchema is the coarsest (2^16 wide).
const (
	NativeMaxSchema = 3
	NativeMinSchema = -4
)

// nativeBounds[s] are the upper bounds, within [0.5, 1), of the fraction
// of math.Frexp for the buckets of schema s > 0 (as client_golang computes
// them: every other bound of schema s is a bound of schema s-1, exactly).
var nativeBounds = func() [NativeMaxSchema + 1][]float64 {
	var b [NativeMaxSchema + 1][]float64
	for s := 1; s <= NativeMaxSchema; s++ {
		n := 1 << s
		for j := range n {
			b[s] = append(b[s], math.Exp2(float64(j)/float64(n))/2)
		}
	}
	return b
}()

// NativeSchema is the histogram's native schema.
func (h *Histogram) NativeSchema() int { return NativeMaxSchema - int(h.NativeReduced) }

// NativeKey is the index of the native bucket of v > 0 at schema s.
func NativeKey(v float64, schema int) int {
	frac, exp := math.Frexp(v)
	if schema > 0 {
		bounds := nativeBounds[schema]
		return sort.SearchFloat64s(bounds, frac) + (exp-1)*len(bounds)
	}
	key := exp
	if frac == 0.5 {
		key--
	}
	return (key + (1 << -schema) - 1) >> -schema
}

// ObserveMillis adds one non-negative duration in milliseconds to a
// histogram with the default bounds.
func (h *Histogram) ObserveMillis(ms int64) { h.ObserveMillisIn(ms, DurationBuckets[:]) }

// ObserveMillisIn adds one non-negative duration in milliseconds to a
// histogram with the given bounds (at most MaxBuckets, increasing).
func (h *Histogram) ObserveMillisIn(ms int64, bounds []float64) {
	if ms < 0 {
		return
	}
	v := float64(ms) / 1000
	for i, ub := range bounds[:min(len(bounds), MaxBuckets)] {
		if v <= ub {
			h.Counts[i]++
		}
	}
	h.Count++
	h.SumMillis += uint64(ms)
	h.observeNative(v)
}

func (h *Histogram) observeNative(v float64) {
	if v == 0 {
		h.NativeZero++
		return
	}
	key := NativeKey(v, h.NativeSchema())
	if h.NativeLen == 0 {
		h.NativeOffset, h.NativeLen = int32(key), 1
		h.NativeCounts[0] = 1
		return
	}
	lo, hi := int(h.NativeOffset), int(h.NativeOffset)+int(h.NativeLen)-1
	for min(lo, key) < max(hi, key)-NativeMaxBuckets+1 && h.NativeSchema() > NativeMinSchema {
		h.halveNative()
		key = (key + 1) >> 1
		lo, hi = int(h.NativeOffset), int(h.NativeOffset)+int(h.NativeLen)-1
	}
	if key < lo {
		if n := lo - key; int(h.NativeLen)+n <= NativeMaxBuckets {
			copy(h.NativeCounts[n:], h.NativeCounts[:h.NativeLen])
			clear(h.NativeCounts[:n])
			h.NativeOffset, h.NativeLen = int32(key), h.NativeLen+uint8(n)
		} else {
			key = lo // at the coarsest schema and still too wide: clamp (never reached by durations)
		}
	} else if key > hi {
		if n := key - lo + 1; n <= NativeMaxBuckets {
			h.NativeLen = uint8(n)
		} else {
			key = hi
		}
	}
	h.NativeCounts[key-int(h.NativeOffset)]++
}

// Add adds the observations of o to h (both with the same classic bounds).
// The native buckets end at the coarser of the two schemas, lower still if
// the union of their windows needs it: what observing every value of o in h
// would give.
func (h *Histogram) Add(o *Histogram) {
	for i := range h.Counts {
		h.Counts[i] += o.Counts[i]
	}
	h.Count += o.Count
	h.SumMillis += o.SumMillis
	h.NativeZero += o.NativeZero
	if o.NativeLen == 0 {
		return
	}
	src := *o
	for src.NativeReduced < h.NativeReduced {
		src.halveNative()
	}
	for h.NativeReduced < src.NativeReduced {
		h.halveNative()
	}
	for h.NativeLen > 0 {
		lo := min(h.NativeOffset, src.NativeOffset)
		hi := max(h.NativeOffset+int32(h.NativeLen), src.NativeOffset+int32(src.NativeLen)) - 1
		if int(hi-lo)+1 <= NativeMaxBuckets || h.NativeSchema() == NativeMinSchema {
			break
		}
		h.halveNative()
		src.halveNative()
	}
	if h.NativeLen == 0 {
		h.NativeOffset, h.NativeLen, h.NativeCounts = src.NativeOffset, src.NativeLen, src.NativeCounts
		return
	}
	lo := min(h.NativeOffset, src.NativeOffset)
	hi := max(h.NativeOffset+int32(h.NativeLen), src.NativeOffset+int32(src.NativeLen)) - 1
	var out [NativeMaxBuckets]uint64
	for i := range int(h.NativeLen) {
		out[int(h.NativeOffset-lo)+i] += h.NativeCounts[i]
	}
	for i := range int(src.NativeLen) {
		if k := int(src.NativeOffset-lo) + i; k < NativeMaxBuckets {
			out[k] += src.NativeCounts[i]
		}
	}
	h.NativeCounts, h.NativeOffset, h.NativeLen = out, lo, uint8(min(int(hi-lo)+1, NativeMaxBuckets))
}

// halveNative lowers the native schema by one: bucket i becomes ceil(i/2).
func (h *Histogram) halveNative() {
	var out [NativeMaxBuckets]uint64
	lo := (int(h.NativeOffset) + 1) >> 1
	hi := lo
	for i := range int(h.NativeLen) {
		k := (int(h.NativeOffset) + i + 1) >> 1
		out[k-lo] += h.NativeCounts[i]
		hi = k
	}
	h.NativeCounts, h.NativeOffset, h.NativeLen = out, int32(lo), uint8(hi-lo+1)
	h.NativeReduced++
}

// Sum returns the sum of observations in seconds.
func (h *Histogram) Sum() float64 { return float64(h.SumMillis) / 1000 }
