package scrape

import (
	"net/http"
	"testing"
	"time"
)

func TestServerClockEstimate(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) // on the service's clock
	const off = -10 * time.Minute                         // service minus local
	// answer is an answer written at service time at, whose Date is off by
	// wrong (an intermediary's clock), received after latency.
	answer := func(c *serverClock, at time.Time, wrong, latency time.Duration, age bool) {
		h := http.Header{}
		h.Set("Date", at.Add(wrong).UTC().Format(http.TimeFormat))
		if age {
			h.Set("Age", "3")
		}
		c.observe(h, at.Add(-off+latency))
	}
	var c serverClock
	if _, ok := c.offset(); ok {
		t.Fatal("an offset without samples")
	}
	// Answers written at various sub-second phases: each alone is up to a
	// second low; the tightest is 50ms low (its phase) plus its latency.
	for i, phase := range []int{700, 300, 950, 50, 500} {
		answer(&c, start.Add(time.Duration(i)*time.Second+time.Duration(phase)*time.Millisecond), 0, 10*time.Millisecond, false)
	}
	want := off - 60*time.Millisecond
	if got, _ := c.offset(); got != want {
		t.Fatalf("offset %v, want %v", got, want)
	}
	// A cached answer with an old Date, and one from an intermediary an
	// hour ahead, change nothing.
	answer(&c, start.Add(6*time.Second), -time.Hour, 0, true)
	answer(&c, start.Add(7*time.Second), time.Hour, 0, false)
	if got, _ := c.offset(); got != want {
		t.Fatalf("offset %v after an outlier, want %v", got, want)
	}
	// The service's clock steps an hour on: once the recent answers are
	// mostly past the step, the estimate follows.
	for i := range clockSamples {
		answer(&c, start.Add(time.Duration(10+i)*time.Second+time.Duration(i)*100*time.Millisecond), time.Hour, 0, false)
	}
	if got, _ := c.offset(); got != off+time.Hour {
		t.Fatalf("offset %v after a step of 1h, want %v", got, off+time.Hour)
	}
}
