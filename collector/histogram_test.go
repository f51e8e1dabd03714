package collector

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// TestDurationHistogramIsNativeToo: over protobuf (what a registry gathers)
// each duration series carries its classic buckets and its native buckets:
// the schema, the zero bucket, and spans and deltas that decode to the
// tracker's counts. A histogram without observations is native all the
// same (one empty span).
func TestDurationHistogramIsNativeToo(t *testing.T) {
	s := &snapshot.Snapshot{Target: snapshot.Target{Function: "f", Region: "r"},
		Statuses: []durable.Status{durable.Succeeded, durable.Failed}, Primed: true}
	h := &s.Durations[durable.Succeeded]
	for _, ms := range []int64{0, 1500, 1600, 90_000, 90_500, 7_200_000, 7_200_000, 30 * 86_400_000} {
		h.ObserveMillis(ms)
	}
	s.Finished[durable.Succeeded] = h.Count
	s.Since = 1_764_000_000_123
	s.ByErrorType = true
	s.Errors = []snapshot.ErrorCount{{Status: durable.Failed, Type: "X", Count: 1, Since: 1_764_000_600_000}}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(fixed{s}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, mf := range mfs {
		// Start timestamps: the baseline for finishes and durations, the
		// first count for an error type.
		want := map[string]int64{"lambda_durable_executions_finished_total": s.Since,
			"lambda_durable_execution_duration_seconds": s.Since, "lambda_durable_execution_errors_total": s.Errors[0].Since}
		if ms, ok := want[mf.GetName()]; ok {
			for _, m := range mf.GetMetric() {
				ct := m.GetCounter().GetCreatedTimestamp()
				if m.GetHistogram() != nil {
					ct = m.GetHistogram().GetCreatedTimestamp()
				}
				if ct == nil || ct.AsTime().UnixMilli() != ms {
					t.Errorf("%s: start timestamp %v, want %d ms", mf.GetName(), ct, ms)
				}
			}
		}
		if mf.GetName() != "lambda_durable_execution_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			seen++
			dh := m.GetHistogram()
			status := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "status" {
					status = l.GetValue()
				}
			}
			if len(dh.GetBucket()) != durable.MaxBuckets {
				t.Errorf("%s: %d classic buckets", status, len(dh.GetBucket()))
			}
			if status == "FAILED" {
				if dh.GetSampleCount() != 0 || len(dh.GetPositiveSpan()) != 1 || dh.GetPositiveSpan()[0].GetLength() != 0 {
					t.Errorf("an empty histogram: %v", dh)
				}
				continue
			}
			got := map[int]uint64{}
			idx, count, d := 0, int64(0), 0
			for i, sp := range dh.GetPositiveSpan() {
				if i == 0 {
					idx = int(sp.GetOffset())
				} else {
					idx += int(sp.GetOffset())
				}
				for range sp.GetLength() {
					count += dh.GetPositiveDelta()[d]
					d++
					got[idx] = uint64(count)
					idx++
				}
			}
			want := map[int]uint64{}
			total := dh.GetZeroCount()
			for i := range int(h.NativeLen) {
				if c := h.NativeCounts[i]; c > 0 {
					want[int(h.NativeOffset)+i] = c
				}
			}
			for _, c := range got {
				total += c
			}
			if dh.GetSchema() != int32(h.NativeSchema()) || dh.GetZeroCount() != 1 || total != h.Count || len(got) != len(want) {
				t.Fatalf("native: schema %d zero %d buckets %v (total %d), want schema %d zero 1 buckets %v (total %d)",
					dh.GetSchema(), dh.GetZeroCount(), got, total, h.NativeSchema(), want, h.Count)
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("native bucket %d = %d, want %d", k, got[k], v)
				}
			}
		}
	}
	if seen != 2 {
		t.Fatalf("%d duration series, want 2", seen)
	}
}
