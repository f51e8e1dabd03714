package poller

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
)

// stuckSource answers nothing until released, ignoring cancellation: a poll
// that takes a while to give up, as one stuck in a slow SDK retry does.
type stuckSource struct {
	entered chan struct{}
	once    sync.Once
	release chan struct{}
}

func (s *stuckSource) List(context.Context, scrape.Query, func(scrape.Execution)) (int, error) {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return 0, errors.New("released")
}

func (s *stuckSource) Get(context.Context, string) (scrape.Execution, error) {
	return scrape.Execution{}, errors.New("not here")
}

// TestApplyDoesNotBlockScrapes: while a reload waits for a removed target's
// poll to stop, Snapshots and Ready (what /metrics and /-/ready call) answer,
// and the removed target is already gone from them.
func TestApplyDoesNotBlockScrapes(t *testing.T) {
	src := &stuckSource{entered: make(chan struct{}), release: make(chan struct{})}
	m := NewManager(Options{Connect: func(scrape.PoolOptions) SourceFunc { return func(Spec) Source { return src } }})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); m.Wait() }()
	s := Settings{Interval: time.Minute, Overlap: time.Minute}
	m.Apply(ctx, s, []Spec{quietSpec("stuck")})
	<-src.entered

	applied := make(chan struct{})
	go func() { defer close(applied); m.Apply(ctx, s, nil) }()
	answered := make(chan int)
	go func() {
		for len(m.Snapshots()) != 0 {
		}
		m.Ready()
		answered <- len(m.Snapshots())
	}()
	// Not a timing assertion: only a guard against hanging the test run.
	select {
	case n := <-answered:
		if n != 0 {
			t.Fatalf("%d snapshots after the target was removed", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Snapshots blocked while Apply waited for a target to stop")
	}
	select {
	case <-applied:
		t.Fatal("Apply returned before the removed target's poll had stopped")
	default:
	}
	close(src.release)
	<-applied
}

// failingSource fails every request.
type failingSource struct{}

func (failingSource) List(context.Context, scrape.Query, func(scrape.Execution)) (int, error) {
	return 1, errors.New("access denied")
}

func (failingSource) Get(context.Context, string) (scrape.Execution, error) {
	return scrape.Execution{}, errors.New("access denied")
}

// TestReadyAfterTimeout: before the targets are known (an STS call for the
// account still under way) the exporter is not ready; a target that never
// polls successfully keeps it unready for five minutes, not forever.
func TestReadyAfterTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewManager(Options{Connect: func(scrape.PoolOptions) SourceFunc { return func(Spec) Source { return failingSource{} } }})
		ctx, cancel := context.WithCancel(context.Background())
		defer func() { cancel(); m.Wait() }()
		if m.Ready() {
			t.Fatal("ready before the targets are known")
		}
		m.Apply(ctx, Settings{Interval: 15 * time.Second, Overlap: time.Minute}, []Spec{quietSpec("broken")})
		time.Sleep(readyTimeout - time.Second)
		if m.Ready() {
			t.Fatal("ready before the timeout with a target that never polled successfully")
		}
		time.Sleep(time.Second)
		if !m.Ready() {
			t.Fatalf("not ready %v after the start", readyTimeout)
		}
	})
}

// countingSource serves an empty function and counts polls.
type countingSource struct {
	mu    sync.Mutex
	lists int
}

func (c *countingSource) List(context.Context, scrape.Query, func(scrape.Execution)) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lists++
	return 1, nil
}

func (c *countingSource) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists
}

func (c *countingSource) Get(context.Context, string) (scrape.Execution, error) {
	return scrape.Execution{}, scrape.ErrNotFound
}

// TestReloadReconnectsOnlyWhenPoolOptionsChange: a reload with the same
// settings keeps the sources and the running loops; one that changes the
// pool options (endpoint, page size, budgets) builds new sources and
// restarts every target on them; the targets' state stays.
func TestReloadReconnectsOnlyWhenPoolOptionsChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var connected []scrape.PoolOptions
		var sources []*countingSource
		m := NewManager(Options{Connect: func(o scrape.PoolOptions) SourceFunc {
			connected = append(connected, o)
			src := &countingSource{}
			sources = append(sources, src)
			return func(Spec) Source { return src }
		}})
		ctx, cancel := context.WithCancel(context.Background())
		defer func() { cancel(); m.Wait() }()
		s := Settings{Interval: 15 * time.Second, Overlap: time.Minute, Pool: scrape.PoolOptions{PageSize: 100}}
		specs := []Spec{quietSpec("a"), quietSpec("b")}
		m.Apply(ctx, s, specs)
		time.Sleep(time.Minute)
		m.Apply(ctx, s, specs)
		if len(connected) != 1 {
			t.Fatalf("a reload with the same settings connected again: %v", connected)
		}
		before := m.Snapshots()
		s.Pool.Endpoint = "http://elsewhere"
		m.Apply(ctx, s, specs)
		if len(connected) == 2 {
			connected[1].Clock = nil // the manager gives the pool its clock
		}
		if len(connected) != 2 || connected[1] != s.Pool {
			t.Fatalf("connections %v; want a second one with %v", connected, s.Pool)
		}
		time.Sleep(2 * time.Second) // the restarted polls are spread over 1.5s
		if sources[1].count() == 0 {
			t.Fatal("the targets did not restart on the new sources")
		}
		for i, sn := range m.Snapshots() {
			if sn.LastSuccess < before[i].LastSuccess || !sn.Primed {
				t.Fatalf("%s: state lost at the reconnect", sn.Function)
			}
		}
		n := sources[0].count()
		time.Sleep(time.Minute)
		if sources[0].count() != n {
			t.Fatal("the old sources are still polled after the reconnect")
		}
	})
}
