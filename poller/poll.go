package poller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// Source is what a poller asks of AWS; *scrape.Client implements it.
type Source interface {
	List(ctx context.Context, q scrape.Query, visit func(scrape.Execution)) (int, error)
	Get(ctx context.Context, arn string) (scrape.Execution, error)
}

// costs say what a request costs in seconds of quota, to choose between
// reading vanished executions one by one and listing their start range.
type costs struct {
	pageSize          int
	listRate, getRate float64
	// boost doubles the page limit of every listing this many times: the
	// manager raises it after a listing hit the limit, so that a function
	// that really grew is listed in full on a later poll.
	boost int
	// interval is the poll interval: reads that fit in a quarter of it at
	// getRate are always made rather than a range listing (0: never).
	interval time.Duration
}

// minPageLimit is the page limit of a listing whatever the state holds.
const minPageLimit = 50

// pageLimit bounds the pages of one listing by what the state knows the
// window holds: four times the pages that would take, at least
// minPageLimit, doubled boost times, at most scrape.MaxPages. Before the
// first poll nothing is known and the limit is scrape.MaxPages. A run of
// unique markers that never ends then fails its listing after a bounded
// number of pages instead of draining the account's list budget.
func (c costs) pageLimit(t *tracker) int {
	if !t.primed {
		return scrape.MaxPages
	}
	n := max(minPageLimit, 4*(t.size()/max(c.pageSize, 1)+1))
	for range c.boost {
		if n >= scrape.MaxPages {
			break
		}
		n *= 2
	}
	return min(n, scrape.MaxPages)
}

// serverClock is what a Source may know of the service's clock: its offset
// from the local one, from the Date header of its answers (*scrape.Client).
type serverClock interface {
	ServerOffset() (time.Duration, bool)
}

// serviceNow returns the poll's start on the service's clock, in ms: the
// local start corrected by the offset the source has measured (none before
// its first answer).
func serviceNow(src Source, start time.Time) (int64, time.Duration, bool) {
	if sc, ok := src.(serverClock); ok {
		if off, ok := sc.ServerOffset(); ok {
			return start.Add(off).UnixMilli(), off, true
		}
	}
	return start.UnixMilli(), 0, false
}

// gather runs the listings of one poll that started at start (local time)
// and returns what they saw. Every bound it compares with the API's
// timestamps is on the service's clock: the first listing (every running
// execution, no time bound) teaches the source that clock if it did not
// know it yet, and batch.now is the poll's start on it. It reads the
// tracker but does not change it.
func gather(ctx context.Context, src Source, t *tracker, spec *Spec, start time.Time, full bool, c costs) (*batch, snapshot.Requests, error) {
	b := &batch{full: full}
	var req snapshot.Requests
	base := scrape.Query{FunctionName: spec.APIName, Qualifier: spec.Qualifier, ExecutionName: spec.ExecutionName}
	seen := make(map[uint64]struct{})

	limit := c.pageLimit(t)
	list := func(q scrape.Query, window bool) error {
		q.MaxPages = limit
		v := t.validator(spec.Function, b, true)
		n, err := src.List(ctx, q, func(e scrape.Execution) {
			h, _ := v.observe(e)
			if h == 0 {
				return
			}
			seen[h] = struct{}{}
			if window {
				b.windowSeen[h] = struct{}{}
			}
		})
		req[durable.OpList] += uint64(n)
		return err
	}

	// Every running execution, whatever its age: long runners that started
	// before the window must still be seen ending.
	q := base
	q.Status = durable.Running
	if err := list(q, false); err != nil {
		return nil, req, err
	}
	now, _, _ := serviceNow(src, start)
	b.now = now

	q = base
	if full {
		// The whole window (plus the overlap the state keeps), all statuses
		// in one listing, or one listing per exported terminal status when
		// the target exports only some (the API takes one status a request).
		// After an outage longer than the window, also everything since the
		// last success, so that what ended meanwhile is still counted.
		b.listedAfter = t.coverage(now)
		if t.primed {
			b.listedAfter = min(b.listedAfter, t.lastSuccess-t.overlap)
		}
		b.windowSeen = make(map[uint64]struct{})
		q.StartedAfter = time.UnixMilli(b.listedAfter - 1)
		if t.exportsAll() {
			for _, s := range durable.Known {
				b.listedStatuses[s] = true
			}
			if err := list(q, true); err != nil {
				return nil, req, err
			}
		} else {
			for _, s := range durable.Terminals {
				if !t.exported[s] {
					continue
				}
				b.listedStatuses[s] = true
				q.Status = s
				if err := list(q, true); err != nil {
					return nil, req, err
				}
			}
		}
	} else {
		// Everything that started since the last successful poll, and an
		// overlap before it for executions that become visible late.
		q.StartedAfter = time.UnixMilli(t.lastSuccess - t.overlap)
		if err := list(q, false); err != nil {
			return nil, req, err
		}
	}

	if err := confirmStale(ctx, src, t, spec, b, &req, now); err != nil {
		return nil, req, err
	}
	if err := resolveVanished(ctx, src, t, spec, b, base, seen, &req, c, now); err != nil {
		return nil, req, err
	}
	return b, req, nil
}

// confirmStale reads back every execution that a listing showed RUNNING
// although the state has no record of it and it started before what the
// last poll's listings covered. In steady state every running execution is
// listed on every poll, so such a sighting is most likely a lagging listing
// showing an execution that ended long ago (and may have been counted, its
// tombstone since expired). The read says what it is now; settle then
// decides whether it may count. It costs one read per such sighting, which a
// healthy API never produces.
func confirmStale(ctx context.Context, src Source, t *tracker, spec *Spec, b *batch, req *snapshot.Requests, now int64) error {
	if !t.primed {
		return nil
	}
	before := t.lastSuccess - t.overlap
	asked := map[uint64]bool{}
	n := len(b.items)
	for i := 0; i < n; i++ {
		o := b.items[i]
		if o.final() || o.start >= before || o.arn == "" || asked[o.hash] || t.known(o.hash) {
			continue
		}
		asked[o.hash] = true
		e, err := src.Get(ctx, o.arn)
		req[durable.OpGet]++
		if errors.Is(err, scrape.ErrNotFound) {
			continue // not known to the API either: tracked, and read back as it vanishes
		}
		if err != nil {
			return fmt.Errorf("read back stale running execution: %w", err)
		}
		v := t.validator(spec.Function, b, false)
		if h, ok := v.observe(e); ok && h == o.hash {
			if last := &b.items[len(b.items)-1]; last.final() {
				last.stale = true
			}
		}
	}
	return nil
}

// resolveVanished learns how the running executions that no listing returned
// ended: with one GetDurableExecution each, or with one listing of their
// start range when the reads do not fit in a quarter of the interval and the
// listing costs fewer seconds of quota. The size of a range
// listing is known only inside the state's coverage (the window plus the
// overlap), where the tracker knows every execution; a range reaching
// further back could hold any number, so it is never chosen.
func resolveVanished(ctx context.Context, src Source, t *tracker, spec *Spec, b *batch, base scrape.Query,
	seen map[uint64]struct{}, req *snapshot.Requests, c costs, now int64) error {
	van := t.vanished(seen)
	if len(van) == 0 {
		return nil
	}
	slices.SortFunc(van, func(a, b runRec) int { return cmp.Compare(a.start, b.start) })
	from, to := van[0].start, van[len(van)-1].start
	pages := t.estimate(from, to)/max(c.pageSize, 1) + 1
	// List requests are the scarce budget: every poll of every function of
	// the account-region needs two, while reads are otherwise rare. So the
	// vanished executions are read one by one as long as the reads fit in a
	// quarter of the interval at the read budget, and their start range is
	// listed only beyond that, when the listing costs fewer seconds of quota.
	getsFit := float64(len(van))/c.getRate <= c.interval.Seconds()/4
	if from >= t.coverage(now) && c.listRate > 0 && c.getRate > 0 && !getsFit && float64(pages)/c.listRate < float64(len(van))/c.getRate {
		want := make(map[uint64]struct{}, len(van))
		for _, r := range van {
			want[t.hash(r.arn)] = struct{}{}
		}
		q := base
		q.StartedAfter = time.UnixMilli(from - 1)
		q.StartedBefore = time.UnixMilli(to + 1)
		q.MaxPages = c.pageLimit(t)
		// Only the vanished executions are taken from this listing: the rest
		// of the range can lie outside the state's coverage.
		tmp := &batch{}
		v := t.validator(spec.Function, tmp, true)
		n, err := src.List(ctx, q, func(e scrape.Execution) { v.observe(e) })
		req[durable.OpList] += uint64(n)
		if err != nil {
			return err
		}
		for _, o := range tmp.items {
			if _, ok := want[o.hash]; ok {
				b.items = append(b.items, o)
				delete(want, o.hash)
			}
		}
		van = slices.DeleteFunc(van, func(r runRec) bool {
			_, still := want[t.hash(r.arn)]
			return !still
		})
	}
	v := t.validator(spec.Function, b, false)
	for _, r := range van {
		e, err := src.Get(ctx, r.arn)
		req[durable.OpGet]++
		if errors.Is(err, scrape.ErrNotFound) {
			b.gone = append(b.gone, t.hash(r.arn))
			continue
		}
		if err != nil {
			return fmt.Errorf("read back ended execution: %w", err)
		}
		v.observe(e)
	}
	return nil
}

func (t *tracker) exportsAll() bool {
	for _, s := range durable.Known {
		if !t.exported[s] {
			return false
		}
	}
	return true
}
