package poller

import (
	"context"
	"errors"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
)

// errorReader is what a Source offers to read the error of an execution
// (GetDurableExecution with its execution data); *scrape.Client implements
// it, with a rate budget of its own within the account-region's Get budget.
type errorReader interface {
	ErrorOf(ctx context.Context, arn string) (scrape.ExecutionError, error)
}

// setErrorBreakdown turns the error-type breakdown on or off. Turning it
// off drops the queue and the counts: when it is turned on again, counting
// starts afresh, from the finishes counted from then on.
func (t *tracker) setErrorBreakdown(on bool, maxTypes int) {
	t.maxErrTypes = maxTypes
	if on == t.byErrorType {
		return
	}
	t.byErrorType = on
	t.errCounts, t.errSince, t.pending = nil, nil, nil
}

// readErrors reads the queued errors in order, until the queue is empty,
// ctx ends or a read fails for another reason than a 404 (a throttle that
// outlasted the retries, an outage): what is left waits for the next round.
// A read that answers 404 is retried in later rounds; after maxNotFound of
// them the execution counts under errUnread. It returns how many reads it
// made and whether a count or the queue changed.
func (t *tracker) readErrors(ctx context.Context, r errorReader) (reads int, changed bool, err error) {
	if len(t.pending) == 0 {
		return 0, false, nil
	}
	if r == nil { // a source that cannot read errors
		for _, p := range t.pending {
			t.countError(p.status, errUnread)
		}
		t.pending = nil
		return 0, true, nil
	}
	keep := t.pending[:0]
	i := 0
	for ; i < len(t.pending); i++ {
		p := t.pending[i]
		if ctx.Err() != nil {
			break
		}
		e, rerr := r.ErrorOf(ctx, p.arn)
		reads++
		switch {
		case rerr == nil:
			typ := errNone
			if e.HasError {
				typ = cleanErrorType(e.Type)
			}
			// Counted under the status finished_total counted, so that
			// the error counts of a status add up to its finishes.
			t.countError(p.status, typ)
			changed = true
		case errors.Is(rerr, scrape.ErrNotFound):
			changed = true
			if p.misses++; p.misses >= maxNotFound {
				t.countError(p.status, errUnread)
			} else {
				keep = append(keep, p)
			}
		default:
			err = rerr
		}
		if err != nil {
			break
		}
	}
	keep = append(keep, t.pending[i:]...)
	clear(t.pending[len(keep):])
	t.pending = keep
	if len(keep) == 0 {
		t.pending = nil
	}
	return reads, changed, err
}

// errorPhase reads queued errors after a poll, once its numbers are
// published and its concurrency slot is free: until half the interval after
// the poll's start, within the error-read budget. The error counts follow
// finished_total by at most a few polls, and never delay it. What changed
// is checkpointed, then published.
func (m *Manager) errorPhase(ctx context.Context, t *target, src Source, s Settings, start time.Time) {
	tr := t.tracker
	if !tr.byErrorType || len(tr.pending) == 0 || !t.live {
		return
	}
	r, _ := src.(errorReader)
	rctx, cancel := context.WithTimeout(ctx, start.Add(s.Interval/2).Sub(m.clock.Now()))
	reads, changed, err := tr.readErrors(rctx, r)
	cancel()
	if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
		m.logger.Warn("reading execution errors failed; the rest is read after the next poll", "function", t.spec.Function,
			"qualifier", t.spec.Qualifier, "reads", reads, "pending", len(tr.pending), "err", err)
	}
	if !changed {
		return
	}
	m.save(t)
	t.refreshBreakdowns(tr)
}

// refreshBreakdowns publishes a copy of the last snapshot with the
// tracker's current error counts, through store: a timeout that setTimeout
// sets meanwhile is not lost.
func (t *target) refreshBreakdowns(tr *tracker) {
	prev := t.snap.Load()
	if prev == nil {
		return
	}
	s := *prev
	s.Errors, s.PendingErrors = nil, 0
	tr.fillErrors(&s)
	t.store(&s)
}
