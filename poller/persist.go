package poller

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/snapshot"
)

// sweepGrace is how long after the start a checkpoint that no target has
// claimed is kept: discovery may take a while to find every function, and a
// function it has not found yet must not lose its state.
const sweepGrace = time.Hour

// newTarget makes the state of a target that Apply sees for the first time:
// from its checkpoint when there is a usable one, else fresh. A checkpoint
// that cannot be used is logged with its path and counted, and the target
// starts fresh: bad state never stops the exporter.
func (m *Manager) newTarget(sp Spec) *target {
	t := &target{spec: sp, tracker: newTracker(), stored: m.store != nil}
	if m.store != nil {
		m.restore(t)
	}
	t.publish(t.tracker, time.Time{}, 0, false, snapshot.Requests{})
	if t.restored {
		// Staleness alerts see the real age of the numbers.
		s := *t.snap.Load()
		s.LastSuccess = float64(t.tracker.lastSuccess) / 1000
		t.store(&s)
	}
	return t
}

func (m *Manager) restore(t *target) {
	name := checkpointName(t.spec.Key)
	path := m.store.File(name)
	log := m.logger.With("function", t.spec.Function, "qualifier", t.spec.Qualifier, "region", t.spec.Region, "file", path)
	b, err := m.store.Read(name)
	if errors.Is(err, fs.ErrNotExist) {
		log.Info("storage: no checkpoint, the target starts fresh")
		return
	}
	var tr *tracker
	var sv saved
	if err == nil {
		tr, sv, err = decodeCheckpoint(b)
	}
	if err == nil && sv.key != t.spec.Key {
		err = errors.New("the checkpoint is another target's (" + sv.key + ")")
	}
	if err != nil {
		m.store.ReportLoadFailure()
		log.Error("storage: cannot use the checkpoint, the target starts fresh", "err", err)
		return
	}
	// The first poll lists the whole window and everything since the last
	// success: what ended while the exporter was down is counted then, and
	// the poll has a full listing's deadline.
	tr.needFull = true
	t.tracker, t.overruns, t.restored = tr, sv.overruns, true
	log.Info("storage: resumed from the checkpoint", "last_success", time.UnixMilli(tr.lastSuccess).UTC(),
		"tracked", tr.size(), "bytes", len(b))
}

// save checkpoints t when storage is on. A failing write is logged and
// counted (by the store), and polling goes on; the state is written again
// after the next poll or when the target stops.
func (m *Manager) save(t *target) {
	if m.store == nil || !t.tracker.primed {
		return
	}
	name := checkpointName(t.spec.Key)
	if err := m.store.Write(name, encodeCheckpoint(t.spec.Key, t.tracker, t.overruns)); err != nil {
		t.unsaved = true
		m.logger.Error("storage: writing the checkpoint failed; polling goes on", "function", t.spec.Function,
			"qualifier", t.spec.Qualifier, "file", m.store.File(name), "err", err)
		return
	}
	t.unsaved = false
}

// forget removes the checkpoint of a target that is no longer configured.
func (m *Manager) forget(t *target) {
	if m.store == nil {
		return
	}
	if err := m.store.Remove(checkpointName(t.spec.Key)); err != nil {
		m.logger.Warn("storage: cannot remove the checkpoint of a removed target", "function", t.spec.Function, "err", err)
	}
}

// sweep removes, sweepGrace after the start, the checkpoints that no
// configured target claims: functions removed from the configuration while
// the exporter was down.
func (m *Manager) sweep(ctx context.Context) {
	if !m.clock.Sleep(ctx, sweepGrace-m.clock.Now().Sub(m.started)) {
		return
	}
	m.applyMu.Lock()
	claimed := make(map[string]bool, len(m.targets))
	for k := range m.targets {
		claimed[checkpointName(k)] = true
	}
	m.applyMu.Unlock()
	names, err := m.store.Names()
	if err != nil {
		m.logger.Warn("storage: cannot list checkpoints", "err", err)
		return
	}
	for _, n := range names {
		if claimed[n] {
			continue
		}
		if err := m.store.Remove(n); err != nil {
			m.logger.Warn("storage: cannot remove an unclaimed checkpoint", "file", m.store.File(n), "err", err)
			continue
		}
		m.logger.Info("storage: removed the checkpoint of a target no longer configured", "file", m.store.File(n))
	}
}
