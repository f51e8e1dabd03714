package poller

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// pipeEnv is the simulated API served in memory inside a synctest bubble,
// polled by a real Manager through the real SDK: the loop, its waits, the
// SDK's signing and the wire format all run on the bubble's fake clock.
type pipeEnv struct {
	sim  *lambdasim.Server
	pipe *lambdasim.Pipe
	cfg  aws.Config
}

// newPipeEnv must be called inside the bubble; the pipe closes when the
// bubble's test ends.
func newPipeEnv(t *testing.T, o lambdasim.Options) *pipeEnv {
	sim := lambdasim.New(o)
	p := lambdasim.NewPipe(sim)
	t.Cleanup(func() { _ = p.Close() })
	return &pipeEnv{sim: sim, pipe: p, cfg: aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}}
}

// pool is the pool options that reach the pipe.
func (e *pipeEnv) pool(pageSize int) scrape.PoolOptions {
	return scrape.PoolOptions{Endpoint: lambdasim.PipeURL, Dialer: e.pipe, PageSize: pageSize,
		BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Limits: scrape.Limits{ListPerSecond: 1000, GetPerSecond: 1000}}
}

// manager returns a Manager on the real clock (fake in the bubble) whose
// ctx ends, and loops are waited for, when the test ends.
func (e *pipeEnv) manager(t *testing.T) (*Manager, context.Context) {
	m := NewManager(Options{Connect: Connect(e.cfg, nil)})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); m.Wait() })
	return m, ctx
}

func quietSpec(fn string) Spec {
	return Spec{Target: snapshot.Target{Function: fn, Region: "us-east-1"}, Key: fn, APIName: fn, Window: time.Hour}
}

// TestIdleTargetsArePolledLessOften: with MaxIdle set, a function with
// nothing running and nothing new is polled at doubling intervals up to
// MaxIdle, a new execution is still seen within that bound, and activity
// brings polling back to every interval.
func TestIdleTargetsArePolledLessOften(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newPipeEnv(t, lambdasim.Options{})
		e.sim.AddFunction("quiet", []string{"$LATEST"}, nil)
		m, ctx := e.manager(t)
		const interval, maxIdle = 50 * time.Millisecond, 400 * time.Millisecond
		m.Apply(ctx, Settings{Interval: interval, MaxIdle: maxIdle, Overlap: time.Minute, Pool: e.pool(100)},
			[]Spec{quietSpec("quiet")})

		// Each poll of an idle function is two listings (running, new starts).
		time.Sleep(2500 * time.Millisecond)
		polls := e.sim.Requests()[lambdasim.OpList] / 2
		// Every 50ms would be 50 polls; doubling up to 400ms is about 9.
		if polls > 20 || polls < 4 {
			t.Fatalf("%d polls of an idle function in 2.5s; want about 9 (50 without idle backoff)", polls)
		}
		// On the fake clock it is exact: polls at 0, 100, 300ms (each idle
		// poll doubles the wait: 100, 200), then every 400ms up to 2.5s.
		if polls != 8 {
			t.Fatalf("%d polls of an idle function in 2.5s; the schedule gives exactly 8", polls)
		}

		// A change is seen within MaxIdle (plus a poll), not at the next
		// regular interval of a busy function.
		start := time.Now()
		e.sim.Start("quiet", "$LATEST", "wake", time.Now())
		for {
			s := m.Snapshots()[0]
			if s.Primed && s.InWindow[durable.Running] == 1 {
				break
			}
			if time.Since(start) > maxIdle+time.Second {
				t.Fatalf("a new execution of an idle function not seen within %v", maxIdle+time.Second)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if took := time.Since(start); took > maxIdle {
			t.Fatalf("a new execution of an idle function seen after %v; want at most MaxIdle (%v)", took, maxIdle)
		}
		// Now something runs: back to every interval.
		e.sim.ResetRequests()
		time.Sleep(time.Second)
		if polls := e.sim.Requests()[lambdasim.OpList] / 2; polls < 10 {
			t.Fatalf("%d polls in 1s of a function with a running execution; want about 20", polls)
		}
	})
}

// TestIdleBackoffNeverOverflows is the regression test of the idle backoff
// overflow: the wait was Interval<<streak with streak up to 30, which wraps
// int64 after a few hours at 15s or 30s, goes negative, and polls in a tight
// loop. Days of idleness on the fake clock, at every usual interval: each
// wait between two polls lies in [interval, max_idle], and the number of
// polls is what the schedule gives.
func TestIdleBackoffNeverOverflows(t *testing.T) {
	const maxIdle, idleFor = 10 * time.Minute, 3 * 24 * time.Hour
	for _, interval := range []time.Duration{15 * time.Second, 30 * time.Second, time.Minute} {
		t.Run(interval.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var polls []time.Time
				// A tight loop would never let the fake clock move: stop
				// it after far more polls than the schedule allows.
				limit := int(idleFor/interval) + 10
				stop := make(chan struct{})
				e := newPipeEnv(t, lambdasim.Options{Intercept: func(r lambdasim.Request) *lambdasim.Fault {
					// Each poll lists the running executions once.
					if r.Op == lambdasim.OpList && r.Query.Get("Statuses") == lambdasim.StatusRunning {
						polls = append(polls, time.Now())
						if len(polls) == limit {
							close(stop)
						}
					}
					return nil
				}})
				e.sim.AddFunction("quiet", []string{"$LATEST"}, nil)
				m, ctx := e.manager(t)
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				m.Apply(ctx, Settings{Interval: interval, MaxIdle: maxIdle, Overlap: 5 * time.Minute, Pool: e.pool(1000)},
					[]Spec{quietSpec("quiet")})
				select {
				case <-time.After(idleFor):
				case <-stop:
					t.Fatalf("%d polls before %v had passed: the idle backoff polls in a loop", limit, time.Since(polls[0]))
				}
				cancel()
				m.Wait()
				for i := 1; i < len(polls); i++ {
					if w := polls[i].Sub(polls[i-1]); w < interval || w > maxIdle {
						t.Fatalf("wait %d after %v idle = %v; want within [%v, %v]", i, polls[i-1].Sub(polls[0]), w, interval, maxIdle)
					}
				}
				// Each idle poll doubles the wait, from twice the interval
				// up to max_idle.
				ramp, at := 1, time.Duration(0)
				for w := 2 * interval; w < maxIdle; w *= 2 {
					ramp++
					at += w
				}
				want := ramp + int((idleFor-at-1)/maxIdle)
				if len(polls) != want {
					t.Fatalf("%d polls in %v idle; the schedule gives %d", len(polls), idleFor, want)
				}
			})
		})
	}
}

// TestIdleWait checks the schedule itself for every streak a long idle
// spell can reach, and settings where max_idle is not above the interval.
func TestIdleWait(t *testing.T) {
	for _, c := range []struct{ interval, maxIdle time.Duration }{
		{15 * time.Second, 10 * time.Minute}, {30 * time.Second, 10 * time.Minute}, {time.Minute, 10 * time.Minute},
		{time.Minute, time.Minute}, {time.Minute, 0}, {time.Second, 1<<63 - 1},
	} {
		prev := time.Duration(0)
		for streak := 0; streak <= 200; streak++ {
			w := idleWait(c.interval, c.maxIdle, streak)
			if w < c.interval || w > max(c.maxIdle, c.interval) || w < prev {
				t.Fatalf("interval %v, max_idle %v, streak %d: wait %v (previous %v)", c.interval, c.maxIdle, streak, w, prev)
			}
			prev = w
		}
		if streak0 := idleWait(c.interval, c.maxIdle, 0); streak0 != c.interval {
			t.Fatalf("interval %v: a busy target waits %v", c.interval, streak0)
		}
	}
}
