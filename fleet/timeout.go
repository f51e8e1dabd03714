package fleet

import (
	"context"
	"time"

	"golang.org/x/time/rate"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/config"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/poller"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
)

// DefaultTimeoutRefresh is how often the execution timeouts of the static
// functions are read when the configuration has no discovery entry.
const DefaultTimeoutRefresh = time.Hour

// timeoutReadsPerSecond paces the configuration reads: GetFunctionConfiguration
// draws on the account's Lambda control-plane quota, which deploy tools
// share, so a large static list is read over a while, not in a burst.
const timeoutReadsPerSecond = 10

// timeoutRefresh is how often the static functions' execution timeouts are
// read: as often as the most frequent discovery refresh, hourly without
// discovery.
func timeoutRefresh(c *config.Config) time.Duration {
	var r time.Duration
	for _, d := range c.Discovery {
		if d.Refresh > 0 && (r == 0 || d.Refresh < r) {
			r = d.Refresh
		}
	}
	if r == 0 {
		r = DefaultTimeoutRefresh
	}
	return r
}

// readTimeouts reads the execution timeout of every static target with
// GetFunctionConfiguration at once and then every refresh, and hands what it
// read to Run: a target without DurableConfig gets 0 (none); one whose read
// failed is left out, so it keeps its last known value. It never runs on
// the scrape path.
func (f *Fleet) readTimeouts(ctx context.Context, finders FinderFunc, gen int, specs []poller.Spec, every time.Duration) {
	if len(specs) == 0 {
		return
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	clients := map[scrape.Access]Finder{}
	pace := rate.NewLimiter(timeoutReadsPerSecond, timeoutReadsPerSecond)
	for {
		got := make(map[string]time.Duration, len(specs))
		for _, s := range specs {
			a := s.Access()
			c, ok := clients[a]
			if !ok {
				c = finders(a)
				clients[a] = c
			}
			if pace.Wait(ctx) != nil {
				return
			}
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			d, ok, err := c.ExecutionTimeout(rctx, s.APIName, s.Qualifier)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				f.o.Logger.Warn("cannot read the function's execution timeout; keeping the last known one",
					"function", s.Function, "qualifier", s.Qualifier, "region", s.Region, "err", err)
				continue
			}
			if !ok {
				d = 0
			}
			got[s.Key] = d
		}
		select {
		case f.updates <- update{timeouts: got, gen: gen}:
		case <-ctx.Done():
			return
		}
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return
		}
	}
}

// mergeTimeouts takes the timeouts read into known and reports whether one
// changed.
func mergeTimeouts(known, read map[string]time.Duration) bool {
	changed := false
	for k, d := range read {
		if old, ok := known[k]; !ok || old != d {
			known[k] = d
			changed = true
		}
	}
	return changed
}

// withTimeouts gives the targets whose timeout was read (the static ones)
// that timeout; discovered targets carry the one ListFunctions reported.
func withTimeouts(specs []poller.Spec, known map[string]time.Duration) {
	for i := range specs {
		if d, ok := known[specs[i].Key]; ok {
			specs[i].ExecutionTimeout = d
		}
	}
}

// keepTimeouts forgets the timeouts of targets that are no longer static.
func keepTimeouts(known map[string]time.Duration, static []poller.Spec) {
	keep := make(map[string]bool, len(static))
	for _, s := range static {
		keep[s.Key] = true
	}
	for k := range known {
		if !keep[k] {
			delete(known, k)
		}
	}
}
