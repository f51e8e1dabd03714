package poller

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
)

// TestResyncsAreSpread: 300 targets of one account-region start in the
// same second and poll in lockstep every minute, with the default hourly
// resync and a window of 52 pages (the cost model of a busy function: 2
// list requests an incremental poll, 52 a full one). Each target resyncs
// once an hour, the first within the hour after its start; and no minute
// carries more than 1.5 times the average list requests, where resyncs that
// all fall due together would put every target's full listing in one
// minute (about 19 times the average). Tracker keys, which set each
// target's phase, are random in production; here they come from fixed
// seeds, each run over six hours.
func TestResyncsAreSpread(t *testing.T) {
	const (
		targets             = 300
		incremental, listed = 2, 52 // list requests of an incremental and a full poll
	)
	interval, resync := time.Minute.Milliseconds(), time.Hour.Milliseconds()
	worst := 0.0
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, seed))
		trs := make([]*tracker, targets)
		for i := range trs {
			trs[i] = newTracker()
			trs[i].key = rng.Uint64()
			trs[i].configure(durable.Known, 24*time.Hour.Milliseconds(), 5*time.Minute.Milliseconds(), interval)
		}
		var perMinute []int
		lastResync := make([]int64, targets)
		for now := t0; now < t0+6*time.Hour.Milliseconds(); now += interval {
			lists := 0
			for i, tr := range trs {
				full := tr.wantFull(now, resync)
				if full && tr.primed {
					if gap := now - lastResync[i]; lastResync[i] > 0 && (gap < resync-interval || gap > resync+interval) {
						t.Fatalf("seed %d: target %d resynced %v after the previous one, want one hour", seed, i, time.Duration(gap)*time.Millisecond)
					}
					if lastResync[i] == 0 && now-t0 > resync {
						t.Fatalf("seed %d: target %d resynced first %v after its start", seed, i, time.Duration(now-t0)*time.Millisecond)
					}
					lastResync[i] = now
				}
				if full {
					lists += listed
					tr.primed, tr.needFull, tr.lastFull = true, false, now // as apply does after a full poll
				} else {
					lists += incremental
				}
			}
			perMinute = append(perMinute, lists)
		}
		// From the second hour on: the start's full listings are a burst
		// that nothing can spread.
		steady := perMinute[60:]
		peak, sum := 0, 0
		for _, n := range steady {
			peak, sum = max(peak, n), sum+n
		}
		ratio := float64(peak) / (float64(sum) / float64(len(steady)))
		worst = max(worst, ratio)
		for i, tr := range trs {
			if lastResync[i] == 0 {
				t.Fatalf("seed %d: target %d never resynced (key %x)", seed, i, tr.key)
			}
		}
	}
	t.Logf("busiest minute: %.2f times the average list requests (worst of 20 seeds)", worst)
	if worst > 1.5 {
		t.Errorf("the busiest minute carries %.2f times the average list requests; want at most 1.5", worst)
	}
}
