package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"

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

// histogramValues holds, in one allocation, the values a durationHistogram's
// protobuf fields point at.
type histogramValues struct {
	count, zero  uint64
	sum, zeroThr float64
	schema       int32
	counts       [durable.MaxBuckets]uint64
	bounds       [durable.MaxBuckets]float64
	buckets      [durable.MaxBuckets]dto.Bucket
	bucketPtrs   [durable.MaxBuckets]*dto.Bucket
	h            dto.Histogram
}

// newDurationHistogram builds the series of h, whose classic upper bounds
// are bounds.
func newDurationHistogram(desc *prometheus.Desc, h *durable.Histogram, bounds []float64, since int64, labelValues []string) prometheus.Metric {
	v := &histogramValues{count: h.Count, zero: h.NativeZero, sum: h.Sum(), schema: int32(h.NativeSchema())}
	d := &v.h
	d.SampleCount, d.SampleSum, d.Schema, d.ZeroCount = &v.count, &v.sum, &v.schema, &v.zero
	d.ZeroThreshold = &v.zeroThr // 0: the zero bucket holds durations of 0 ms
	n := min(len(bounds), durable.MaxBuckets)
	for i := range n {
		v.counts[i], v.bounds[i] = h.Counts[i], bounds[i]
		v.buckets[i].CumulativeCount, v.buckets[i].UpperBound = &v.counts[i], &v.bounds[i]
		v.bucketPtrs[i] = &v.buckets[i]
	}
	d.Bucket = v.bucketPtrs[:n]
	// Spans of consecutive non-empty buckets, deltas between counts.
	var spans []*dto.BucketSpan
	var offsets []int32
	var lengths []uint32
	var prev int64
	next := int(h.NativeOffset) // the index after the last span
	for i := 0; i < int(h.NativeLen); i++ {
		if h.NativeCounts[i] == 0 {
			continue
		}
		idx := int(h.NativeOffset) + i
		if len(lengths) == 0 || idx != next {
			offset := idx - next
			if len(lengths) == 0 {
				offset = idx
			}
			offsets, lengths = append(offsets, int32(offset)), append(lengths, 0)
		}
		lengths[len(lengths)-1]++
		if d.PositiveDelta == nil {
			d.PositiveDelta = make([]int64, 0, int(h.NativeLen)-i)
		}
		c := int64(h.NativeCounts[i])
		d.PositiveDelta = append(d.PositiveDelta, c-prev)
		prev, next = c, idx+1
	}
	if len(lengths) == 0 && h.NativeZero == 0 {
		// No observation yet: an empty span says the histogram is native
		// all the same, as client_golang does.
		offsets, lengths = []int32{0}, []uint32{0}
	}
	if len(lengths) > 0 {
		values := make([]dto.BucketSpan, len(lengths))
		spans = make([]*dto.BucketSpan, len(lengths))
		for i := range values {
			values[i].Offset, values[i].Length = &offsets[i], &lengths[i]
			spans[i] = &values[i]
		}
	}
	d.PositiveSpan = spans
	if since > 0 {
		d.CreatedTimestamp = timestamppb.New(time.UnixMilli(since))
	}
	return durationHistogram{desc: desc, labels: prometheus.MakeLabelPairs(desc, labelValues), h: d}
}
