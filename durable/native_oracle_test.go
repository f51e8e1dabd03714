package durable_test

import (
	"math/rand/v2"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
)

// TestNativeBucketsMatchClientGolang: for durations whose buckets fit in
// the window (no halving), the native buckets are client_golang's own at
// schema 3, bucket for bucket, zero bucket included.
func TestNativeBucketsMatchClientGolang(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for run := range 200 {
		ref := prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "d_seconds", Help: "Durations.", NativeHistogramBucketFactor: 1.1, NativeHistogramZeroThreshold: prometheus.DefNativeHistogramZeroThreshold,
		})
		var h durable.Histogram
		for range 1 + rng.IntN(300) {
			ms := int64(0)
			if rng.IntN(20) > 0 {
				ms = 1000 + rng.Int64N(3_600_000) // 1s to 1h01m: at most 96 buckets
			}
			if run%7 == 0 {
				ms = 1000 * (1 << rng.IntN(11)) // powers of two: the buckets' bounds
			}
			h.ObserveMillis(ms)
			ref.Observe(float64(ms) / 1000)
		}
		var m dto.Metric
		if err := ref.Write(&m); err != nil {
			t.Fatal(err)
		}
		rh := m.GetHistogram()
		want := map[int]uint64{}
		idx, count := 0, int64(0)
		d := 0
		for _, sp := range rh.GetPositiveSpan() {
			idx += int(sp.GetOffset())
			for range sp.GetLength() {
				count += rh.GetPositiveDelta()[d]
				d++
				want[idx] = uint64(count)
				idx++
			}
		}
		got := map[int]uint64{}
		for i := range int(h.NativeLen) {
			if c := h.NativeCounts[i]; c > 0 {
				got[int(h.NativeOffset)+i] = c
			}
		}
		for k, v := range want {
			if v == 0 {
				delete(want, k)
			}
		}
		if h.NativeSchema() != int(rh.GetSchema()) || h.NativeZero != rh.GetZeroCount() || len(got) != len(want) {
			t.Fatalf("run %d: schema %d zero %d buckets %v, client_golang %d %d %v", run, h.NativeSchema(), h.NativeZero, got, rh.GetSchema(), rh.GetZeroCount(), want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("run %d: bucket %d holds %d, client_golang %d", run, k, got[k], v)
			}
		}
	}
}
