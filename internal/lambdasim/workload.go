package lambdasim

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Workload describes the synthetic traffic of [Server.RunWorkload].
type Workload struct {
	// Functions to run executions of; default order-workflow, billing,
	// nightly-report. Earlier functions get more traffic.
	Functions []string
	// Rate is execution starts per second across all functions; default 2.
	Rate float64
	// Backlog pre-populates history started within this past window
	// (default 24h; negative = none): Rate over the window, capped at
	// MaxBacklog executions.
	Backlog time.Duration
	// MaxBacklog caps the backlog size; default 3000.
	MaxBacklog int
	// Seed makes the run reproducible for a given clock.
	Seed int64
	// LongRunners starts, per function, executions that started that long
	// before the workload's start and keep running: workflows stuck for
	// days or weeks, older than any window (version 2, which the alias
	// live points at).
	LongRunners map[string][]time.Duration
	// ExecutionTimeouts sets, per function, the DurableConfig.ExecutionTimeout
	// its configuration reports ([Server.SetExecutionTimeout]); the others
	// keep the default of one day.
	ExecutionTimeouts map[string]time.Duration
	// ErrorTypes gives, per function, the ErrorType values its FAILED
	// executions draw from (uniformly, from the workload's random source);
	// see also Options.ErrorTypes.
	ErrorTypes map[string][]string
	// MaxDuration, when set, caps the run time of the generated executions
	// (the long runners of LongRunners excepted), and the history then
	// holds every execution started within the last MaxDuration at the
	// full Rate: the number of RUNNING executions starts at its steady
	// state and stays there, instead of climbing for days towards it.
	MaxDuration time.Duration
	// Canaries gives functions a canary: a version that the alias live
	// routes a share of executions to, beside version 2, and that fails
	// more often (a bad deploy being rolled out).
	Canaries map[string]Canary
	// Tick is the real-time interval at which the simulated clock
	// (Options.Now) is sampled to start and end executions; default 100ms.
	// With a fake clock, executions are generated when the clock moves.
	Tick time.Duration
}

// Canary is a version that receives Share (0..1) of a function's
// executions and ends FailureRate of them FAILED.
type Canary struct {
	Version     string
	Share       float64
	FailureRate float64
}

// maxCatchUp bounds the simulated time generated in one tick when the clock
// jumps, so that a jump of days does not create millions of executions.
const maxCatchUp = time.Hour

// pendingEnd is a scheduled transition of a running execution.
type pendingEnd struct {
	at     time.Time
	arn    string
	status string
}

type endQueue []pendingEnd

func (q endQueue) Len() int           { return len(q) }
func (q endQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q endQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *endQueue) Push(x any)        { *q = append(*q, x.(pendingEnd)) }
func (q *endQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type workloadGen struct {
	s       *Server
	w       Workload
	rng     *rand.Rand
	pending endQueue
	n       int
}

// RunWorkload generates executions until ctx is done: first a backlog of
// history (some of it still running, a few for days), then starts at
// w.Rate per second following the clock of Options.Now. Each execution runs
// from seconds to days (heavy-tailed: most finish within a minute) and ends
// SUCCEEDED (about 85%), FAILED, TIMED_OUT or STOPPED, so several start and
// end every few seconds. Executions become visible up to 2s after they
// start. Functions are registered if absent with versions $LATEST, 1 and 2
// and alias live -> 2; most executions run version 2.
func (s *Server) RunWorkload(ctx context.Context, w Workload) {
	if len(w.Functions) == 0 {
		w.Functions = []string{"order-workflow", "billing", "nightly-report"}
	}
	if w.Rate <= 0 {
		w.Rate = 2
	}
	if w.Backlog == 0 {
		w.Backlog = 24 * time.Hour
	}
	if w.MaxBacklog <= 0 {
		w.MaxBacklog = 3000
	}
	if w.Tick <= 0 {
		w.Tick = 100 * time.Millisecond
	}
	for _, f := range w.Functions {
		s.mu.RLock()
		_, ok := s.funcs[f]
		s.mu.RUnlock()
		if !ok {
			s.AddFunction(f, []string{"$LATEST", "1", "2"}, map[string]string{"live": "2"})
		}
		if c, ok := w.Canaries[f]; ok {
			s.AddWeightedAlias(f, "live", "2", c.Version)
		}
	}
	for f, d := range w.ExecutionTimeouts {
		s.SetExecutionTimeout(f, d)
	}
	g := &workloadGen{s: s, w: w, rng: rand.New(rand.NewPCG(uint64(w.Seed), uint64(w.Seed)^0xda3e39cb94b95bdb))}

	now := s.now()
	for _, f := range w.Functions {
		for i, ago := range w.LongRunners[f] {
			at := now.Add(-ago)
			s.StartVisibleAt(f, "2", fmt.Sprintf("%s-long-running-%d", f, i+1), at, at)
		}
	}
	if w.Backlog > 0 {
		n := min(int(w.Rate*w.Backlog.Seconds()), w.MaxBacklog)
		starts := make([]time.Duration, n)
		for i := range starts {
			if m := w.MaxDuration; m > 0 && m < w.Backlog {
				starts[i] = m + time.Duration(g.rng.Int64N(int64(w.Backlog-m))) // older than the dense part below
			} else {
				starts[i] = time.Duration(g.rng.Int64N(int64(w.Backlog))) + 1
			}
		}
		if w.MaxDuration > 0 {
			// The recent past at the full rate: what still runs now.
			for ago := g.gap(); ago < w.MaxDuration; ago += g.gap() {
				starts = append(starts, ago)
			}
		}
		slices.Sort(starts)
		for _, ago := range slices.Backward(starts) {
			g.start(now.Add(-ago), now)
		}
		if ctx.Err() != nil {
			return
		}
	}
	next := now.Add(g.gap())
	g.endDue(now)

	tick := time.NewTicker(w.Tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now = s.now()
		if now.Sub(next) > maxCatchUp {
			next = now.Add(-maxCatchUp)
		}
		for !next.After(now) {
			g.start(next, now)
			next = next.Add(g.gap())
		}
		g.endDue(now)
	}
}

func (g *workloadGen) gap() time.Duration {
	return time.Duration(g.rng.ExpFloat64() / g.w.Rate * float64(time.Second))
}

// start starts one execution at `at` and schedules (or, if already due by
// now, performs) its end.
func (g *workloadGen) start(at, now time.Time) {
	fns := g.w.Functions
	// Weighted choice: function i gets weight 1/(i+1).
	var total float64
	for i := range fns {
		total += 1 / float64(i+1)
	}
	x := g.rng.Float64() * total
	fn := fns[len(fns)-1]
	for i, f := range fns {
		if x -= 1 / float64(i+1); x < 0 {
			fn = f
			break
		}
	}
	version := "2"
	switch u := g.rng.Float64(); {
	case u < 0.15:
		version = "1"
	case u < 0.25:
		version = "$LATEST"
	}
	failure := 0.08
	if c, ok := g.w.Canaries[fn]; ok && g.rng.Float64() < c.Share {
		version, failure = c.Version, c.FailureRate
	}
	g.n++
	name := fmt.Sprintf("%s-%06d", fn, g.n)
	visible := at.Add(time.Duration(g.rng.Float64() * float64(2*time.Second)))
	arn := g.s.StartVisibleAt(fn, version, name, at, visible)

	status := StatusSucceeded
	switch u := g.rng.Float64(); {
	case u < failure:
		status = StatusFailed
	case u < failure+0.04:
		status = StatusTimedOut
	case u < failure+0.07:
		status = StatusStopped
	}
	if types := g.w.ErrorTypes[fn]; status == StatusFailed && len(types) > 0 {
		_ = g.s.SetErrorType(arn, types[g.rng.IntN(len(types))])
	}
	d := g.duration()
	if m := g.w.MaxDuration; m > 0 && d > m {
		d = m/2 + time.Duration(g.rng.Int64N(int64(m/2)+1))
	}
	end := at.Add(d)
	if !end.After(now) {
		_ = g.s.End(arn, status, end)
		return
	}
	heap.Push(&g.pending, pendingEnd{at: end, arn: arn, status: status})
}

// duration draws a heavy-tailed run time: mostly seconds, some minutes and
// hours, about 1% days.
func (g *workloadGen) duration() time.Duration {
	between := func(lo, hi time.Duration) time.Duration {
		// Log-uniform between lo and hi.
		return time.Duration(float64(lo) * math.Pow(float64(hi)/float64(lo), g.rng.Float64()))
	}
	switch u := g.rng.Float64(); {
	case u < 0.60:
		return between(500*time.Millisecond, 30*time.Second)
	case u < 0.85:
		return between(30*time.Second, 15*time.Minute)
	case u < 0.96:
		return between(15*time.Minute, 3*time.Hour)
	case u < 0.99:
		return between(3*time.Hour, 24*time.Hour)
	default:
		return between(24*time.Hour, 4*24*time.Hour)
	}
}

func (g *workloadGen) endDue(now time.Time) {
	for len(g.pending) > 0 && !g.pending[0].at.After(now) {
		p := heap.Pop(&g.pending).(pendingEnd)
		// Fails only if someone else ended it meanwhile.
		_ = g.s.End(p.arn, p.status, p.at)
	}
}
