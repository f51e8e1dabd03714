package poller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/durable"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/scrape"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
	"github.com/lambda-durable-exporter/lambda-durable-exporter/storage"
)

// sameState checks that a tracker restored from a checkpoint of want,
// configured as want was and recounted at its last success, equals it.
func sameState(t *testing.T, where string, got, want *tracker) {
	t.Helper()
	a, b := trackerCopy(got), trackerCopy(want)
	// Configuration comes from the spec, not the checkpoint.
	a.tombTTL, a.ages, a.interval = b.tombTTL, b.ages, b.interval
	a.pollNow = b.pollNow // the poll being applied: not state
	a.recount(a.lastSuccess)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("%s: restored state differs:\n got %+v\nwant %+v", where, summary(&a), summary(&b))
	}
}

func summary(t *tracker) string {
	return fmt.Sprintf("key=%x baseline=%d last=%d/%d primed=%v full=%v running=%d done=%d tomb=%d flagged=%d finished=%v invalid=%v corr=%d bounds=%v",
		t.key, t.baseline, t.lastSuccess, t.lastFull, t.primed, t.needFull, len(t.running), len(t.done), len(t.tomb), len(t.flagged),
		t.finished, t.invalid, t.corrections, t.bounds)
}

// TestCheckpointRoundTrip: every state the property test's programs reach,
// encoded and decoded, is the same state.
func TestCheckpointRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for run := range 40 {
		f := newFakeAPI("orders", 1)
		tr := newTracker()
		statuses := [][]durable.Status{nil, {durable.Failed, durable.TimedOut}, {durable.Running, durable.Succeeded}}[run%3]
		tr.configure(statusesOrAll(statuses), time.Hour.Milliseconds(), (5 * time.Minute).Milliseconds(), interval.Milliseconds())
		if run%4 == 1 {
			tr.setBuckets([]float64{1, 60, 3600})
		}
		breakdowns := run%2 == 1
		if breakdowns {
			f.version = func(n int) string { return fmt.Sprint(n / 7) }
			tr.setVersionBreakdown(true)
			tr.setErrorBreakdown(true, 2)
		}
		now := t0
		for range 30 {
			for range rng.IntN(5) {
				f.start(now-rng.Int64N(600_000), now)
			}
			for _, e := range f.execs {
				if e.status == durable.Running && rng.IntN(4) == 0 {
					f.end(e, terminals[rng.IntN(4)], now-1)
				}
			}
			pollFake(t, f, tr, now, 10*time.Minute)
			if breakdowns { // some errors read, some pending, some 404s
				ctx, cancel := context.WithCancel(context.Background())
				if len(tr.pending) > 0 {
					f.errMissed[tr.pending[0].arn] = 1
				}
				_, _, _ = tr.readErrors(ctx, &cancelAfter{fakeAPI: f, n: 2, cancel: cancel})
				cancel()
			}
			now += interval.Milliseconds()
		}
		if breakdowns { // a poll whose errors are not read yet
			e := f.start(now-1000, now)
			f.end(e, durable.Failed, now-10)
			pollFake(t, f, tr, now, 10*time.Minute)
			now += interval.Milliseconds()
		}
		if breakdowns && (len(tr.vers) < 3 || tr.exported[durable.Failed] && (len(tr.errCounts) == 0 || len(tr.pending) == 0)) {
			t.Fatalf("run %d: the state has %d versions, %d error counts, %d pending: the test covers too little",
				run, len(tr.vers), len(tr.errCounts), len(tr.pending))
		}
		tr.flag(12345, durable.MissingEnd, now)
		got, sv, err := decodeCheckpoint(encodeCheckpoint("key-"+fmt.Sprint(run), tr, 7))
		if err != nil {
			t.Fatal(err)
		}
		if sv.key != "key-"+fmt.Sprint(run) || sv.overruns != 7 {
			t.Fatalf("saved %+v", sv)
		}
		sameState(t, fmt.Sprintf("run %d", run), got, tr)
	}
}

// FuzzCheckpoint: whatever bytes the decoder is given, it never panics and
// never takes what it cannot re-encode to the same state; a payload that
// passes the file's checksum but was written by a buggy or foreign program
// still cannot crash the exporter.
func FuzzCheckpoint(f *testing.F) {
	fa := newFakeAPI("orders", 1)
	tr := newTracker()
	tr.configure(durable.Known, time.Hour.Milliseconds(), 300_000, interval.Milliseconds())
	for i := range 5 {
		fa.start(t0-int64(i)*1000, t0)
	}
	pollFake(f, fa, tr, t0, 0)
	fa.end(fa.execs[0], durable.Failed, t0+1000)
	pollFake(f, fa, tr, t0+60_000, 0)
	f.Add(encodeCheckpoint("k", tr, 1))
	fa.version = func(n int) string { return fmt.Sprint(n % 3) }
	tr.setVersionBreakdown(true)
	tr.setErrorBreakdown(true, 5)
	fa.end(fa.execs[1], durable.TimedOut, t0+61_000)
	fa.end(fa.execs[2], durable.Failed, t0+61_000)
	pollFake(f, fa, tr, t0+120_000, 0)
	fa.errMissed[fa.execs[2].arn] = 1
	_, _, _ = tr.readErrors(context.Background(), fa)
	f.Add(encodeCheckpoint("k", tr, 1))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, sv, err := decodeCheckpoint(b)
		if err != nil {
			if !errors.Is(err, errCheckpoint) {
				t.Fatalf("error %v does not wrap errCheckpoint", err)
			}
			return
		}
		again, sv2, err := decodeCheckpoint(encodeCheckpoint(sv.key, got, sv.overruns))
		if err != nil || sv2 != sv {
			t.Fatalf("re-encoding a decoded checkpoint: %v", err)
		}
		if !reflect.DeepEqual(trackerCopy(again), trackerCopy(got)) {
			t.Fatal("re-encoded checkpoint decodes differently")
		}
	})
}

// storedTarget is a simTarget whose manager keeps its state in dir: made
// again after a restart, it resumes from the checkpoint.
func (e *simEnv) storedTarget(t testing.TB, dir *storage.Dir, spec Spec, version string, s Settings) *simTarget {
	t.Helper()
	if spec.Key == "" {
		spec.Key = fmt.Sprintf("%s|%s|%v", spec.Function, spec.Qualifier, spec.Statuses)
	}
	m := NewManager(Options{Clock: e.clock, Store: dir})
	tg := m.newTarget(spec)
	tg.tracker.configure(statusesOrAll(spec.Statuses), spec.Window.Milliseconds(), s.Overlap.Milliseconds(), s.Interval.Milliseconds())
	tg.tracker.setBuckets(spec.DurationBuckets)
	st := &simTarget{env: e, m: m, t: tg, version: version, settings: s}
	if tg.restored {
		st.baseline = tg.tracker.baseline
	}
	return st
}

// TestRestartResumesFromCheckpoint: four targets polled every minute over
// HTTP; the exporter stops (at once after a poll, as a SIGKILL would) for
// 30 minutes, then for 13 hours (longer than two of the windows), while
// executions start and end. After each restart the counters continue from
// where they were, with no reset; before the first poll the counters serve
// what was last scraped and the gauges are withheld; after it every number
// equals the truth since the first baseline: every finish during the
// downtime counted, once.
func TestRestartResumesFromCheckpoint(t *testing.T) {
	env := newSimEnv(t, lambdasim.Options{}, 100)
	sim := env.sim
	sim.AddFunction("orders", []string{"$LATEST", "1", "2"}, map[string]string{"live": "2"})
	sim.AddFunction("billing", []string{"$LATEST", "1", "2"}, nil)
	rng := rand.New(rand.NewPCG(5, 6))
	history(rng, sim, env.clock.Now(), "orders", 2000)
	history(rng, sim, env.clock.Now(), "billing", 1000)
	dir, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := Settings{Interval: time.Minute, Overlap: 5 * time.Minute, Resync: time.Hour,
		Pool: scrape.PoolOptions{PageSize: 100, Limits: scrape.Limits{ListPerSecond: 1000, GetPerSecond: 1000}}}
	arn := "arn:aws:lambda:us-east-1:" + sim.AccountID() + ":function:billing"
	mk := func() []*simTarget {
		return []*simTarget{
			env.storedTarget(t, dir, Spec{Target: snapshot.Target{Function: "orders", Region: "us-east-1"}, APIName: "orders", Window: 24 * time.Hour}, "", s),
			env.storedTarget(t, dir, Spec{Target: snapshot.Target{Function: "orders", Qualifier: "live", Region: "us-east-1"}, APIName: "orders", Window: 6 * time.Hour}, "2", s),
			env.storedTarget(t, dir, Spec{Target: snapshot.Target{Function: "billing", Qualifier: "1", Region: "us-east-1"}, APIName: arn, Window: 24 * time.Hour}, "1", s),
			env.storedTarget(t, dir, Spec{Target: snapshot.Target{Function: "billing", Region: "us-east-1"}, APIName: arn, Window: 12 * time.Hour,
				Statuses: []durable.Status{durable.Failed, durable.TimedOut}}, "", s),
		}
	}
	targets := mk()
	baselines := make([]int64, len(targets))
	downtime := map[int]time.Duration{20: 30 * time.Minute, 40: 13 * time.Hour}
	for step := range 60 {
		if d, ok := downtime[step]; ok {
			last := make([]snapshot.Snapshot, len(targets))
			for i, tg := range targets {
				last[i] = *tg.t.snap.Load()
			}
			for m := time.Duration(0); m < d; m += time.Minute {
				env.clock.Add(time.Minute)
				workload(rng, sim, env.clock.Now(), []string{"orders", "billing"}, 3)
			}
			targets = mk()
			for i, tg := range targets {
				s := tg.t.snap.Load()
				if !tg.t.restored || !s.Restored || tg.baseline != baselines[i] {
					t.Fatalf("step %d: %s not restored (baseline %d, want %d)", step, tg.t.spec.Function, tg.baseline, baselines[i])
				}
				if s.Primed || s.Finished != last[i].Finished || s.Durations != last[i].Durations || s.Invalid != last[i].Invalid {
					t.Fatalf("step %d: %s before its first poll serves primed=%v finished %v, want the last scraped %v and no gauges",
						step, tg.t.spec.Function, s.Primed, s.Finished, last[i].Finished)
				}
				if s.LastSuccess != float64(tg.t.tracker.lastSuccess)/1000 {
					t.Fatalf("step %d: last success %v after the restart", step, s.LastSuccess)
				}
			}
		}
		for i, tg := range targets {
			prev := tg.t.snap.Load().Finished
			snap := tg.poll(t)
			tg.check(t, fmt.Sprintf("step %d", step), snap)
			for _, st := range durable.Terminals {
				if snap.Finished[st] < prev[st] {
					t.Fatalf("step %d: %s finished{status=%s} went from %d to %d", step, tg.t.spec.Function, st, prev[st], snap.Finished[st])
				}
			}
			if step == 0 {
				baselines[i] = tg.baseline
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		env.clock.Add(time.Minute)
		workload(rng, sim, env.clock.Now(), []string{"orders", "billing"}, 8)
	}
}

// TestCheckpointBeforePublish: after every poll the checkpoint on disk
// holds the numbers the snapshot publishes, so a SIGKILL at any moment
// resumes at or above every value a scrape saw.
func TestCheckpointBeforePublish(t *testing.T) {
	env := newSimEnv(t, lambdasim.Options{}, 50)
	env.sim.AddFunction("orders", []string{"$LATEST"}, nil)
	rng := rand.New(rand.NewPCG(7, 8))
	history(rng, env.sim, env.clock.Now(), "orders", 300)
	dir, _ := storage.Open(t.TempDir())
	s := Settings{Interval: time.Minute, Overlap: 5 * time.Minute, Pool: scrape.PoolOptions{PageSize: 50, Limits: scrape.Limits{ListPerSecond: 1000, GetPerSecond: 1000}}}
	spec := Spec{Target: snapshot.Target{Function: "orders", Region: "us-east-1"}, APIName: "orders", Window: 24 * time.Hour}
	tg := env.storedTarget(t, dir, spec, "", s)
	for step := range 15 {
		snap := tg.poll(t)
		// A SIGKILL now: another process resumes from what is on disk.
		again := env.storedTarget(t, dir, spec, "", s)
		r := again.t.snap.Load()
		if r.Finished != snap.Finished || r.Durations != snap.Durations || r.Corrections != snap.Corrections {
			t.Fatalf("step %d: the checkpoint holds finished %v, the snapshot published %v", step, r.Finished, snap.Finished)
		}
		env.clock.Add(time.Minute)
		workload(rng, env.sim, env.clock.Now(), []string{"orders"}, 5)
	}
}

// TestDamagedCheckpointStartsFresh: a checkpoint damaged at random (a
// truncation, a flipped bit, garbage, an empty file, another target's, one
// too large to be ours) is logged with its path and counted; the target
// starts fresh and serves after its first poll, and the next checkpoint
// replaces the damaged one.
func TestDamagedCheckpointStartsFresh(t *testing.T) {
	env := newSimEnv(t, lambdasim.Options{}, 100)
	env.sim.AddFunction("orders", []string{"$LATEST"}, nil)
	history(rand.New(rand.NewPCG(9, 10)), env.sim, env.clock.Now(), "orders", 200)
	root := t.TempDir()
	dir, _ := storage.Open(root)
	s := Settings{Interval: time.Minute, Overlap: 5 * time.Minute, Pool: scrape.PoolOptions{PageSize: 100, Limits: scrape.Limits{ListPerSecond: 1000, GetPerSecond: 1000}}}
	spec := Spec{Target: snapshot.Target{Function: "orders", Region: "us-east-1"}, APIName: "orders", Window: 24 * time.Hour, Key: "orders"}
	tg := env.storedTarget(t, dir, spec, "", s)
	tg.poll(t)
	file := dir.File(checkpointName("orders"))
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	other := storage.Encode(encodeCheckpoint("billing", tg.t.tracker, 0))
	rng := rand.New(rand.NewPCG(11, 12))
	damage := map[string]func() []byte{
		"empty":     func() []byte { return nil },
		"truncated": func() []byte { return good[:rng.IntN(len(good))] },
		"bit flipped": func() []byte {
			b := slices.Clone(good)
			i := rng.IntN(len(b) * 8)
			b[i/8] ^= 1 << (i % 8)
			return b
		},
		"garbage":         func() []byte { return []byte("\x00\x01 not a checkpoint") },
		"another target":  func() []byte { return other },
		"a sane envelope": func() []byte { return storage.Encode([]byte{0xff, 0xff, 0xff}) },
	}
	for name, mk := range damage {
		for range 5 {
			if err := os.WriteFile(file, mk(), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			m := NewManager(Options{Clock: env.clock, Store: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			before := dir.Stats().LoadFailures
			nt := m.newTarget(spec)
			if nt.restored || dir.Stats().LoadFailures != before+1 {
				t.Fatalf("%s: restored=%v, load failures %d -> %d", name, nt.restored, before, dir.Stats().LoadFailures)
			}
			if l := logs.String(); !strings.Contains(l, "storage: cannot use the checkpoint") || !strings.Contains(l, file) {
				t.Fatalf("%s: log %q does not name the file", name, l)
			}
			st := &simTarget{env: env, m: m, t: nt, settings: s}
			nt.tracker.configure(durable.Known, spec.Window.Milliseconds(), s.Overlap.Milliseconds(), s.Interval.Milliseconds())
			if snap := st.poll(t); !snap.PollSuccess || !snap.Primed {
				t.Fatalf("%s: the fresh target does not serve", name)
			}
			if _, err := dir.Read(checkpointName("orders")); err != nil {
				t.Fatalf("%s: the next poll did not write a good checkpoint: %v", name, err)
			}
		}
	}
}

// TestFailingWritesKeepPolling: with the checkpoint directory gone bad (the
// temporary file's name taken, as a full or read-only disk fails a write),
// polls go on and publish, each failure is logged and counted, and the
// state is written again once the disk is back.
func TestFailingWritesKeepPolling(t *testing.T) {
	env := newSimEnv(t, lambdasim.Options{}, 100)
	env.sim.AddFunction("orders", []string{"$LATEST"}, nil)
	dir, _ := storage.Open(t.TempDir())
	s := Settings{Interval: time.Minute, Overlap: 5 * time.Minute, Pool: scrape.PoolOptions{PageSize: 100, Limits: scrape.Limits{ListPerSecond: 1000, GetPerSecond: 1000}}}
	spec := Spec{Target: snapshot.Target{Function: "orders", Region: "us-east-1"}, APIName: "orders", Window: time.Hour, Key: "orders"}
	var logs bytes.Buffer
	tg := env.storedTarget(t, dir, spec, "", s)
	tg.m.logger = slog.New(slog.NewTextHandler(&logs, nil))
	tmp := dir.File(checkpointName("orders")) + ".tmp"
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		arn := env.sim.Start("orders", "$LATEST", fmt.Sprint("r", i), env.clock.Now())
		_ = env.sim.End(arn, lambdasim.StatusFailed, env.clock.Now())
		env.clock.Add(time.Minute)
		if snap := tg.poll(t); !snap.PollSuccess {
			t.Fatal("poll failed")
		}
	}
	if f := dir.Stats().WriteFailures; f != 3 || !tg.t.unsaved {
		t.Fatalf("write failures %d, unsaved %v", f, tg.t.unsaved)
	}
	if !strings.Contains(logs.String(), "storage: writing the checkpoint failed") {
		t.Fatalf("log: %s", logs.String())
	}
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
	tg.poll(t)
	b, err := dir.Read(checkpointName("orders"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := decodeCheckpoint(b); err != nil || got.finished[durable.Failed] != tg.t.snap.Load().Finished[durable.Failed] {
		t.Fatalf("checkpoint after recovery: %v", err)
	}
}

// TestRemovedTargetsLeaveTheState: a reload that removes a target deletes
// its checkpoint; a checkpoint no configured target claims (a function
// removed while the exporter was down) is removed an hour after the start,
// not before (discovery may not have found every function yet).
func TestRemovedTargetsLeaveTheState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := t.TempDir()
		dir, _ := storage.Open(root)
		if err := dir.Write("0123456789abcdef01234567", storage.Encode(nil)); err != nil { // unclaimed
			t.Fatal(err)
		}
		src := newFakeAPI("x", 1)
		m := NewManager(Options{Store: dir, Connect: func(scrape.PoolOptions) SourceFunc { return func(Spec) Source { return src } }})
		ctx, cancel := context.WithCancel(context.Background())
		defer func() { cancel(); m.Wait() }()
		s := Settings{Interval: time.Minute, Overlap: time.Minute}
		a, b := quietSpec("a"), quietSpec("b")
		m.Apply(ctx, s, []Spec{a, b})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		names := func() []string { n, _ := dir.Names(); slices.Sort(n); return n }
		want := []string{"0123456789abcdef01234567", checkpointName(a.Key), checkpointName(b.Key)}
		slices.Sort(want)
		if got := names(); !slices.Equal(got, want) {
			t.Fatalf("checkpoints %v, want %v", got, want)
		}
		m.Apply(ctx, s, []Spec{a})
		want = slices.DeleteFunc(want, func(n string) bool { return n == checkpointName(b.Key) })
		if got := names(); !slices.Equal(got, want) {
			t.Fatalf("after removing b: %v, want %v", got, want)
		}
		time.Sleep(sweepGrace - 11*time.Second)
		synctest.Wait()
		if got := names(); !slices.Equal(got, want) {
			t.Fatalf("before the grace: %v, want %v", got, want)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := names(); !slices.Equal(got, []string{checkpointName(a.Key)}) {
			t.Fatalf("after the grace: %v", got)
		}
	})
}

// BenchmarkCheckpoint measures a checkpoint of a large target: its size
// per tracked execution (running ones carry their ARN, terminal ones a
// compact record), and the time to encode and write it. Run:
//
//	go test -run '^$' -bench BenchmarkCheckpoint -benchtime 20x ./poller/
func BenchmarkCheckpoint(b *testing.B) {
	for _, c := range []struct{ running, done int }{{1000, 10_000}, {10_000, 100_000}} {
		b.Run(fmt.Sprintf("running=%d/done=%d", c.running, c.done), func(b *testing.B) {
			tr := newTracker()
			tr.configure(durable.Known, (24 * time.Hour).Milliseconds(), 300_000, 60_000)
			tr.primed, tr.baseline, tr.lastSuccess = true, t0, t0
			for i := range c.running {
				// An ARN as the API writes it: a version, a name, a UUID.
				arn := fmt.Sprintf("arn:aws:lambda:us-east-1:123456789012:function:order-workflow:17/durable-execution/order-%08d/%08x-4b1e-4c2d-9f3a-%012x", i, i*7919, i*104729)
				tr.running[tr.hash(arn)] = runRec{arn: arn, start: t0 - int64(i)*1000}
			}
			for i := range c.done {
				tr.done[uint64(i)*0x9e3779b97f4a7c15] = mkDone(t0-int64(i)*500, terminals[i%4], 0)
			}
			dir, _ := storage.Open(b.TempDir())
			var n int
			for b.Loop() {
				p := encodeCheckpoint("orders", tr, 0)
				n = len(storage.Encode(p))
				if err := dir.Write("t", p); err != nil {
					b.Fatal(err)
				}
			}
			empty := *tr
			empty.running, empty.done = nil, nil
			base := len(storage.Encode(encodeCheckpoint("orders", &empty, 0)))
			onlyRunning := empty
			onlyRunning.running = tr.running
			r := len(storage.Encode(encodeCheckpoint("orders", &onlyRunning, 0))) - base
			b.ReportMetric(float64(n), "file_bytes")
			b.ReportMetric(float64(r)/float64(c.running), "bytes/running")
			b.ReportMetric(float64(n-base-r)/float64(c.done), "bytes/terminal")
		})
	}
}
