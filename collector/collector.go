// Package collector turns the poller's snapshots into Prometheus metrics. It
// does no I/O: every scrape reads the latest immutable snapshot of each
// target, so scraping never calls AWS and two Prometheus servers cost no more
// API quota than one.
package collector

import (
	"slices"
	"strconv"

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

	executions, finished, duration, oldestRunning   *prometheus.Desc
	runningOlder                                    *prometheus.Desc
	pollSuccess, pollDuration, lastSuccess, tracked *prometheus.Desc
	pollRequests, corrections, overruns, invalid    *prometheus.Desc
	clockSkew, restored                             *prometheus.Desc
}

// New returns a Collector reading from src.
func New(src snapshot.Source) *Collector {
	labels := []string{"function", "qualifier", "region", "account_id"}
	with := func(l ...string) []string { return append(append([]string{}, labels...), l...) }
	desc := func(sub, name, help string, l []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, sub, name), help, l, nil)
	}
	return &Collector{
		src: src,
		executions: desc("", "executions",
			"Durable executions by current status as of the last successful poll: every RUNNING one whatever its age, and the terminal ones whose StartTimestamp is within the window.", with("status")),
		finished: desc("", "executions_finished_total",
			"Durable executions seen reaching a terminal status since the exporter started, each counted once.", with("status")),
		duration: desc("", "execution_duration_seconds",
			"EndTimestamp minus StartTimestamp of each execution counted in lambda_durable_executions_finished_total.", with("status")),
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
		invalid: desc("exporter", "invalid_executions_total",
			"Executions returned by the API that were not taken as they came, by reason; each execution counted once per reason.", with("reason")),
	}
}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.executions, c.finished, c.duration, c.oldestRunning, c.runningOlder, c.pollSuccess, c.pollDuration,
		c.lastSuccess, c.tracked, c.pollRequests, c.corrections, c.overruns, c.invalid, c.clockSkew, c.restored,
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

	for _, st := range s.Statuses {
		if s.Primed && !s.Gone {
			gauge(c.executions, float64(s.InWindow[st]), st.String())
		}
		if !st.Terminal() {
			continue
		}
		counter(c.finished, float64(s.Finished[st]), st.String())
		h := &s.Durations[st]
		bounds := s.Buckets
		if bounds == nil {
			bounds = durable.DurationBuckets[:]
		}
		buckets := make(map[float64]uint64, len(bounds))
		for i, ub := range bounds {
			buckets[ub] = h.Counts[i]
		}
		ch <- prometheus.MustNewConstHistogram(c.duration, h.Count, h.Sum(), buckets, append(l, st.String())...)
	}
	// Executions that ended under a status this build does not know: not
	// part of the closed set, so the series appears only once there is one
	// (invalid_executions_total{reason="unknown_status"} is always there).
	if n := s.Finished[durable.Unknown]; n > 0 {
		counter(c.finished, float64(n), durable.Unknown.String())
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
	counter(c.corrections, float64(s.Corrections))
	counter(c.overruns, float64(s.Overruns))
	for r := durable.Reason(0); r < durable.NumReasons; r++ {
		counter(c.invalid, float64(s.Invalid[r]), r.String())
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
