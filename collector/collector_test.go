package collector

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files")

type fixed []*snapshot.Snapshot

func (f fixed) Snapshots() []*snapshot.Snapshot { return f }

func snapshots() fixed {
	primed := &snapshot.Snapshot{
		Target:             snapshot.Target{Function: "order-workflow", Qualifier: "", Region: "us-east-1", AccountID: "123456789012"},
		Statuses:           durable.Known,
		Primed:             true,
		OldestRunningStart: 1764000000.5,
		PollSuccess:        true,
		PollDuration:       0.25,
		LastSuccess:        1764003600,
		Tracked:            12,
		PollRequests:       [2]uint64{2, 1},
		Corrections:        1,
		Overruns:           0,
		Stored:             true,
		Restored:           true,
	}
	primed.InWindow[durable.Running] = 3
	primed.InWindow[durable.Succeeded] = 5
	primed.InWindow[durable.Failed] = 2
	primed.Finished[durable.Succeeded] = 4
	primed.Finished[durable.Failed] = 1
	primed.Durations[durable.Succeeded].ObserveMillis(2500)
	primed.Durations[durable.Succeeded].ObserveMillis(90_000)
	primed.Durations[durable.Succeeded].ObserveMillis(3 * 86_400_000)
	primed.Durations[durable.Succeeded].ObserveMillis(40 * 86_400_000) // above the last bucket
	primed.Durations[durable.Failed].ObserveMillis(61_000)
	primed.Invalid[durable.UnknownStatus] = 1

	// Filtered to two statuses; first poll failing: no execution gauges yet.
	failing := &snapshot.Snapshot{
		Target:   snapshot.Target{Function: "billing", Qualifier: "3", Region: "eu-west-1"},
		Statuses: []durable.Status{durable.Failed, durable.TimedOut},
	}
	return fixed{primed, failing}
}

// TestCollectorExposition compares the whole exposition with a golden file.
func TestCollectorExposition(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(snapshots()))
	golden := filepath.Join("testdata", "exposition.prom")
	if *update {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.CollectAndCompare(New(snapshots()), strings.NewReader(string(want))); err != nil {
		t.Fatal(err)
	}
	// Pedantic registry: descriptors and metrics agree, no duplicates.
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}

// TestCollectorClosedSets checks the rules the golden file embodies, so a
// regenerated golden file cannot quietly drop them.
func TestCollectorClosedSets(t *testing.T) {
	s := snapshots()
	count := func(name string) int { return testutil.CollectAndCount(New(s), name) }
	// Primed target: 5 statuses; failing, unprimed target: none yet.
	if n := count("lambda_durable_executions"); n != 5 {
		t.Errorf("lambda_durable_executions has %d series, want 5", n)
	}
	// 4 terminal statuses + the filtered target's 2, zeros included.
	if n := count("lambda_durable_executions_finished_total"); n != 6 {
		t.Errorf("finished_total has %d series, want 6", n)
	}
	if n := count("lambda_durable_execution_duration_seconds"); n != 6 {
		t.Errorf("duration histogram has %d series, want 6", n)
	}
	if n := count("lambda_durable_execution_oldest_running_start_timestamp_seconds"); n != 1 {
		t.Errorf("oldest running has %d series, want 1 (absent for the unprimed target)", n)
	}
	if n := count("lambda_durable_exporter_invalid_executions_total"); n != 2*int(durable.NumReasons) {
		t.Errorf("invalid_executions_total has %d series, want every reason for both targets", n)
	}
	if n := count("lambda_durable_exporter_last_success_timestamp_seconds"); n != 1 {
		t.Errorf("last_success has %d series, want 1 (never succeeded: absent)", n)
	}
}

func TestCollectorLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(New(snapshots()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

// TestCollectorConfiguredBuckets: a snapshot's own bounds are the le labels.
func TestCollectorConfiguredBuckets(t *testing.T) {
	s := &snapshot.Snapshot{Target: snapshot.Target{Function: "f", Region: "r"}, Statuses: []durable.Status{durable.Failed}, Buckets: []float64{60, 3600}}
	s.Durations[durable.Failed].ObserveMillisIn(30_000, s.Buckets)
	s.Durations[durable.Failed].ObserveMillisIn(7_200_000, s.Buckets)
	want := `# HELP lambda_durable_execution_duration_seconds EndTimestamp minus StartTimestamp of each execution counted in lambda_durable_executions_finished_total.
# TYPE lambda_durable_execution_duration_seconds histogram
lambda_durable_execution_duration_seconds_bucket{account_id="",function="f",qualifier="",region="r",status="FAILED",le="60"} 1
lambda_durable_execution_duration_seconds_bucket{account_id="",function="f",qualifier="",region="r",status="FAILED",le="3600"} 1
lambda_durable_execution_duration_seconds_bucket{account_id="",function="f",qualifier="",region="r",status="FAILED",le="+Inf"} 2
lambda_durable_execution_duration_seconds_sum{account_id="",function="f",qualifier="",region="r",status="FAILED"} 7230
lambda_durable_execution_duration_seconds_count{account_id="",function="f",qualifier="",region="r",status="FAILED"} 2
`
	if err := testutil.CollectAndCompare(New(fixed{s}), strings.NewReader(want), "lambda_durable_execution_duration_seconds"); err != nil {
		t.Fatal(err)
	}
}

// TestCollectorGoneFunction: a function the API says is gone keeps its
// counters but shows no status gauges and no oldest running start.
func TestCollectorGoneFunction(t *testing.T) {
	s := &snapshot.Snapshot{Target: snapshot.Target{Function: "f", Region: "r"}, Statuses: []durable.Status{durable.Running, durable.Failed},
		Primed: true, Gone: true, OldestRunningStart: 1000}
	s.InWindow[durable.Running], s.Finished[durable.Failed] = 3, 7
	want := `# HELP lambda_durable_executions_finished_total Durable executions seen reaching a terminal status since the exporter started, each counted once.
# TYPE lambda_durable_executions_finished_total counter
lambda_durable_executions_finished_total{account_id="",function="f",qualifier="",region="r",status="FAILED"} 7
`
	names := []string{"lambda_durable_executions", "lambda_durable_executions_finished_total", "lambda_durable_execution_oldest_running_start_timestamp_seconds"}
	if err := testutil.CollectAndCompare(New(fixed{s}), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
}

// TestCollectorRunningAge: one series per age threshold, labelled in
// seconds.
func TestCollectorRunningAge(t *testing.T) {
	s := &snapshot.Snapshot{Target: snapshot.Target{Function: "f", Region: "r"}, Statuses: durable.Known, Primed: true,
		AgeThresholds: []time.Duration{time.Hour, 24 * time.Hour}, RunningOlderThan: []uint64{3, 1}}
	want := `# HELP lambda_durable_executions_running_older_than RUNNING executions that started more than age_seconds ago, per running_age_thresholds.
# TYPE lambda_durable_executions_running_older_than gauge
lambda_durable_executions_running_older_than{account_id="",age_seconds="3600",function="f",qualifier="",region="r"} 3
lambda_durable_executions_running_older_than{account_id="",age_seconds="86400",function="f",qualifier="",region="r"} 1
`
	if err := testutil.CollectAndCompare(New(fixed{s}), strings.NewReader(want), "lambda_durable_executions_running_older_than"); err != nil {
		t.Fatal(err)
	}
}

// TestCollectorBreakdowns: a target broken down by version shows its
// per-status families once per version, with the version label, beside a
// target that is not (the same families without it); error types are
// counted per status; a registry takes both, and the exposition lints.
func TestCollectorBreakdowns(t *testing.T) {
	plain := &snapshot.Snapshot{Target: snapshot.Target{Function: "p", Region: "r"}, Statuses: []durable.Status{durable.Failed}, Primed: true, Buckets: []float64{60}}
	plain.Finished[durable.Failed] = 1
	v := &snapshot.Snapshot{Target: snapshot.Target{Function: "f", Qualifier: "live", Region: "r"}, Statuses: []durable.Status{durable.Running, durable.Failed},
		Primed: true, ByVersion: true, ByErrorType: true, Buckets: []float64{60}}
	v.InWindow[durable.Running], v.Finished[durable.Failed] = 3, 3 // the totals are not emitted when broken down
	v.Versions = []snapshot.VersionCounts{{Version: "3"}, {Version: "4"}}
	v.Versions[0].InWindow[durable.Running], v.Versions[1].InWindow[durable.Running] = 2, 1
	v.Versions[0].Finished[durable.Failed], v.Versions[1].Finished[durable.Failed] = 1, 2
	v.Versions[1].Durations[durable.Failed].ObserveMillisIn(1000, v.Buckets)
	v.Versions[1].Durations[durable.Failed].ObserveMillisIn(100_000, v.Buckets)
	v.Versions[0].Durations[durable.Failed].ObserveMillisIn(5000, v.Buckets)
	v.Errors = []snapshot.ErrorCount{{Status: durable.Failed, Type: "PaymentDeclined", Count: 2}, {Status: durable.Failed, Type: "unread", Count: 1}}
	v.PendingErrors = 4
	c := New(fixed{plain, v})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c, c.Breakdowns())
	want := `# HELP lambda_durable_exporter_error_reads_pending With breakdown error_type: counted FAILED, TIMED_OUT and STOPPED executions whose error is still to be read (at most 10000; past that they count as error_type="unread").
# TYPE lambda_durable_exporter_error_reads_pending gauge
lambda_durable_exporter_error_reads_pending{account_id="",function="f",qualifier="live",region="r"} 4
# HELP lambda_durable_execution_errors_total Executions counted in lambda_durable_executions_finished_total with status FAILED, TIMED_OUT or STOPPED, each counted once by its Error.ErrorType (none: no error; unknown: an empty type; other: past max_error_types; unread: not readable), once read back.
# TYPE lambda_durable_execution_errors_total counter
lambda_durable_execution_errors_total{account_id="",error_type="PaymentDeclined",function="f",qualifier="live",region="r",status="FAILED"} 2
lambda_durable_execution_errors_total{account_id="",error_type="unread",function="f",qualifier="live",region="r",status="FAILED"} 1
# HELP lambda_durable_executions Durable executions by current status as of the last successful poll: every RUNNING one whatever its age, and the terminal ones whose StartTimestamp is within the window.
# TYPE lambda_durable_executions gauge
lambda_durable_executions{account_id="",function="f",qualifier="live",region="r",status="FAILED",version="3"} 0
lambda_durable_executions{account_id="",function="f",qualifier="live",region="r",status="FAILED",version="4"} 0
lambda_durable_executions{account_id="",function="f",qualifier="live",region="r",status="RUNNING",version="3"} 2
lambda_durable_executions{account_id="",function="f",qualifier="live",region="r",status="RUNNING",version="4"} 1
lambda_durable_executions{account_id="",function="p",qualifier="",region="r",status="FAILED"} 0
# HELP lambda_durable_executions_finished_total Durable executions seen reaching a terminal status since the exporter started, each counted once.
# TYPE lambda_durable_executions_finished_total counter
lambda_durable_executions_finished_total{account_id="",function="f",qualifier="live",region="r",status="FAILED",version="3"} 1
lambda_durable_executions_finished_total{account_id="",function="f",qualifier="live",region="r",status="FAILED",version="4"} 2
lambda_durable_executions_finished_total{account_id="",function="p",qualifier="",region="r",status="FAILED"} 1
# HELP lambda_durable_execution_duration_seconds EndTimestamp minus StartTimestamp of each execution counted in lambda_durable_executions_finished_total.
# TYPE lambda_durable_execution_duration_seconds histogram
lambda_durable_execution_duration_seconds_bucket{account_id="",function="f",qualifier="live",region="r",status="FAILED",version="3",le="60"} 1
lambda_durable_execution_duration_seconds_bucket{account_id="",function="f",qualifier="live",region="r",status="FAILED",version="3",le="+Inf"} 1
lambda_durable_execution_duration_seconds_sum{account_id="",function="f",qualifier="live",region="r",status="FAILED",version="3"} 5
lambda_durable_execution_duration_seconds_count{account_id="",function="f",qualifier="live",region="r",status="FAILED",version="3"} 1
lambda_durable_execution_duration_seconds_bucket{account_id="",function="f",qualifier="live",region="r",status="FAILED",version="4",le="60"} 1
lambda_durable_execution_duration_seconds_bucket{account_id="",function="f",qualifier="live",region="r",status="FAILED",version="4",le="+Inf"} 2
lambda_durable_execution_duration_seconds_sum{account_id="",function="f",qualifier="live",region="r",status="FAILED",version="4"} 101
lambda_durable_execution_duration_seconds_count{account_id="",function="f",qualifier="live",region="r",status="FAILED",version="4"} 2
lambda_durable_execution_duration_seconds_bucket{account_id="",function="p",qualifier="",region="r",status="FAILED",le="60"} 0
lambda_durable_execution_duration_seconds_bucket{account_id="",function="p",qualifier="",region="r",status="FAILED",le="+Inf"} 0
lambda_durable_execution_duration_seconds_sum{account_id="",function="p",qualifier="",region="r",status="FAILED"} 0
lambda_durable_execution_duration_seconds_count{account_id="",function="p",qualifier="",region="r",status="FAILED"} 0
`
	names := []string{"lambda_durable_executions", "lambda_durable_executions_finished_total", "lambda_durable_execution_errors_total",
		"lambda_durable_exporter_error_reads_pending",
		"lambda_durable_execution_duration_seconds"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}
