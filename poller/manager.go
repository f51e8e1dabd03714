// Package poller keeps, per configured target, the state of its durable
// executions between polls, asks AWS only through package scrape, and
// publishes an immutable snapshot after every poll for the collector.
package poller

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/collector"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
)

// Spec is one target: a function (and qualifier and name filter) in one
// account (Target.AccountID, "" when unknown) and region.
type Spec struct {
	collector.Target
	// Key identifies the target across reloads; state survives a reload
	// for every key that stays.
	Key           string
	APIName       string // FunctionName as sent to the API
	ExecutionName string
	RoleARN       string // assumed to poll this target, when set
	ExternalID    string
	Statuses      []durable.Status // exported statuses; all when empty
	Window        time.Duration
	// DurationBuckets are the histogram's upper bounds in seconds; nil
	// means durable.DurationBuckets.
	DurationBuckets []float64
}

// Settings are the polling parameters shared by all targets.
type Settings struct {
	Interval       time.Duration
	Overlap        time.Duration
	Resync         time.Duration // 0 disables periodic full re-listing
	PageSize       int
	MaxConcurrency int     // polls at once per account and region
	ListRate       float64 // requests/s budget per account and region
	GetRate        float64
	// MaxIdle, when above Interval, lets idle targets be polled less
	// often, never less often than this.
	MaxIdle time.Duration
	// Endpoint is the API endpoint override the sources use; a change
	// restarts every target on new sources.
	Endpoint string
	// ReadyTimeout lets /-/ready answer 200 after this long even if some
	// target never polled successfully; 0 means 5 minutes.
	ReadyTimeout time.Duration
}

// SourceFunc returns the Source that polls a target.
type SourceFunc func(Spec) Source

// Manager runs one poll loop per target.
type Manager struct {
	logger  *slog.Logger
	sources SourceFunc
	now     func() time.Time
	started time.Time

	mu       sync.Mutex
	settings Settings
	// sems bound concurrent polls per account and region, like the rate
	// limiters: polls waiting on one busy account's budget must not hold
	// slots that another account's polls could use.
	sems    map[string]chan struct{}
	targets map[string]*target
	order   []*target // config order, for stable output
	wg      sync.WaitGroup
}

type target struct {
	spec    Spec
	tracker *tracker
	snap    atomic.Pointer[collector.Snapshot]
	cancel  context.CancelFunc
	done    chan struct{}
	// Self-metrics kept across polls.
	overruns uint64
}

// NewManager returns a manager; now is the clock (time.Now when nil).
func NewManager(logger *slog.Logger, sources SourceFunc, now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	return &Manager{logger: logger, sources: sources, now: now, started: now(), targets: make(map[string]*target),
		sems: make(map[string]chan struct{})}
}

// Apply installs settings and targets. Targets whose key stays keep their
// state (no burst, no loss); removed targets stop and their series go;
// new ones start. The loops run until ctx ends. Apply may be called again
// for a reload.
func (m *Manager) Apply(ctx context.Context, s Settings, specs []Spec) {
	if s.MaxConcurrency < 1 {
		s.MaxConcurrency = 1
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	restartAll := m.settings != s
	if restartAll {
		m.sems = make(map[string]chan struct{})
	}
	m.settings = s

	keep := make(map[string]bool, len(specs))
	order := make([]*target, 0, len(specs))
	for _, sp := range specs {
		keep[sp.Key] = true
		t, ok := m.targets[sp.Key]
		if ok && !restartAll && specEqual(t.spec, sp) {
			order = append(order, t)
			continue
		}
		if ok {
			t.stop()
		} else {
			t = &target{tracker: newTracker()}
			m.targets[sp.Key] = t
		}
		t.spec = sp
		t.tracker.configure(statusesOrAll(sp.Statuses), sp.Window.Milliseconds(), s.Overlap.Milliseconds(), s.Interval.Milliseconds())
		t.tracker.setBuckets(sp.DurationBuckets)
		if t.snap.Load() == nil {
			t.publish(nil, time.Time{}, 0, false, [2]uint64{})
		} else {
			t.republish()
		}
		m.start(ctx, t, s, len(specs))
		order = append(order, t)
	}
	for k, t := range m.targets {
		if !keep[k] {
			t.stop()
			delete(m.targets, k)
		}
	}
	m.order = order
}

// Wait blocks until every poll loop has stopped (after ctx ended).
func (m *Manager) Wait() { m.wg.Wait() }

// Snapshots returns the latest snapshot of every target, in config order.
func (m *Manager) Snapshots() []*collector.Snapshot {
	m.mu.Lock()
	ts := slices.Clone(m.order)
	m.mu.Unlock()
	out := make([]*collector.Snapshot, 0, len(ts))
	for _, t := range ts {
		if s := t.snap.Load(); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// Ready reports whether every target has polled successfully once, or the
// ready timeout has passed since the manager started.
func (m *Manager) Ready() bool {
	m.mu.Lock()
	timeout := m.settings.ReadyTimeout
	ts := slices.Clone(m.order)
	m.mu.Unlock()
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	if m.now().Sub(m.started) >= timeout {
		return true
	}
	for _, t := range ts {
		if s := t.snap.Load(); s == nil || !s.Primed {
			return false
		}
	}
	return true
}

func (m *Manager) start(parent context.Context, t *target, s Settings, n int) {
	ctx, cancel := context.WithCancel(parent)
	t.cancel, t.done = cancel, make(chan struct{})
	sem := m.semFor(t.spec, s.MaxConcurrency)
	src := m.sources(t.spec)
	// Spread the first polls over a tenth of the interval (at most 5s) so
	// that many targets do not hit the API at the same instant.
	spread := min(s.Interval/10, 5*time.Second)
	delay := time.Duration(0)
	if n > 1 && spread > 0 {
		delay = rand.N(spread)
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(t.done)
		m.loop(ctx, t, src, s, sem, delay)
	}()
}

// semFor returns the concurrency slots of a target's account and region;
// m.mu is held.
func (m *Manager) semFor(sp Spec, n int) chan struct{} {
	k := sp.AccountID + "/" + sp.Region
	sem, ok := m.sems[k]
	if !ok {
		sem = make(chan struct{}, max(n, 1))
		m.sems[k] = sem
	}
	return sem
}

func (t *target) stop() {
	if t.cancel != nil {
		t.cancel()
		<-t.done
		t.cancel = nil
	}
}

func (m *Manager) loop(ctx context.Context, t *target, src Source, s Settings, sem chan struct{}, delay time.Duration) {
	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	streak := 0
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		start := time.Now()
		idle := m.pollOnce(ctx, t, src, s)
		<-sem
		// An idle target (nothing running, nothing new) is polled at twice
		// the interval each time, up to MaxIdle: a change is seen at most
		// MaxIdle late. Any activity brings it back to every interval.
		wait := s.Interval
		if idle && s.MaxIdle > s.Interval {
			streak = min(streak+1, 30)
			wait = min(s.Interval<<streak, s.MaxIdle)
		} else {
			streak = 0
		}
		timer.Reset(max(time.Until(start.Add(wait)), 0))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

// pollOnce runs one poll with a deadline of one interval and publishes the
// outcome. A poll that fails changes no state: the last good numbers stay.
// It reports whether the target was idle: the poll succeeded, listed
// nothing and nothing runs.
func (m *Manager) pollOnce(ctx context.Context, t *target, src Source, s Settings) bool {
	start := m.now()
	now := start.UnixMilli()
	tr := t.tracker
	full := tr.wantFull(now, s.Resync.Milliseconds())
	// An incremental poll must fit in one interval. A full listing (the
	// first poll, a resync) may need longer on a large function: it gets
	// five intervals, at least five minutes, and still counts as an overrun.
	deadline := s.Interval
	if full {
		deadline = max(5*s.Interval, 5*time.Minute)
	}
	pctx, cancel := context.WithTimeout(ctx, deadline)
	b, req, err := gather(pctx, src, tr, &t.spec, now, full, costs{pageSize: s.PageSize, listRate: s.ListRate, getRate: s.GetRate})
	cancel()
	end := m.now()
	took := end.Sub(start)
	if ctx.Err() != nil {
		return false // shutting down or reconfigured: not a failure of the target
	}
	if took > s.Interval || errors.Is(err, context.DeadlineExceeded) {
		t.overruns++
		m.logger.Warn("poll took longer than the interval", "function", t.spec.Function, "qualifier", t.spec.Qualifier,
			"took", took.Round(time.Millisecond), "interval", s.Interval)
	}
	if err != nil {
		m.logger.Error("poll failed", "function", t.spec.Function, "qualifier", t.spec.Qualifier, "region", t.spec.Region,
			"full", full, "err", err)
		t.publish(tr, end, took, false, req)
		return false
	}
	for _, n := range b.invalid {
		if k := n.key ^ uint64(n.reason)<<56; tr.flagged[k] == 0 {
			m.logger.Warn("invalid execution from the API", "function", t.spec.Function, "qualifier", t.spec.Qualifier,
				"reason", n.reason.String(), "arn", n.arn, "detail", n.detail)
		}
	}
	tr.apply(b, now)
	m.logger.Debug("poll done", "function", t.spec.Function, "qualifier", t.spec.Qualifier, "full", full,
		"list_requests", req[reqList], "get_requests", req[reqGet], "took", took, "tracked", len(tr.running)+len(tr.done)+len(tr.tomb))
	t.publish(tr, end, took, true, req)
	return len(b.items) == 0 && len(tr.running) == 0
}

// publish swaps in a new immutable snapshot.
func (t *target) publish(tr *tracker, end time.Time, took time.Duration, ok bool, req [2]uint64) {
	s := &collector.Snapshot{Target: t.spec.Target, Statuses: statusesOrAll(t.spec.Statuses)}
	if prev := t.snap.Load(); prev != nil {
		s.LastSuccess = prev.LastSuccess
		s.PollRequests = prev.PollRequests
	}
	if tr != nil {
		tr.fill(s)
	}
	s.PollSuccess = ok
	s.PollDuration = took.Seconds()
	s.Overruns = t.overruns
	if ok {
		s.LastSuccess = float64(end.UnixNano()) / 1e9
		s.PollRequests = req
	}
	t.snap.Store(s)
}

// republish refreshes labels and statuses of a kept target after a reload.
func (t *target) republish() {
	prev := t.snap.Load()
	s := *prev
	s.Target = t.spec.Target
	s.Statuses = statusesOrAll(t.spec.Statuses)
	t.snap.Store(&s)
}

func statusesOrAll(s []durable.Status) []durable.Status {
	if len(s) == 0 {
		return durable.Known
	}
	return s
}

func specEqual(a, b Spec) bool {
	return a.Target == b.Target && a.Key == b.Key && a.APIName == b.APIName && a.ExecutionName == b.ExecutionName &&
		a.RoleARN == b.RoleARN && a.ExternalID == b.ExternalID && a.Window == b.Window && slices.Equal(a.Statuses, b.Statuses) &&
		slices.Equal(a.DurationBuckets, b.DurationBuckets)
}
