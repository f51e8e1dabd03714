package scrape

import (
	"net/http"
	"slices"
	"sync"
	"time"
)

// clockSamples is how many recent Date readings ServerOffset considers.
const clockSamples = 8

// serverClock estimates the service's clock from the Date header of its
// answers.
//
// Date is truncated to whole seconds and written before the answer travels,
// so each sample, Date minus the local time of receipt, is a lower bound of
// the true offset: too low by the sub-second part of the service's time
// plus the one-way latency, so by up to a second and a little. The estimate
// is the largest of the recent samples, the tightest bound, leaving out
// those more than a second from their median: the odd answer from an
// intermediary with a clock of its own. Answers with an Age header come
// from a cache and are not sampled (as the SDK's own skew correction does).
// Over a handful of answers the estimate is typically within a few hundred
// milliseconds, and it follows a clock step within clockSamples answers.
type serverClock struct {
	mu      sync.Mutex
	samples [clockSamples]time.Duration
	n       int // samples taken, for the ring index
}

// observe records the Date header of an answer received at local time at.
func (c *serverClock) observe(h http.Header, at time.Time) {
	v := h.Get("Date")
	if v == "" || h.Get("Age") != "" {
		return
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.samples[c.n%clockSamples] = t.Sub(at)
	c.n++
}

// offset returns the estimate, false before the first sample.
func (c *serverClock) offset() (time.Duration, bool) {
	c.mu.Lock()
	s := slices.Clone(c.samples[:min(c.n, clockSamples)])
	c.mu.Unlock()
	if len(s) == 0 {
		return 0, false
	}
	slices.Sort(s)
	median := s[(len(s)-1)/2]
	best := median
	for _, d := range s {
		if d > best && d-median <= time.Second {
			best = d
		}
	}
	return best, true
}
