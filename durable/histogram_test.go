package durable

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestNativeOrderIndependent: the native buckets of a set of durations are
// the same whatever the order of observation, halvings included.
func TestNativeOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 500 {
		n := 1 + rng.IntN(200)
		ms := make([]int64, n)
		for i := range ms {
			switch rng.IntN(4) {
			case 0:
				ms[i] = 0
			case 1:
				ms[i] = rng.Int64N(1000)
			case 2:
				ms[i] = rng.Int64N(3_600_000)
			default:
				ms[i] = rng.Int64N(365 * 86_400_000)
			}
		}
		var a, b Histogram
		for _, v := range ms {
			a.ObserveMillis(v)
		}
		rng.Shuffle(n, func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
		for _, v := range slices.Backward(ms) {
			b.ObserveMillis(v)
		}
		if a != b {
			t.Fatalf("run %d: %d durations observed in two orders give different histograms:\n%+v\n%+v", run, n, a, b)
		}
	}
}

// TestNativeAdd: adding one histogram to another gives what observing all
// their values in one gives.
func TestNativeAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for run := range 500 {
		var a, b, all Histogram
		for range rng.IntN(100) {
			v := rng.Int64N([]int64{1, 1000, 3_600_000, 365 * 86_400_000}[rng.IntN(4)])
			a.ObserveMillis(v)
			all.ObserveMillis(v)
		}
		for range rng.IntN(100) {
			v := rng.Int64N([]int64{1, 10, 86_400_000, 365 * 86_400_000}[rng.IntN(4)])
			b.ObserveMillis(v)
			all.ObserveMillis(v)
		}
		a.Add(&b)
		if a != all {
			t.Fatalf("run %d: a+b differs from observing everything:\n%+v\n%+v", run, a, all)
		}
	}
}
