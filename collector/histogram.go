package collector

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
)

// durationHistogram is one series of the duration family with both its
// classic buckets and its native (exponential) buckets. The text format
// carries the classic buckets only, as before; a scraper that negotiates
// protobuf (Prometheus with scrape_native_histograms) also gets the native
// ones, one series per histogram instead of one per bucket.
type durationHistogram struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	h      *dto.Histogram
}

func (m durationHistogram) Desc() *prometheus.Desc { return m.desc }

func (m durationHistogram) Write(out *dto.Metric) error {
	out.Label, out.Histogram = m.labels, m.h
	return nil
}

// newDurationHistogram builds the series of h, whose classic upper bounds
// are bounds.
func newDurationHistogram(desc *prometheus.Desc, h *durable.Histogram, bounds []float64, labelValues []string) prometheus.Metric {
	d := &dto.Histogram{
		SampleCount:   proto.Uint64(h.Count),
		SampleSum:     proto.Float64(h.Sum()),
		Schema:        proto.Int32(int32(h.NativeSchema())),
		ZeroThreshold: proto.Float64(0), // the zero bucket holds durations of 0 ms
		ZeroCount:     proto.Uint64(h.NativeZero),
	}
	for i, ub := range bounds[:min(len(bounds), durable.MaxBuckets)] {
		d.Bucket = append(d.Bucket, &dto.Bucket{CumulativeCount: proto.Uint64(h.Counts[i]), UpperBound: proto.Float64(ub)})
	}
	// Spans of consecutive non-empty buckets, deltas between counts.
	var prev int64
	next := int(h.NativeOffset) // the index after the last span
	for i := 0; i < int(h.NativeLen); i++ {
		if h.NativeCounts[i] == 0 {
			continue
		}
		idx := int(h.NativeOffset) + i
		if n := len(d.PositiveSpan); n == 0 || idx != next {
			offset := idx - next
			if n == 0 {
				offset = idx
			}
			d.PositiveSpan = append(d.PositiveSpan, &dto.BucketSpan{Offset: proto.Int32(int32(offset)), Length: proto.Uint32(0)})
		}
		sp := d.PositiveSpan[len(d.PositiveSpan)-1]
		sp.Length = proto.Uint32(sp.GetLength() + 1)
		c := int64(h.NativeCounts[i])
		d.PositiveDelta = append(d.PositiveDelta, c-prev)
		prev, next = c, idx+1
	}
	if len(d.PositiveSpan) == 0 && h.NativeZero == 0 {
		// No observation yet: an empty span says the histogram is native
		// all the same, as client_golang does.
		d.PositiveSpan = []*dto.BucketSpan{{Offset: proto.Int32(0), Length: proto.Uint32(0)}}
	}
	return durationHistogram{desc: desc, labels: prometheus.MakeLabelPairs(desc, labelValues), h: d}
}
