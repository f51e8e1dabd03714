package poller

import (
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// store publishes s with the target's current execution timeout.
func (t *target) store(s *snapshot.Snapshot) {
	t.pub.Lock()
	defer t.pub.Unlock()
	s.ExecutionTimeout = t.timeout.Seconds()
	t.snap.Store(s)
}

// setTimeout records the function's execution timeout and, when it
// changed, republishes the latest snapshot with it: the counts and state
// stay as they are, the poll loop keeps running. It is safe while the loop
// publishes.
func (t *target) setTimeout(d time.Duration) {
	t.pub.Lock()
	defer t.pub.Unlock()
	if d == t.timeout {
		return
	}
	t.timeout = d
	if prev := t.snap.Load(); prev != nil {
		s := *prev
		s.ExecutionTimeout = d.Seconds()
		t.snap.Store(&s)
	}
}
