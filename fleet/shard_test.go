package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/collector"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/poller"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/shard"
)

// exporterUnderTest is a whole exporter minus HTTP: fleet, poller manager
// and collector on its own registry.
type exporterUnderTest struct {
	reg *prometheus.Registry
	mgr *poller.Manager
}

func runExporter(t *testing.T, ctx context.Context, wd *world, yaml string, sh shard.Shard) *exporterUnderTest {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	mgr := poller.NewManager(poller.Options{Logger: logger, Connect: func(scrape.PoolOptions) poller.SourceFunc {
		return func(s poller.Spec) poller.Source { return wd.pool.Client(s.Access()) }
	}})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector.New(mgr))
	f := New(Options{Logger: logger, Connect: wd.finders,
		Manager: mgr, Shard: sh, DefaultRegion: "us-east-1"}, NewMetrics("lambda_durable"))
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx, parse(t, yaml)) }()
	t.Cleanup(func() { <-done; mgr.Wait() })
	return &exporterUnderTest{reg: reg, mgr: mgr}
}

// series returns the per-function series of the execution metrics, keyed
// by metric name and labels, with the set of targets exported.
func (e *exporterUnderTest) series(t *testing.T) (map[string]string, map[string]bool) {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out, targets := map[string]string{}, map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "lambda_durable_execution") {
			continue // self-metrics (poll durations) differ between processes
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			target := ""
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
				if l.GetName() != "status" {
					target += l.GetValue() + "|"
				}
			}
			targets[target] = true
			out[name+"{"+strings.Join(ls, ",")+"}"] = valueOf(m)
		}
	}
	return out, targets
}

func valueOf(m *dto.Metric) string {
	switch {
	case m.Gauge != nil:
		return fmt.Sprint(m.GetGauge().GetValue())
	case m.Counter != nil:
		return fmt.Sprint(m.GetCounter().GetValue())
	case m.Histogram != nil:
		h := m.GetHistogram()
		s := fmt.Sprintf("n=%d sum=%g", h.GetSampleCount(), h.GetSampleSum())
		for _, b := range h.GetBucket() {
			s += fmt.Sprintf(" %g:%d", b.GetUpperBound(), b.GetCumulativeCount())
		}
		return s
	}
	return "?"
}

func finishedTotal(e *exporterUnderTest) uint64 {
	var n uint64
	for _, s := range e.mgr.Snapshots() {
		for _, v := range s.Finished {
			n += v
		}
	}
	return n
}

func allPrimed(e *exporterUnderTest) int {
	n := 0
	for _, s := range e.mgr.Snapshots() {
		if s.Primed {
			n++
		}
	}
	return n
}

// TestShardsUnionEqualsUnsharded runs three shards and an unsharded
// exporter against the same simulated world and checks that the shards'
// per-function series, put together, are exactly the unsharded output,
// with no function exported by two shards.
func TestShardsUnionEqualsUnsharded(t *testing.T) {
	wd := newWorld(t)
	now := time.Now()
	var running []struct{ acct, region, arn string }
	for _, acct := range []string{acctA, acctB} {
		for _, region := range []string{"us-east-1", "eu-west-1"} {
			p := wd.w.Partition(acct, region)
			for f := 0; f < 8; f++ {
				fn := fmt.Sprintf("wf-%d", f)
				p.AddFunction(fn, []string{"$LATEST", "1"}, nil)
				for i := 0; i < 30; i++ {
					arn := p.Start(fn, "1", fmt.Sprintf("e-%d", i), now.Add(-time.Duration(i*7+f)*time.Minute))
					switch i % 3 {
					case 0:
						_ = p.End(arn, []string{"SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"}[i%4], now.Add(-time.Duration(i*7)*time.Minute+time.Second))
					case 1:
						running = append(running, struct{ acct, region, arn string }{acct, region, arn})
					}
				}
			}
		}
	}
	yaml := `
region: us-east-1
interval: 1s
functions:
  - name: wf-0
    qualifier: "1"
discovery:
  - regions: [us-east-1, eu-west-1]
    refresh: 1h
  - regions: [us-east-1, eu-west-1]
    role_arn: ` + roleB + `
    external_id: secret-external-id
    refresh: 1h
`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	all := runExporter(t, ctx, wd, yaml, shard.All)
	var shards []*exporterUnderTest
	for i := 0; i < 3; i++ {
		shards = append(shards, runExporter(t, ctx, wd, yaml, shard.Shard{Index: i, Total: 3}))
	}
	const targets = 2*2*8 + 1 // discovered functions plus the static qualified one
	waitUntil(t, func() bool {
		n := 0
		for _, s := range shards {
			n += allPrimed(s)
		}
		return allPrimed(all) == targets && n == targets
	})
	// End executions after everyone has started: each exporter must count
	// each exactly once.
	endAt := time.Now()
	for _, r := range running {
		_ = wd.w.Partition(r.acct, r.region).End(r.arn, "FAILED", endAt)
	}
	waitUntil(t, func() bool {
		n := uint64(0)
		for _, s := range shards {
			n += finishedTotal(s)
		}
		// At least every ended execution once (the static qualified wf-0
		// target watches some of them a second time, as its own series).
		return finishedTotal(all) >= uint64(len(running)) && n == finishedTotal(all)
	})

	// Polls go on while the series are read: compare until they agree
	// (every exporter has polled since the ends), and report the last
	// differences if they never do.
	var want map[string]string
	var problems []string
	compare := func() bool {
		var wantTargets map[string]bool
		want, wantTargets = all.series(t)
		problems = nil
		union := map[string]string{}
		owner := map[string]int{}
		for i, s := range shards {
			got, ts := s.series(t)
			for target := range ts {
				if prev, dup := owner[target]; dup {
					problems = append(problems, fmt.Sprintf("target %s exported by shards %d and %d", target, prev, i))
				}
				owner[target] = i
			}
			for k, v := range got {
				union[k] = v
			}
		}
		if len(owner) != len(wantTargets) {
			problems = append(problems, fmt.Sprintf("shards export %d targets, the unsharded exporter %d", len(owner), len(wantTargets)))
		}
		var diffs []string
		for k, v := range want {
			if union[k] != v {
				diffs = append(diffs, fmt.Sprintf("%s: unsharded %s, shards %q", k, v, union[k]))
			}
		}
		for k := range union {
			if _, ok := want[k]; !ok {
				diffs = append(diffs, k+": only in the shards")
			}
		}
		sort.Strings(diffs)
		problems = append(problems, diffs...)
		return len(problems) == 0
	}
	deadline := time.Now().Add(90 * time.Second)
	for !compare() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if len(want) < 400 {
		t.Errorf("only %d series compared; the test world should produce more", len(want))
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	// A guard against a hang, not a timing assertion: 33 targets in each
	// of four exporters at a 1s interval take a while under -race on a
	// busy machine.
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 90s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
