package poller

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// TestTimeoutChangeKeepsTheLoop: an Apply that changes only a target's
// ExecutionTimeout republishes its snapshot with the new value at once and
// neither restarts its poll loop (no extra poll) nor touches its state; a
// later poll keeps the value.
func TestTimeoutChangeKeepsTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{}
		m := NewManager(Options{Connect: func(scrape.PoolOptions) SourceFunc { return func(Spec) Source { return src } }})
		ctx, cancel := context.WithCancel(context.Background())
		defer func() { cancel(); m.Wait() }()
		s := Settings{Interval: 15 * time.Second, Overlap: time.Minute}
		sp := quietSpec("a")
		m.Apply(ctx, s, []Spec{sp})
		time.Sleep(20 * time.Second)
		synctest.Wait()
		before, polls := m.Snapshots()[0], src.count()
		if before.ExecutionTimeout != 0 || !before.Primed {
			t.Fatalf("before: timeout %v, primed %v; want 0, true", before.ExecutionTimeout, before.Primed)
		}

		sp.ExecutionTimeout = 2 * time.Hour
		m.Apply(ctx, s, []Spec{sp})
		synctest.Wait()
		after := m.Snapshots()[0]
		if after.ExecutionTimeout != 7200 {
			t.Errorf("timeout after the Apply = %v, want 7200", after.ExecutionTimeout)
		}
		if src.count() != polls || after.LastSuccess != before.LastSuccess || !after.Primed {
			t.Errorf("the Apply restarted the target: %d polls (was %d), last success %v (was %v)",
				src.count(), polls, after.LastSuccess, before.LastSuccess)
		}
		time.Sleep(15 * time.Second)
		synctest.Wait()
		if n := m.Snapshots()[0]; n.LastSuccess == after.LastSuccess || n.ExecutionTimeout != 7200 {
			t.Errorf("next poll: last success %v (was %v), timeout %v; want a new poll keeping 7200", n.LastSuccess, after.LastSuccess, n.ExecutionTimeout)
		}

		sp.ExecutionTimeout = 0 // no longer known
		m.Apply(ctx, s, []Spec{sp})
		if n := m.Snapshots()[0]; n.ExecutionTimeout != 0 {
			t.Errorf("timeout after it became unknown = %v, want 0", n.ExecutionTimeout)
		}
	})
}

// TestErrorCountsKeepTheTimeout: the error phase republishes the last
// snapshot with new error counts; when setTimeout stored a new timeout after
// that snapshot was taken, the copy published still carries it (it goes
// through store, as every publication does).
func TestErrorCountsKeepTheTimeout(t *testing.T) {
	tg := &target{spec: quietSpec("a"), tracker: newTracker()}
	tg.tracker.setErrorBreakdown(true, 20)
	tg.publish(tg.tracker, time.Time{}, 0, true, snapshot.Requests{})
	stale := *tg.snap.Load() // what the error phase loaded
	tg.setTimeout(2 * time.Hour)
	tg.snap.Store(&stale) // the interleaving: its copy lands after setTimeout's
	tg.tracker.countError(durable.Failed, "X")
	tg.refreshBreakdowns(tg.tracker)
	s := tg.snap.Load()
	if s.ExecutionTimeout != 7200 || len(s.Errors) != 1 {
		t.Fatalf("after the error phase: timeout %v, errors %v; want 7200 and one", s.ExecutionTimeout, s.Errors)
	}
}
