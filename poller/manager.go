// Package poller keeps, per configured target, the state of its durable
// executions between polls, asks AWS only through package scrape, and
// publishes an immutable snapshot after every poll for the collector.
package poller

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/storage"
)

// Spec is one target: a function (and qualifier and name filter) in one
// account (Target.AccountID, "" when unknown) and region.
type Spec struct {
	snapshot.Target
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
	// AgeThresholds are the ages for the count of running executions older
	// than each (increasing); none when empty.
	AgeThresholds []time.Duration
	// ByVersion and ByErrorType are the breakdowns (config key breakdown);
	// MaxErrorTypes caps the distinct error types (0 = 20).
	ByVersion, ByErrorType bool
	MaxErrorTypes          int
	// ExecutionTimeout is the function's DurableConfig.ExecutionTimeout, 0
	// when not known. It only reaches the snapshot: a change of it alone
	// neither restarts the target nor touches its state (see specEqual).
	ExecutionTimeout time.Duration
}

// Access says where and as whom the target is polled.
func (s Spec) Access() scrape.Access {
	return scrape.Access{Account: s.AccountID, Region: s.Region, RoleARN: s.RoleARN, ExternalID: s.ExternalID}
}

// Settings are the polling parameters shared by all targets.
type Settings struct {
	Interval       time.Duration
	Overlap        time.Duration
	Resync         time.Duration // 0 disables periodic full re-listing
	MaxConcurrency int           // polls at once per account and region
	// MaxIdle, when above Interval, lets idle targets be polled less
	// often, never less often than this.
	MaxIdle time.Duration
	// Pool configures the AWS clients: endpoint, page size and the request
	// budgets per account and region, which the poller also weighs to
	// choose between reads and listings.
	Pool scrape.PoolOptions
}

// readyTimeout lets /-/ready answer 200 this long after the start even if
// some target never polled successfully: one broken function must not keep
// a rollout from completing.
const readyTimeout = 5 * time.Minute

// SourceFunc returns the Source that polls a target.
type SourceFunc func(Spec) Source

// Connector builds the sources for one set of pool options. The manager
// calls it at the first Apply and again whenever a reload changes the pool
// options; every target then restarts on the new sources, so that an
// account never has two budgets.
type Connector func(scrape.PoolOptions) SourceFunc

// Connect is the production Connector: SDK clients from one scrape.Pool on
// the base AWS configuration, with metrics (nil for none).
func Connect(base aws.Config, metrics *scrape.Metrics) Connector {
	return func(o scrape.PoolOptions) SourceFunc {
		o.Metrics = metrics
		pool := scrape.NewPool(base, o)
		return func(s Spec) Source { return pool.Client(s.Access()) }
	}
}

// Clock is the manager's only time source: every poll reads it, and the
// poll loops wait on it. Tests use testing/synctest with the real clock, or
// a fake one.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx ends; it reports whether d passed.
	Sleep(ctx context.Context, d time.Duration) bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Options configure a Manager.
type Options struct {
	Logger  *slog.Logger
	Connect Connector
	Clock   Clock // the real clock when nil
	// Store, when set, keeps every target's state across restarts
	// (--storage.path): a target starts from its checkpoint, and each
	// successful poll is checkpointed before its numbers are published.
	Store *storage.Dir
}

// Manager runs one poll loop per target.
type Manager struct {
	logger  *slog.Logger
	connect Connector
	clock   Clock
	started time.Time
	store   *storage.Dir

	// applyMu serializes Apply; mu guards the fields below it. Only mu is
	// taken by Snapshots and Ready, and never while a target stops.
	applyMu sync.Mutex
	mu      sync.Mutex
	order   []*target // config order, for stable output
	applied bool      // Apply was called: the target set is known
	wg      sync.WaitGroup

	// Owned by Apply (under applyMu).
	swept    bool // the sweep of unclaimed checkpoints was started
	settings Settings
	sources  SourceFunc
	targets  map[string]*target
	// sems bound concurrent polls per account and region, like the rate
	// limiters: polls waiting on one busy account's budget must not hold
	// slots that another account's polls could use.
	sems map[string]chan struct{}
}

type target struct {
	spec    Spec
	tracker *tracker
	snap    atomic.Pointer[snapshot.Snapshot]
	cancel  context.CancelFunc
	done    chan struct{}
	// Self-metrics kept across polls.
	overruns uint64
	skew     *time.Duration // the service's clock minus the local one; nil until measured
	// pageBoost counts the polls in a row that failed on a listing's page
	// limit (see costs.pageLimit).
	pageBoost int
	// gone is set while the function's listing answers 404.
	gone bool
	// live is set once a poll of this process succeeded: a state restored
	// from a checkpoint serves its counters at once, its gauges only then.
	live bool
	// stored says checkpoints are on; restored that the state came from
	// one; unsaved that it changed since the last checkpoint was written.
	stored, restored, unsaved bool
	// pub serializes snapshot stores of the poll loop with setTimeout;
	// timeout is the Spec.ExecutionTimeout last applied.
	pub     sync.Mutex
	timeout time.Duration
}

// NewManager returns a manager.
func NewManager(o Options) *Manager {
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{logger: o.Logger, connect: o.Connect, clock: o.Clock, started: o.Clock.Now(), store: o.Store,
		targets: make(map[string]*target), sems: make(map[string]chan struct{})}
}

// Apply installs settings and targets: the first configuration, or a
// reload. Targets whose key and spec stay keep running with their state (no
// burst, no loss); removed targets stop and their series go; new ones
// start. A change of settings restarts every target, on new sources when the
// pool options changed; the trackers, and so the counts, stay. The loops run
// until ctx ends. Scrapes are never blocked while targets stop.
func (m *Manager) Apply(ctx context.Context, s Settings, specs []Spec) {
	s.MaxConcurrency = max(s.MaxConcurrency, 1)
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	restartAll := m.settings != s
	if m.sources == nil || m.settings.Pool != s.Pool {
		o := s.Pool
		if o.Clock == nil {
			o.Clock = m.clock // the service's clock offset is measured against the manager's
		}
		m.sources = m.connect(o)
	}
	if restartAll {
		m.sems = make(map[string]chan struct{})
	}
	m.settings = s

	type change struct {
		t    *target
		spec Spec
	}
	var stop []*target
	var start []change
	keep := make(map[string]bool, len(specs))
	order := make([]*target, 0, len(specs))
	for _, sp := range specs {
		keep[sp.Key] = true
		t, ok := m.targets[sp.Key]
		switch {
		case !ok:
			t = m.newTarget(sp)
			m.targets[sp.Key] = t
			start = append(start, change{t, sp})
		case restartAll || !specEqual(t.spec, sp):
			stop = append(stop, t)
			start = append(start, change{t, sp})
		}
		t.setTimeout(sp.ExecutionTimeout)
		order = append(order, t)
	}
	for k, t := range m.targets {
		if !keep[k] {
			stop = append(stop, t)
			delete(m.targets, k)
		}
	}
	// Removed targets leave the output at once; restarted ones serve their
	// last snapshot until they run again.
	m.mu.Lock()
	m.order, m.applied = order, true
	m.mu.Unlock()

	for _, t := range stop {
		t.stop()
		if !keep[t.spec.Key] {
			m.forget(t)
		}
	}
	if m.store != nil && !m.swept {
		m.swept = true
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.sweep(ctx)
		}()
	}
	for _, c := range start {
		t := c.t
		t.spec = c.spec
		t.tracker.configure(statusesOrAll(t.spec.Statuses), t.spec.Window.Milliseconds(), s.Overlap.Milliseconds(), s.Interval.Milliseconds())
		t.tracker.setBuckets(t.spec.DurationBuckets)
		t.tracker.ages = slices.Clone(t.spec.AgeThresholds)
		t.tracker.setVersionBreakdown(t.spec.ByVersion)
		t.tracker.setErrorBreakdown(t.spec.ByErrorType, cmp.Or(t.spec.MaxErrorTypes, 20))
		t.republish()
		m.start(ctx, t, len(specs))
	}
}

// Wait blocks until every poll loop has stopped (after ctx ended).
func (m *Manager) Wait() { m.wg.Wait() }

// Snapshots returns the latest snapshot of every target, in config order.
func (m *Manager) Snapshots() []*snapshot.Snapshot {
	m.mu.Lock()
	ts := slices.Clone(m.order)
	m.mu.Unlock()
	out := make([]*snapshot.Snapshot, 0, len(ts))
	for _, t := range ts {
		if s := t.snap.Load(); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// Ready reports whether the targets are known and every one has polled
// successfully once, or the ready timeout has passed since the manager
// started.
func (m *Manager) Ready() bool {
	if m.clock.Now().Sub(m.started) >= readyTimeout {
		return true
	}
	m.mu.Lock()
	applied := m.applied
	m.mu.Unlock()
	if !applied {
		return false
	}
	for _, s := range m.Snapshots() {
		if !s.Primed {
			return false
		}
	}
	return true
}

// start runs t's poll loop; applyMu is held.
func (m *Manager) start(parent context.Context, t *target, n int) {
	ctx, cancel := context.WithCancel(parent)
	t.cancel, t.done = cancel, make(chan struct{})
	s := m.settings
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
		if t.unsaved {
			m.save(t) // on SIGTERM or a reload: what changed since the last poll
		}
	}()
}

// semFor returns the concurrency slots of a target's account and region;
// applyMu is held.
func (m *Manager) semFor(sp Spec, n int) chan struct{} {
	key := sp.Access().Budget()
	sem, ok := m.sems[key]
	if !ok {
		sem = make(chan struct{}, max(n, 1))
		m.sems[key] = sem
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
	if !m.clock.Sleep(ctx, delay) {
		return
	}
	streak := 0
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		start := m.clock.Now()
		idle := m.pollOnce(ctx, t, src, s)
		<-sem
		m.errorPhase(ctx, t, src, s, start)
		// An idle target (nothing running, nothing new) is polled at twice
		// the interval each time, up to MaxIdle: a change is seen at most
		// MaxIdle late. Any activity brings it back to every interval.
		if idle {
			streak = min(streak+1, 64)
		} else {
			streak = 0
		}
		wait := idleWait(s.Interval, s.MaxIdle, streak)
		if !m.clock.Sleep(ctx, start.Add(wait).Sub(m.clock.Now())) {
			return
		}
	}
}

// idleWait is the time from the start of one poll to the next after streak
// idle polls in a row: the interval doubled streak times, at most maxIdle,
// never less than the interval. It cannot overflow, however long the streak.
func idleWait(interval, maxIdle time.Duration, streak int) time.Duration {
	w := interval
	for range streak {
		if w >= maxIdle/2 {
			return max(maxIdle, interval)
		}
		w *= 2
	}
	return w
}

// pollOnce runs one poll with a deadline of one interval and publishes the
// outcome. A poll that fails changes no state: the last good numbers stay.
// It reports whether the target was idle: the poll succeeded, listed
// nothing and nothing runs.
func (m *Manager) pollOnce(ctx context.Context, t *target, src Source, s Settings) bool {
	start := m.clock.Now()
	// The API's timestamps are compared with the poll's start on the
	// service's clock, not the exporter's: a skewed host clock must not
	// move the baseline or the listings' bounds.
	now, _, _ := serviceNow(src, start)
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
	c := costs{pageSize: s.Pool.PageSize, listRate: s.Pool.Limits.ListPerSecond, getRate: s.Pool.Limits.GetPerSecond,
		boost: t.pageBoost, interval: s.Interval}
	b, req, err := gather(pctx, src, tr, &t.spec, start, full, c)
	cancel()
	if _, off, ok := serviceNow(src, start); ok {
		t.skew = &off
	}
	end := m.clock.Now()
	took := end.Sub(start)
	if ctx.Err() != nil {
		return false // shutting down or reconfigured: not a failure of the target
	}
	if took > s.Interval || errors.Is(err, context.DeadlineExceeded) {
		t.overruns++
		m.logger.Warn("poll took longer than the interval", "function", t.spec.Function, "qualifier", t.spec.Qualifier,
			"took", took.Round(time.Millisecond), "interval", s.Interval)
	}
	t.gone = errors.Is(err, scrape.ErrFunctionNotFound)
	if errors.Is(err, scrape.ErrTooManyPages) {
		t.pageBoost++
	} else if err == nil {
		t.pageBoost = 0
	}
	if err != nil {
		m.logger.Error("poll failed", "function", t.spec.Function, "qualifier", t.spec.Qualifier, "region", t.spec.Region,
			"full", full, "err", err)
		t.unsaved = true // the overrun count may have changed
		t.publish(tr, end, took, false, req)
		return false
	}
	m.logInvalid(t, tr.apply(b, b.now))
	t.live = true
	// The checkpoint is on disk before the numbers are published: a
	// restart never serves a counter below one that was scraped.
	m.save(t)
	m.logger.Debug("poll done", "function", t.spec.Function, "qualifier", t.spec.Qualifier, "full", full,
		"list_requests", req[durable.OpList], "get_requests", req[durable.OpGet], "took", took, "tracked", tr.size())
	t.publish(tr, end, took, true, req)
	return len(b.items) == 0 && tr.idle()
}

// logInvalid logs the invalid executions a poll reported for the first
// time: one line per reason, with how many and one example, so that a page
// of a thousand bad items is one line, not a thousand.
func (m *Manager) logInvalid(t *target, fresh []invalidNote) {
	var count [durable.NumReasons]int
	var example [durable.NumReasons]invalidNote
	for _, n := range fresh {
		if count[n.reason] == 0 {
			example[n.reason] = n
		}
		count[n.reason]++
	}
	for r, n := range count {
		if n == 0 {
			continue
		}
		e := example[r]
		m.logger.Warn("invalid executions from the API", "function", t.spec.Function, "qualifier", t.spec.Qualifier,
			"reason", e.reason.String(), "count", n, "example_arn", e.arn, "detail", e.detail)
	}
}

// publish swaps in a new immutable snapshot.
func (t *target) publish(tr *tracker, end time.Time, took time.Duration, ok bool, req snapshot.Requests) {
	s := &snapshot.Snapshot{Target: t.spec.Target, Statuses: statusesOrAll(t.spec.Statuses)}
	if prev := t.snap.Load(); prev != nil {
		s.LastSuccess = prev.LastSuccess
		s.PollRequests = prev.PollRequests
	}
	if tr != nil {
		tr.fill(s)
		s.Primed = s.Primed && t.live
	}
	s.Stored, s.Restored = t.stored, t.restored
	s.PollSuccess = ok
	s.Gone = t.gone
	s.PollDuration = took.Seconds()
	s.Overruns = t.overruns
	if t.skew != nil {
		s.ClockSkew, s.ClockSkewKnown = t.skew.Seconds(), true
	}
	if ok {
		s.LastSuccess = float64(end.UnixNano()) / 1e9
		s.PollRequests = req
	}
	t.store(s)
}

// republish refreshes labels and statuses of a kept target after a reload.
func (t *target) republish() {
	prev := t.snap.Load()
	s := *prev
	s.Target = t.spec.Target
	s.Statuses = statusesOrAll(t.spec.Statuses)
	t.store(&s)
}

func statusesOrAll(s []durable.Status) []durable.Status {
	if len(s) == 0 {
		return durable.Known
	}
	return s
}

// specEqual says whether a target can keep running on b instead of a;
// ExecutionTimeout is left out, Apply hands it over without a restart.
func specEqual(a, b Spec) bool {
	return a.Target == b.Target && a.Key == b.Key && a.APIName == b.APIName && a.ExecutionName == b.ExecutionName &&
		a.RoleARN == b.RoleARN && a.ExternalID == b.ExternalID && a.Window == b.Window && slices.Equal(a.Statuses, b.Statuses) &&
		slices.Equal(a.DurationBuckets, b.DurationBuckets) && slices.Equal(a.AgeThresholds, b.AgeThresholds) &&
		a.ByVersion == b.ByVersion && a.ByErrorType == b.ByErrorType && a.MaxErrorTypes == b.MaxErrorTypes
}
