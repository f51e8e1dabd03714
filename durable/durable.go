// Package durable holds the domain values shared by the scraper, the poller
// and the collector: execution statuses, invalid-data reasons and the
// duration histogram's buckets. It imports nothing from AWS or Prometheus.
package durable

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

// Histogram is a cumulative duration histogram kept by the poller. With
// bounds b (DurationBuckets unless configured), Counts[i] counts observations
// <= b[i] (cumulative, as Prometheus wants); observations above the last
// bound show only in Count. The sum is kept in whole milliseconds, the API's
// precision, so it is exact whatever the order of observations.
type Histogram struct {
	Counts    [MaxBuckets]uint64
	Count     uint64
	SumMillis uint64
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
}

// Sum returns the sum of observations in seconds.
func (h *Histogram) Sum() float64 { return float64(h.SumMillis) / 1000 }
