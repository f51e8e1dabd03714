package poller

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
)

// BenchmarkTrackerMemory measures what the state of one target with a
// million tracked executions costs the process: 10% running (their ARNs are
// kept, about 100 bytes each), 90% terminal within the window. It reports
// the live heap and the resident set (RSS, from /proc/self/status) per
// tracked execution, each as the difference before and after the state is
// built, with the default GOGC and no GOMEMLIMIT.
//
//	go test ./poller -run '^$' -bench TrackerMemory -benchtime 1x
func BenchmarkTrackerMemory(b *testing.B) {
	const n, running = 1_000_000, 100_000
	for range b.N {
		debug.FreeOSMemory()
		heap0, rss0 := heapAfterGC(), rssBytes(b)
		tr := newTracker()
		tr.configure(durable.Known, (24 * time.Hour).Milliseconds(), (5 * time.Minute).Milliseconds(), time.Minute.Milliseconds())
		now := t0
		// One poll's batch at a time, as the poller applies them.
		for start := 0; start < n; start += 10_000 {
			bt := &batch{full: true, now: now}
			for i := start; i < start+10_000; i++ {
				arn := fmt.Sprintf("arn:aws:lambda:us-east-1:123456789012:function:orders:1/durable-execution/run-%07d/%032x", i, i)
				o := obs{hash: tr.hash(arn), start: now - int64(i%80_000_000), status: durable.Running}
				if i >= running {
					o.status, o.end = durable.Succeeded, o.start+1000
				} else {
					o.arn = arn
				}
				bt.items = append(bt.items, o)
			}
			tr.apply(bt, now)
		}
		if got := tr.size(); got != n {
			b.Fatalf("tracked %d, want %d", got, n)
		}
		heap1, rss1 := heapAfterGC(), rssBytes(b)
		b.ReportMetric(float64(heap1-heap0)/n, "heap-B/exec")
		b.ReportMetric(float64(rss1-rss0)/n, "rss-B/exec")
		runtime.KeepAlive(tr)
	}
}

// rssBytes is the process's resident set, from /proc/self/status.
func rssBytes(b *testing.B) uint64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status:", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}
