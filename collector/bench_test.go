package collector

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// BenchmarkRender gathers and encodes /metrics for 1,000 functions, each with
// its four duration histograms full (classic and native buckets), in the
// text format and in the protobuf format that Prometheus negotiates for
// native histograms. Reported: the encoded size and, as ns/op and
// allocs/op, one render.
//
//	go test ./collector -run '^$' -bench Render -benchmem -benchtime 20x
func BenchmarkRender(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	var snaps fixed
	for i := range 1000 {
		s := &snapshot.Snapshot{Target: snapshot.Target{Function: fmt.Sprintf("workflow-%04d", i), Qualifier: "live",
			Region: "us-east-1", AccountID: "123456789012"}, Statuses: durable.Known, Primed: true, PollSuccess: true,
			Since: 1_764_000_000_000}
		for _, st := range durable.Terminals {
			for range 200 {
				s.Durations[st].ObserveMillis(rng.Int64N(86_400_000))
			}
			s.Finished[st] = s.Durations[st].Count
		}
		snaps = append(snaps, s)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(New(snaps))
	for _, format := range []expfmt.Format{expfmt.NewFormat(expfmt.TypeTextPlain), expfmt.NewFormat(expfmt.TypeProtoDelim)} {
		b.Run(string(format), func(b *testing.B) {
			var buf bytes.Buffer
			b.ReportAllocs()
			for range b.N {
				buf.Reset()
				mfs, err := reg.Gather()
				if err != nil {
					b.Fatal(err)
				}
				enc := expfmt.NewEncoder(&buf, format)
				for _, mf := range mfs {
					if err := enc.Encode(mf); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(buf.Len())/(1<<20), "MiB")
		})
	}
}
