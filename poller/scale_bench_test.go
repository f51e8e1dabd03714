package poller

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/collector"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// BenchmarkFleetScale polls 1,000 functions spread over 4 accounts and 2
// regions of the simulated world, which limits every account-region to 15
// list requests per second as AWS does; the exporter runs with its default
// budget of 10 list and 20 get requests per second per account-region (at
// exactly the quota, timing jitter turns into 429s, and every Retry-After
// pauses the whole account: see docs/performance.md). One op is one steady-state cycle: every function polled
// once, with a tenth of them having new or ending executions. It runs in
// real time (the rate limit is the point), about 20s a cycle:
//
//	go test ./poller -run '^$' -bench FleetScale -benchtime 3x -timeout 30m
//
// Reported: cycle wall time, list and get requests per cycle, CPU seconds
// per cycle (exporter and in-process simulator together), heap after the
// cycle, /metrics size and the time to render it, and the most functions
// per account-region one exporter keeps fresh at a 60s interval.
func BenchmarkFleetScale(b *testing.B) {
	accounts, regions, perRegion := 4, 2, 125 // 1,000 functions in all
	if v := os.Getenv("FLEET_SCALE"); v == "small" {
		accounts, regions, perRegion = 1, 1, 40
	}
	const (
		execsPerFn  = 60
		concurrency = 4 // the default max_concurrency, per account-region
	)
	world := lambdasim.NewWorld(lambdasim.WorldOptions{ListRate: 15, GetRate: 30})
	srv := httptest.NewServer(world)
	defer srv.Close()
	ak, sk := world.AddAccount("100000000000")
	accts := []string{"100000000000"}
	for i := 1; i < accounts; i++ {
		a := fmt.Sprintf("10000000000%d", i)
		world.AddAccount(a)
		world.AddRole("arn:aws:iam::"+a+":role/exporter", "")
		accts = append(accts, a)
	}
	metrics := scrape.NewMetrics("lambda_durable")
	throttles := func() float64 {
		return testutil.ToFloat64(metrics.Requests.WithLabelValues(scrape.OpList, scrape.OutcomeThrottled)) +
			testutil.ToFloat64(metrics.Requests.WithLabelValues(scrape.OpGet, scrape.OutcomeThrottled))
	}
	pool := scrape.NewPool(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""),
		BaseEndpoint: aws.String(srv.URL)}, scrape.PoolOptions{PageSize: 1000, Limits: scrape.Limits{ListPerSecond: 10, GetPerSecond: 20}, Metrics: metrics})
	now := time.Now()
	s := Settings{Interval: time.Minute, Overlap: 5 * time.Minute, Resync: 0, Pool: scrape.PoolOptions{PageSize: 1000, Limits: scrape.Limits{ListPerSecond: 10, GetPerSecond: 20}}}
	m := NewManager(Options{})
	type tgt struct {
		t   *target
		src Source
		p   *lambdasim.Server
	}
	var all []tgt
	for ai, acct := range accts {
		for _, region := range []string{"us-east-1", "eu-west-1"}[:regions] {
			p := world.Partition(acct, region)
			access := scrape.Access{Account: acct, Region: region}
			if ai > 0 {
				access.RoleARN = "arn:aws:iam::" + acct + ":role/exporter"
			}
			src := pool.Client(access)
			for f := 0; f < perRegion; f++ {
				fn := fmt.Sprintf("workflow-%03d", f)
				p.AddFunction(fn, []string{"$LATEST"}, nil)
				for i := 0; i < execsPerFn; i++ {
					arn := p.Start(fn, "$LATEST", "", now.Add(-time.Duration(i)*20*time.Minute))
					if i%6 != 0 {
						_ = p.End(arn, "SUCCEEDED", now.Add(-time.Duration(i)*20*time.Minute+time.Minute))
					}
				}
				spec := Spec{Target: snapshot.Target{Function: fn, Region: region, AccountID: acct}, Key: acct + region + fn, APIName: fn, Window: 24 * time.Hour}
				tg := &target{spec: spec, tracker: newTracker()}
				tg.tracker.configure(statusesOrAll(nil), spec.Window.Milliseconds(), s.Overlap.Milliseconds(), s.Interval.Milliseconds())
				tg.publish(nil, time.Time{}, 0, false, snapshot.Requests{})
				all = append(all, tgt{tg, src, p})
				m.order = append(m.order, tg)
			}
		}
	}
	// Polls are bounded per account-region as the manager bounds them.
	s.MaxConcurrency = concurrency
	cycle := func() {
		var wg sync.WaitGroup
		for _, x := range all {
			wg.Add(1)
			m.applyMu.Lock()
			sem := m.semFor(x.t.spec, s.MaxConcurrency)
			m.applyMu.Unlock()
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				m.pollOnce(context.Background(), x.t, x.src, s)
				<-sem
			}()
		}
		wg.Wait()
		for _, x := range all {
			if !x.t.snap.Load().PollSuccess {
				b.Fatalf("poll of %s failed", x.t.spec.Key)
			}
		}
	}
	start := time.Now()
	cycle() // the first poll lists each function's whole window
	b.ReportMetric(time.Since(start).Seconds(), "first-cycle-s")
	b.Logf("first cycle %v, throttled so far %v, requests %v", time.Since(start), throttles(), world.Requests())

	reg := prometheus.NewRegistry()
	reg.MustRegister(collector.New(m))
	throttled0 := throttles()
	var lists, gets float64
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		at := time.Now()
		for j, x := range all {
			if j%10 == i%10 { // a tenth of the functions change
				x.p.Start(x.t.spec.Function, "$LATEST", "", at.Add(-time.Second))
			}
		}
		world.ResetRequests()
		cpu0 := cpuTime()
		b.StartTimer()
		cycle()
		b.StopTimer()
		cpu += cpuTime() - cpu0
		r := world.Requests()
		lists += float64(r[lambdasim.OpList])
		gets += float64(r[lambdasim.OpGet])
	}
	n := float64(b.N)
	b.ReportMetric((throttles()-throttled0)/n, "throttled/cycle")
	b.ReportMetric(lists/n, "list-req/cycle")
	b.ReportMetric(gets/n, "get-req/cycle")
	b.ReportMetric(cpu.Seconds()/n, "cpu-s/cycle")
	perFn := lists / n / float64(len(all))
	b.ReportMetric(60*10/perFn, "functions/acct-region@60s")
	b.ReportMetric(60*15/perFn, "functions/acct-region@60s-at-quota")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")

	// /metrics: size and the time to gather and render it.
	var buf bytes.Buffer
	t0 := time.Now()
	const renders = 20
	for k := 0; k < renders; k++ {
		buf.Reset()
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			_ = enc.Encode(mf)
		}
	}
	b.ReportMetric(float64(time.Since(t0).Milliseconds())/renders, "metrics-render-ms")
	b.ReportMetric(float64(buf.Len())/(1<<20), "metrics-MiB")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
