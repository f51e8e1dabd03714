package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

// TestBinaryResumesFromStorage runs the binary with --storage.path against
// the simulated API: it is killed (SIGKILL) right after it counted some
// finishes; while it is down executions end, and others start and end;
// restarted, it continues its counters and counts every finish of the
// downtime exactly once. Then, stopped with SIGTERM and its checkpoint
// damaged, it logs the file, counts the failure, starts fresh and serves
// within seconds.
func TestBinaryResumesFromStorage(t *testing.T) {
	sim := lambdasim.New(lambdasim.Options{})
	sim.AddFunction("orders", []string{"$LATEST", "1"}, nil)
	now := time.Now()
	var running []string
	for i := range 30 {
		running = append(running, sim.Start("orders", "1", fmt.Sprintf("r-%d", i), now.Add(-time.Duration(i+1)*time.Hour)))
	}
	// A long runner older than the window: RUNNING whatever its age.
	sim.Start("orders", "1", "ancient", now.Add(-72*time.Hour))
	srv := httptest.NewServer(sim)
	defer srv.Close()
	cfg := writeConfig(t, `
account_id: "`+sim.AccountID()+`"
interval: 1s
window: 24h
functions:
  - name: orders
`)
	dir := filepath.Join(t.TempDir(), "state")
	env := append(slices.Clone(awsEnv), "AWS_ENDPOINT_URL_LAMBDA="+srv.URL)
	args := []string{"--config.file=" + cfg, "--storage.path=" + dir}
	const fn = "account_id=123456789012,function=orders,qualifier=,region=us-east-1"
	finished := func(m map[string]*dto, status string) float64 {
		return m["lambda_durable_executions_finished_total"].samples[fn+",status="+status]
	}
	observed := func(m map[string]*dto, status string) float64 {
		return m["lambda_durable_execution_duration_seconds"].samples[fn+",status="+status]
	}
	end := func(arns []string, status string) {
		for _, a := range arns {
			if err := sim.End(a, status, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}

	p := start(t, env, args...)
	p.metrics(t, func(m map[string]*dto) bool {
		return m["lambda_durable_executions"] != nil && m["lambda_durable_executions"].samples[fn+",status=RUNNING"] == 31
	})
	end(running[:3], "FAILED")
	m := p.metrics(t, func(m map[string]*dto) bool { return finished(m, "FAILED") == 3 })
	if m["lambda_durable_exporter_state_restored"].samples[fn] != 0 || m["lambda_durable_exporter_storage_writes_total"] == nil {
		t.Fatalf("first start: state_restored %v", m["lambda_durable_exporter_state_restored"].samples)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = p.cmd.Process.Wait()

	// Down: long runners end, new executions start and end.
	end(running[3:8], "FAILED")
	end(running[8:10], "TIMED_OUT")
	for i := range 4 {
		a := sim.Start("orders", "1", fmt.Sprintf("new-%d", i), time.Now())
		end([]string{a}, "SUCCEEDED")
	}
	time.Sleep(1100 * time.Millisecond) // the downtime spans a poll interval

	p = start(t, env, args...)
	m = p.metrics(t, func(m map[string]*dto) bool {
		return m["lambda_durable_executions"] != nil && finished(m, "FAILED") == 8 && finished(m, "TIMED_OUT") == 2 && finished(m, "SUCCEEDED") == 4
	})
	if m["lambda_durable_exporter_state_restored"].samples[fn] != 1 {
		t.Fatalf("restart: state_restored %v", m["lambda_durable_exporter_state_restored"].samples)
	}
	if !strings.Contains(p.logs.String(), "storage: resumed from the checkpoint") {
		t.Errorf("restart logs:\n%s", p.logs)
	}
	// Several polls later nothing was counted twice.
	time.Sleep(3 * time.Second)
	m = p.metrics(t, func(map[string]*dto) bool { return true })
	for status, want := range map[string]float64{"FAILED": 8, "TIMED_OUT": 2, "SUCCEEDED": 4, "STOPPED": 0} {
		if finished(m, status) != want || observed(m, status) != want {
			t.Errorf("after the restart finished{status=%s} = %v (%v observed), want %v", status, finished(m, status), observed(m, status), want)
		}
	}
	if r := m["lambda_durable_executions"].samples[fn+",status=RUNNING"]; r != 21 {
		t.Errorf("RUNNING = %v, want 21 (the 72h-old one included)", r)
	}

	// A damaged checkpoint: logged with its path, counted, a fresh start.
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_, _ = p.cmd.Process.Wait()
	files, _ := filepath.Glob(filepath.Join(dir, "*.ckpt"))
	if len(files) != 1 {
		t.Fatalf("checkpoints %v", files)
	}
	if err := os.WriteFile(files[0], []byte("LDXC\x01\x00garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	p = start(t, env, args...)
	m = p.metrics(t, func(m map[string]*dto) bool {
		return m["lambda_durable_exporter_poll_success"] != nil && m["lambda_durable_exporter_poll_success"].samples[fn] == 1
	})
	t.Logf("served %v after the start with a damaged checkpoint", time.Since(started).Round(time.Millisecond))
	if m["lambda_durable_exporter_storage_load_failures_total"].samples[""] != 1 || m["lambda_durable_exporter_state_restored"].samples[fn] != 0 {
		t.Errorf("damaged: load failures %v, restored %v", m["lambda_durable_exporter_storage_load_failures_total"].samples, m["lambda_durable_exporter_state_restored"].samples)
	}
	if l := p.logs.String(); !strings.Contains(l, "storage: cannot use the checkpoint") || !strings.Contains(l, files[0]) {
		t.Errorf("damaged checkpoint logs:\n%s", l)
	}
}
