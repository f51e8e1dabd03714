// Package snapshot is the data contract between the pollers and the
// collector: what one target is (Target) and what its poller knew after its
// latest poll (Snapshot). Pollers write snapshots; the collector only reads
// them. It holds data and no behaviour, and imports nothing but the domain
// values of package durable.
package snapshot

import (
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
)

// Target names one polled function in every series' labels.
type Target struct {
	Function  string // bare function name, also when configured as an ARN
	Qualifier string // "" when none
	Region    string
	AccountID string // "" when it cannot be known
}

// Snapshot is what one target's poller published after its latest poll. It
// is never modified once published.
type Snapshot struct {
	Target
	// Statuses are the statuses this target exports, in order; the closed set
	// is always emitted in full, zeros included.
	Statuses []durable.Status
	// Primed is set once a poll has succeeded: before that the exporter does
	// not know the execution counts and emits no gauges for them.
	Primed bool
	// Gone is set while the API answers that the function does not exist
	// (deleted): its status gauges are withdrawn, its counters stay.
	Gone               bool
	InWindow           [durable.NumStatuses]uint64
	OldestRunningStart float64 // Unix seconds; 0 when nothing runs
	// RunningOlderThan[i] counts the running executions older than
	// AgeThresholds[i].
	AgeThresholds    []time.Duration
	RunningOlderThan []uint64
	Finished         [durable.NumStatuses]uint64
	Durations        [durable.NumStatuses]durable.Histogram
	// Since is when Finished and Durations began, Unix ms: the target's
	// baseline (its first successful poll, kept across restarts with
	// --storage.path); 0 before it. Served as their start (created)
	// timestamps.
	Since        int64
	Buckets      []float64 // the histograms' upper bounds; nil = durable.DurationBuckets
	PollSuccess  bool
	PollDuration float64 // seconds
	LastSuccess  float64 // Unix seconds; 0 before the first success
	Tracked      int
	PollRequests Requests
	Corrections  uint64
	Overruns     uint64
	Invalid      [durable.NumReasons]uint64
	// ClockSkew is the API's clock minus the exporter's, in seconds, as the
	// Date header of its answers tells; ClockSkewKnown once measured.
	ClockSkew      float64
	ClockSkewKnown bool
	// ExecutionTimeout is the function's DurableConfig.ExecutionTimeout in
	// seconds; 0 when not known.
	ExecutionTimeout float64
	// ByVersion and ByErrorType say which breakdowns the target has
	// (config key breakdown). Versions are the per-version numbers, in
	// version order; Errors the counted failures by error type, in status
	// and type order; PendingErrors the errors still to be read.
	ByVersion, ByErrorType bool
	Versions               []VersionCounts
	Errors                 []ErrorCount
	PendingErrors          int
	// Stored says checkpoints are on (--storage.path); Restored that the
	// target's state was resumed from one when this process started it.
	Stored, Restored bool
}

// VersionCounts are one version's share of a target's numbers.
type VersionCounts struct {
	Version   string
	Since     int64 // ms: when its counters began (the version was first seen)
	InWindow  [durable.NumStatuses]uint64
	Finished  [durable.NumStatuses]uint64
	Durations [durable.NumStatuses]durable.Histogram
}

// ErrorCount is how many counted executions of a status failed with an
// error type.
type ErrorCount struct {
	Status durable.Status
	Type   string
	Count  uint64
	Since  int64 // ms: when it was first counted
}

// Requests counts the API requests of one poll by operation (pages and
// single reads, retries excluded).
type Requests [durable.NumOps]uint64

// Source hands out the latest snapshot of every target.
type Source interface {
	Snapshots() []*Snapshot
}
