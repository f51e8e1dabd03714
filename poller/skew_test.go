package poller

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// offsetClock is the exporter's clock off the service's by d.
type offsetClock struct {
	c *clock
	d time.Duration
}

func (o offsetClock) Now() time.Time { return o.c.Now().Add(o.d) }

func (o offsetClock) Sleep(ctx context.Context, d time.Duration) bool { return o.c.Sleep(ctx, d) }

// TestExactUnderClockSkew: the exporter's clock is 10 minutes ahead of the
// API's, or behind it. The simulated API's clock (and its Date header) is
// the truth. At the first poll the baseline is the API's time, not the
// exporter's; in steady state executions shorter than an interval are
// listed and counted; after a restart nothing is counted twice; and the
// skew is exported.
func TestExactUnderClockSkew(t *testing.T) {
	for _, skew := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		t.Run(fmt.Sprintf("exporter%+v", skew), func(t *testing.T) {
			env := newSimEnv(t, lambdasim.Options{}, 100)
			sim := env.sim
			sim.AddFunction("orders", []string{"$LATEST", "1", "2"}, nil)
			rng := rand.New(rand.NewPCG(7, 8))
			history(rng, sim, env.clock.Now(), "orders", 500)
			s := Settings{Interval: time.Minute, Overlap: 5 * time.Minute, Pool: scrape.PoolOptions{PageSize: 100,
				Limits: scrape.Limits{ListPerSecond: 1000, GetPerSecond: 1000}}}
			mk := func() *simTarget {
				st := env.target(Spec{Target: snapshot.Target{Function: "orders", Region: "us-east-1"}, APIName: "orders", Window: 6 * time.Hour}, "", s)
				local := offsetClock{env.clock, skew}
				st.m = NewManager(Options{Clock: local})
				// The pool measures the service's clock against the
				// exporter's, as the manager's Connect sets it up.
				st.pool = scrape.NewPool(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")},
					scrape.PoolOptions{Endpoint: env.url, PageSize: 100, Clock: local})
				return st
			}
			st := mk()
			for step := 0; step < 40; step++ {
				where := fmt.Sprintf("step %d", step)
				first := st.baseline == 0
				apiNow := env.clock.Now().UnixMilli()
				sn := st.poll(t)
				// The Date header has a resolution of one second.
				if off := st.baseline - apiNow; first && (off > 1000 || off < -1000) {
					t.Fatalf("%s: baseline %v off the API's clock by %v", where, time.UnixMilli(st.baseline).UTC(),
						time.Duration(off)*time.Millisecond)
				}
				st.check(t, where, sn)
				if !sn.ClockSkewKnown || time.Duration(sn.ClockSkew*float64(time.Second)).Round(time.Second) != -skew {
					t.Fatalf("%s: clock skew %v (known %v), want %v", where, sn.ClockSkew, sn.ClockSkewKnown, -skew)
				}
				if t.Failed() {
					t.FailNow()
				}
				if step == 20 { // a restart: a new process, a new baseline
					st = mk()
				}
				env.clock.Add(time.Minute)
				// Short executions: start and end between two polls.
				workload(rng, sim, env.clock.Now(), []string{"orders"}, 6)
			}
		})
	}
}
