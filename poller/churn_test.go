package poller

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

// TestChurnCost measures what a poll costs at each churn, with the real
// Manager loop, the real SDK and the simulated API on the fake clock of a
// synctest bubble, under the default settings (interval 60s, overlap 5m,
// resync_interval 1h, page size 1000), against a full re-listing of the
// window on every poll in the same run. One function holds 20,000 ended
// executions in its 24h window; C executions end a minute, 80% of them
// started within that minute and 20% long runners, started 10 minutes to 2
// hours before. Over 70 minutes (one resync included) it reports list and
// get requests per poll, and checks that every finish was counted exactly
// once. The whole table takes minutes; the test suite runs a small version
// (C = 10 and 100, 2,000 executions, 20 minutes). The table in
// docs/performance.md comes from
//
//	LDE_CHURN=1 go test ./poller -run TestChurnCost -v -timeout 30m
func TestChurnCost(t *testing.T) {
	history, minutes, churns := 2_000, 20, []int{10, 100}
	if os.Getenv("LDE_CHURN") != "" {
		history, minutes, churns = 20_000, 70, []int{1, 10, 100, 1000}
	}
	type result struct{ lists, gets float64 }
	run := func(t *testing.T, churn int, full bool) (r result) {
		synctest.Test(t, func(t *testing.T) {
			e := newPipeEnv(t, lambdasim.Options{})
			sim := e.sim
			sim.AddFunction("orders", []string{"$LATEST", "1"}, nil)
			rng := rand.New(rand.NewPCG(uint64(churn), 7))
			terms := []string{lambdasim.StatusSucceeded, lambdasim.StatusFailed, lambdasim.StatusTimedOut, lambdasim.StatusStopped}
			now := time.Now()
			for i := range history {
				at := now.Add(-time.Duration(rng.Int64N(int64(23 * time.Hour))))
				arn := sim.Start("orders", "1", fmt.Sprint("h-", i), at)
				end := at.Add(time.Duration(rng.Int64N(int64(10 * time.Minute))))
				if end.After(now.Add(-time.Second)) {
					end = now.Add(-time.Second) // ended before the run
				}
				if end.Before(at) {
					end = at
				}
				_ = sim.End(arn, terms[rng.IntN(4)], end)
			}
			// The long runners that end during the run, oldest first.
			long := make([]string, 0, churn/5*minutes+1)
			for i := range cap(long) {
				at := now.Add(-10*time.Minute - time.Duration(rng.Int64N(int64(110*time.Minute))))
				long = append(long, sim.Start("orders", "1", fmt.Sprint("l-", i), at))
			}
			m, ctx := e.manager(t)
			s := Settings{Interval: time.Minute, Overlap: 5 * time.Minute, Resync: time.Hour, MaxConcurrency: 4, Pool: e.pool(1000)}
			if full {
				s.Resync = s.Interval // every poll lists the whole window again
			}
			spec := quietSpec("orders")
			spec.Window = 24 * time.Hour
			m.Apply(ctx, s, []Spec{spec})
			time.Sleep(time.Second) // the first poll lists everything, in either mode
			baseline := m.Snapshots()[0]
			if !baseline.PollSuccess {
				t.Fatal("first poll failed")
			}
			start := time.Now()
			sim.ResetRequests()
			for minute := range minutes {
				time.Sleep(30 * time.Second) // between two polls
				now := time.Now()
				for i := range churn - churn/5 {
					at := now.Add(-time.Duration(rng.Int64N(int64(50 * time.Second))))
					arn := sim.Start("orders", "1", fmt.Sprintf("s-%d-%d", minute, i), at)
					_ = sim.End(arn, terms[rng.IntN(4)], at.Add(time.Duration(rng.Int64N(int64(now.Sub(at))))))
				}
				for range churn / 5 {
					_ = sim.End(long[0], terms[rng.IntN(4)], now.Add(-time.Duration(rng.Int64N(int64(20*time.Second)))))
					long = long[1:]
				}
				time.Sleep(30 * time.Second)
			}
			time.Sleep(2 * time.Second) // the last poll
			req := sim.Requests()
			polls := float64(minutes)
			r = result{float64(req[lambdasim.OpList]) / polls, float64(req[lambdasim.OpGet]) / polls}

			// Exact: every execution that ended since the first poll, once.
			snap := m.Snapshots()[0]
			var want [durable.NumStatuses]uint64
			for _, x := range sim.Executions("orders") {
				if !x.End.IsZero() && !x.End.Before(start.Add(-time.Second)) {
					want[durable.ParseStatus(x.Status)]++
				}
			}
			for _, st := range durable.Terminals {
				if got := snap.Finished[st] - baseline.Finished[st]; got != want[st] {
					t.Errorf("churn %d (full=%v): finished{%s} grew by %d, %d ended", churn, full, st, got, want[st])
				}
			}
		})
		return r
	}
	var table strings.Builder
	table.WriteString("| C (ends a minute) | list + get per poll | full re-listing | ratio of list requests |\n|---|---|---|---|\n")
	for _, churn := range churns {
		inc, full := run(t, churn, false), run(t, churn, true)
		fmt.Fprintf(&table, "| %d | %.2f + %.2f | %.2f + %.2f | %.1fx |\n", churn, inc.lists, inc.gets, full.lists, full.gets, full.lists/inc.lists)
		// Request counts are deterministic on the fake clock: a guard, not
		// a timing assert.
		if inc.lists >= full.lists {
			t.Errorf("churn %d: %.2f list requests per poll against %.2f for a full re-listing", churn, inc.lists, full.lists)
		}
	}
	t.Logf("per function and poll, defaults, %d executions in the window, %d polls:\n%s", history, minutes, table.String())
}
