// Package collector turns the poller's snapshots into Prometheus metrics. It
// does no I/O: every scrape reads the latest immutable snapshot of each
// target, so scraping never calls AWS and two Prometheus servers cost no more
// API quota than one.
package collector

import (
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// Namespace prefixes every metric name of the exporter, its own
// (Namespace_exporter_...) included; every package that registers metrics is
// given it from here.
const Namespace = "lambda_durable"

var _ prometheus.Collector = (*Collector)(nil)

// Collector exports the snapshots of a Source.
type Collector struct {
	src snapshot.Source

	statusDescs                                                 // without the version label
	versionDescs                                    statusDescs // with it (Breakdowns)
	errors                                          *prometheus.Desc
	oldestRunning                                   *prometheus.Desc
	runningOlder                                    *prometheus.Desc
	pollSuccess, pollDuration, lastSuccess, tracked *prometheus.Desc
	pollRequests, corrections, overruns, invalid    *prometheus.Desc
	clockSkew, restored, errorsPending              *prometheus.Desc
	timeout                                         *prometheus.Desc // timeout.go
}

// New returns a Collector reading from src.
func New(src snapshot.Source) *Collector {
	labels := []string{"function", "qualifier", "region", "account_id"}
	with := func(l ...string) []string { return append(append([]string{}, labels...), l...) }
	desc := func(sub, name, help string, l []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, sub, name), help, l, nil)
	}
	const (
		executionsHelp = "Durable executions by current status as of the last successful poll: every RUNNING one whatever its age, and the terminal ones whose StartTimestamp is within the window."
		finishedHelp   = "Durable executions seen reaching a terminal status since the exporter started, each counted once."
		durationHelp   = "EndTimestamp minus StartTimestamp of each execution counted in lambda_durable_executions_finished_total."
	)
	status := func(l ...string) statusDescs {
		return statusDescs{
			executions: desc("", "executions", executionsHelp, with(l...)),
			finished:   desc("", "executions_finished_total", finishedHelp, with(l...)),
			duration:   desc("", "execution_duration_seconds", durationHelp, with(l...)),
		}
	}
	return &Collector{
		src:          src,
		statusDescs:  status("status"),
		versionDescs: status("version", "status"),
		errors: desc("", "execution_errors_total",
			"Executions counted in lambda_durable_executions_finished_total with status FAILED, TIMED_OUT or STOPPED, each counted once by its Error.ErrorType (none: no error; unknown: an empty type; other: past max_error_types; unread: not readable), once read back.", with("status", "error_type")),
		oldestRunning: desc("", "execution_oldest_running_start_timestamp_seconds",
			"StartTimestamp of the oldest RUNNING execution, whatever its age; absent when none runs.", labels),
		runningOlder: desc("", "executions_running_older_than",
			"RUNNING executions that started more than age_seconds ago, per running_age_thresholds.", with("age_seconds")),
		pollSuccess: desc("exporter", "poll_success",
			"1 when the function's last poll succeeded, else 0.", labels),
		pollDuration: desc("exporter", "poll_duration_seconds",
			"How long the function's last poll took.", labels),
		lastSuccess: desc("exporter", "last_success_timestamp_seconds",
			"When the function's last successful poll completed.", labels),
		tracked: desc("exporter", "tracked_executions",
			"Executions the exporter keeps state for: running ones, terminal ones in the window and recent tombstones.", labels),
		pollRequests: desc("exporter", "poll_requests",
			"API requests the function's last successful poll made, by operation (pages and single reads, retries excluded).", with("operation")),
		corrections: desc("exporter", "resync_corrections_total",
			"Differences a full re-listing found between its result and the incrementally kept state, and repaired.", labels),
		overruns: desc("exporter", "poll_overruns_total",
			"Polls that took longer than the poll interval.", labels),
		clockSkew: desc("exporter", "clock_skew_seconds",
			"The Lambda API's clock minus the exporter's, from the Date header of its answers; the exporter bounds its listings by the API's clock, so the numbers stay exact under skew.", labels),
		restored: desc("exporter", "state_restored",
			"With --storage.path: 1 when the function's state was resumed from its checkpoint at start (counters continue, finishes during the downtime are counted), 0 when it started fresh.", labels),
		errorsPending: desc("exporter", "error_reads_pending",
			"With breakdown error_type: counted FAILED, TIMED_OUT and STOPPED executions whose error is still to be read (at most 10000; past that they count as error_type=\"unread\").", labels),
		invalid: desc("exporter", "invalid_executions_total",
			"Executions returned by the API that were not taken as they came, by reason; each execution counted once per reason.", with("reason")),
		timeout: newTimeoutDesc(labels),
	}
}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.executions, c.finished, c.duration, c.errors, c.oldestRunning, c.runningOlder, c.pollSuccess, c.pollDuration,
		c.lastSuccess, c.tracked, c.pollRequests, c.corrections, c.overruns, c.invalid, c.clockSkew, c.restored, c.errorsPending,
		c.timeout,
	} {
		ch <- d
	}
}

// Collect emits the metrics of every target's latest snapshot.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.src.Snapshots() {
		c.collect(ch, s)
	}
}

func (c *Collector) collect(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	l := []string{s.Function, s.Qualifier, s.Region, s.AccountID}
	gauge := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(l, extra...)...)
	}
	counter := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append(l, extra...)...)
	}

	if !s.ByVersion {
		statusSeries(ch, &c.statusDescs, s, l, s.Since, &s.InWindow, &s.Finished, &s.Durations)
	}
	if s.ByErrorType {
		for _, e := range s.Errors {
			ch <- startedCounter(c.errors, float64(e.Count), e.Since, append(slices.Clip(l), e.Status.String(), e.Type))
		}
	}
	if s.Primed && !s.Gone && s.OldestRunningStart > 0 {
		gauge(c.oldestRunning, s.OldestRunningStart)
	}
	if s.Primed && !s.Gone && slices.Contains(s.Statuses, durable.Running) {
		for i, a := range s.AgeThresholds {
			if i < len(s.RunningOlderThan) {
				gauge(c.runningOlder, float64(s.RunningOlderThan[i]), strconv.FormatFloat(a.Seconds(), 'f', -1, 64))
			}
		}
	}

	gauge(c.pollSuccess, boolFloat(s.PollSuccess))
	gauge(c.pollDuration, s.PollDuration)
	if s.LastSuccess > 0 {
		gauge(c.lastSuccess, s.LastSuccess)
	}
	gauge(c.tracked, float64(s.Tracked))
	for op := durable.Op(0); op < durable.NumOps; op++ {
		gauge(c.pollRequests, float64(s.PollRequests[op]), op.String())
	}
	if s.ClockSkewKnown {
		gauge(c.clockSkew, s.ClockSkew)
	}
	if s.Stored {
		gauge(c.restored, boolFloat(s.Restored))
	}
	c.collectTimeout(ch, s, l)
	if s.ByErrorType {
		gauge(c.errorsPending, float64(s.PendingErrors))
	}
	counter(c.corrections, float64(s.Corrections))
	counter(c.overruns, float64(s.Overruns))
	for r := durable.Reason(0); r < durable.NumReasons; r++ {
		counter(c.invalid, float64(s.Invalid[r]), r.String())
	}
}

// statusDescs are the per-status families, with or without the version
// label.
type statusDescs struct{ executions, finished, duration *prometheus.Desc }

// statusSeries emits the per-status series of one target (l its labels,
// with the version when broken down by version); since (Unix ms, 0 =
// unknown) is the start timestamp of its counters and histograms.
func statusSeries(ch chan<- prometheus.Metric, d *statusDescs, s *snapshot.Snapshot, l []string, since int64,
	inWindow, finished *[durable.NumStatuses]uint64, durations *[durable.NumStatuses]durable.Histogram) {
	with := func(st durable.Status) []string { return append(slices.Clip(l), st.String()) }
	for _, st := range s.Statuses {
		if s.Primed && !s.Gone {
			ch <- prometheus.MustNewConstMetric(d.executions, prometheus.GaugeValue, float64(inWindow[st]), with(st)...)
		}
		if !st.Terminal() {
			continue
		}
		ch <- startedCounter(d.finished, float64(finished[st]), since, with(st))
		h := &durations[st]
		bounds := s.Buckets
		if bounds == nil {
			bounds = durable.DurationBuckets[:]
		}
		ch <- newDurationHistogram(d.duration, h, bounds, since, with(st))
	}
	// Executions that ended under a status this build does not know: not
	// part of the closed set, so the series appears only once there is one
	// (invalid_executions_total{reason="unknown_status"} is always there).
	if n := finished[durable.Unknown]; n > 0 {
		ch <- startedCounter(d.finished, float64(n), since, with(durable.Unknown))
	}
}

// Breakdowns returns the collector of the series broken down by version,
// for the targets whose breakdown has it. It is unchecked (it describes
// nothing): the families are the same as the Collector's, with one more
// label, and a registry takes both only that way.
func (c *Collector) Breakdowns() prometheus.Collector { return versioned{c} }

type versioned struct{ c *Collector }

func (versioned) Describe(chan<- *prometheus.Desc) {}

func (v versioned) Collect(ch chan<- prometheus.Metric) {
	for _, s := range v.c.src.Snapshots() {
		if !s.ByVersion {
			continue
		}
		for i := range s.Versions {
			vc := &s.Versions[i]
			l := []string{s.Function, s.Qualifier, s.Region, s.AccountID, vc.Version}
			statusSeries(ch, &v.c.versionDescs, s, l, vc.Since, &vc.InWindow, &vc.Finished, &vc.Durations)
		}
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// startedCounter is a counter with its start (created) timestamp, since
// (Unix ms), when known: a scraper that reads it (protobuf; the text format
// has no _created lines) sees the counter start at zero there, so that the
// first finishes of a new series count in increase() and rate().
func startedCounter(d *prometheus.Desc, v float64, since int64, labels []string) prometheus.Metric {
	if since <= 0 {
		return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	return prometheus.MustNewConstMetricWithCreatedTimestamp(d, prometheus.CounterValue, v, time.UnixMilli(since), labels...)
}
