package poller

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// BenchmarkSteadyStatePoll measures, in one run, this exporter's incremental
// polls against a full re-listing of the window on every poll: 4 functions
// with 50,000 executions each in a 24h window, page size 1000, through the
// real SDK over HTTP against the simulated API. Between two polls each
// function gets ten new executions (eight already finished) and two long
// runners end. One op is one poll of all four functions. The settings are
// the defaults (interval 60s, overlap 5m, resync_interval 1h, page size
// 1000): the incremental mode pays for its hourly resyncs, each target's at
// its own phase, so the run must cover at least an hour of polls for its
// average to be the real one.
//
//	go test ./poller -run '^$' -bench SteadyStatePoll -benchtime 120x
//
// Reported per function and poll: list and get requests, the API seconds
// such a poll needs at the quotas (15 list/s, 30 get/s), how many such
// functions one exporter keeps fresh at a 60s interval within the list
// quota, and the tracker's bytes per tracked execution. Allocations and the
// peak heap include the in-process simulated API.
func BenchmarkSteadyStatePoll(b *testing.B) {
	for _, mode := range []string{"incremental", "full-relisting"} {
		b.Run(mode, func(b *testing.B) { benchSteadyState(b, mode == "full-relisting") })
	}
}

const (
	benchFunctions  = 4
	benchExecutions = 50_000
	benchRunning    = 300 // long runners per function at the start
)

func benchSteadyState(b *testing.B, full bool) {
	env := newSimEnv(b, lambdasim.Options{}, 1000)
	rng := rand.New(rand.NewPCG(42, 42))
	now := env.clock.Now()
	terms := []string{lambdasim.StatusSucceeded, lambdasim.StatusFailed, lambdasim.StatusTimedOut, lambdasim.StatusStopped}
	long := make([][]string, benchFunctions)
	// The defaults of package config, but the request budgets: the quotas,
	// so that wall time measures the exporter, not the client's limiter.
	s := Settings{Interval: time.Minute, Overlap: 5 * time.Minute, Resync: time.Hour,
		Pool: scrape.PoolOptions{PageSize: 1000, Limits: scrape.Limits{ListPerSecond: 15, GetPerSecond: 30}}}
	if full {
		s.Resync = time.Millisecond // every poll lists the whole window again
	}
	var targets []*simTarget
	for f := 0; f < benchFunctions; f++ {
		fn := fmt.Sprintf("workflow-%d", f)
		env.sim.AddFunction(fn, []string{"$LATEST", "1"}, nil)
		for i := 0; i < benchExecutions; i++ {
			at := now.Add(-time.Duration(rng.Int64N(int64(23*time.Hour + 30*time.Minute))))
			arn := env.sim.Start(fn, "1", "", at)
			if i < benchRunning {
				long[f] = append(long[f], arn)
				continue
			}
			end := at.Add(time.Duration(rng.Int64N(int64(20 * time.Minute))))
			if end.After(now) {
				end = now
			}
			_ = env.sim.End(arn, terms[rng.IntN(4)], end)
		}
		targets = append(targets, env.target(Spec{
			Target: snapshot.Target{Function: fn, Region: "us-east-1"}, APIName: fn, Window: 24 * time.Hour,
		}, "", s))
	}
	for _, tg := range targets { // the first poll lists everything in either mode
		tg.poll(b)
	}

	var peak uint64
	stop := samplePeakHeap(&peak)
	var lists, gets uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		env.clock.Add(time.Minute)
		now := env.clock.Now()
		for f := range targets {
			fn := targets[f].t.spec.Function
			for n := 0; n < 10; n++ {
				at := now.Add(-time.Duration(rng.Int64N(int64(55 * time.Second))))
				arn := env.sim.Start(fn, "1", "", at)
				if n < 8 {
					_ = env.sim.End(arn, terms[rng.IntN(4)], at.Add(time.Duration(rng.Int64N(int64(now.Sub(at))))))
				}
			}
			for n := 0; n < 2 && len(long[f]) > 0; n++ {
				_ = env.sim.End(long[f][0], terms[rng.IntN(4)], now.Add(-time.Second))
				long[f] = long[f][1:]
			}
		}
		b.StartTimer()
		for _, tg := range targets {
			snap := tg.poll(b)
			if !snap.PollSuccess {
				b.Fatal("poll failed")
			}
			lists += snap.PollRequests[durable.OpList]
			gets += snap.PollRequests[durable.OpGet]
		}
	}
	b.StopTimer()
	stop()
	polls := float64(b.N * benchFunctions)
	l, g := float64(lists)/polls, float64(gets)/polls
	b.ReportMetric(l, "list-req/poll")
	b.ReportMetric(g, "get-req/poll")
	b.ReportMetric(l/15+g/30, "api-s/poll")
	b.ReportMetric(math.Floor(math.Min(60*15/l, 60*30/math.Max(g, 1e-9))), "functions@60s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")

	// Bytes per tracked execution: the heap the trackers hold, measured by
	// dropping their state.
	tracked := 0
	for _, tg := range targets {
		tr := tg.t.tracker
		tracked += len(tr.running) + len(tr.done) + len(tr.tomb)
	}
	before := heapAfterGC()
	for _, tg := range targets {
		tr := tg.t.tracker
		tr.running, tr.done, tr.tomb, tr.flagged = nil, nil, nil, nil
	}
	after := heapAfterGC()
	b.ReportMetric(float64(before-after)/float64(tracked), "B/tracked-exec")
	b.ReportMetric(float64(tracked)/benchFunctions, "tracked/function")
	runtime.KeepAlive(env)
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// samplePeakHeap records the largest live-object heap seen every 2ms.
func samplePeakHeap(peak *uint64) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > *peak {
				*peak = v
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
