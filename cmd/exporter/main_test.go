package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lde-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "lambda-durable-exporter")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

type proc struct {
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
}

// syncBuffer collects a process's output; the process writes it while the
// test may read it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the exporter binary with args and extra environment.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(binary, append([]string{"--web.listen-address=" + addr}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, addr: addr, logs: logs}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("exporter did not stop on SIGTERM; logs:\n%s", logs)
		}
	})
	return p
}

func (p *proc) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metrics waits until cond holds on the parsed /metrics output.
func (p *proc) metrics(t *testing.T, cond func(map[string]*dto) bool) map[string]*dto {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if code, body := p.get(t, "/metrics"); code == 200 {
			m := parse(t, body)
			if cond(m) {
				return m
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("condition not met within 30s; logs:\n%s", p.logs)
	return nil
}

type dto = struct{ samples map[string]float64 }

// parse maps metric name -> labels string -> value.
func parse(t *testing.T, body string) map[string]*dto {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bufio.NewReader(strings.NewReader(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string]*dto{}
	for name, mf := range mfs {
		d := &dto{samples: map[string]float64{}}
		for _, m := range mf.GetMetric() {
			var parts []string
			for _, l := range m.GetLabel() {
				parts = append(parts, l.GetName()+"="+l.GetValue())
			}
			key := strings.Join(parts, ",")
			switch {
			case m.Gauge != nil:
				d.samples[key] = m.GetGauge().GetValue()
			case m.Counter != nil:
				d.samples[key] = m.GetCounter().GetValue()
			case m.Histogram != nil:
				d.samples[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
		out[name] = d
	}
	return out
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var awsEnv = []string{"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_REGION=us-east-1",
	"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}

// TestBinaryAgainstSimulatedAPI runs the built exporter with a config file
// against the simulated API (reached through AWS_ENDPOINT_URL_LAMBDA, as a
// user would point it at a VPC endpoint) and checks /metrics against the
// truth, then a reload that keeps the counts.
func TestBinaryAgainstSimulatedAPI(t *testing.T) {
	now := time.Now()
	sim := lambdasim.New(lambdasim.Options{})
	sim.AddFunction("orders", []string{"$LATEST", "1"}, nil)
	sim.AddFunction("billing", []string{"$LATEST", "3"}, nil)
	for i := 0; i < 2500; i++ {
		at := now.Add(-time.Duration(i) * 30 * time.Second)
		arn := sim.Start("orders", "1", fmt.Sprintf("o-%d", i), at)
		if i%10 != 0 {
			status := []string{"SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"}[i%4]
			_ = sim.End(arn, status, at.Add(time.Second))
		}
	}
	for i := 0; i < 40; i++ {
		sim.Start("billing", "3", fmt.Sprintf("b-%d", i), now.Add(-time.Duration(i)*time.Minute))
	}
	sim.SetExecutionTimeout("billing", 2*time.Hour)
	srv := httptest.NewServer(sim)
	defer srv.Close()

	cfg := writeConfig(t, `
account_id: "`+sim.AccountID()+`"
interval: 1s
window: 24h
page_size: 200
functions:
  - name: orders
  - name: arn:aws:lambda:us-east-1:`+sim.AccountID()+`:function:billing
    qualifier: "3"
    statuses: [RUNNING, FAILED]
`)
	p := start(t, append(awsEnv, "AWS_ENDPOINT_URL_LAMBDA="+srv.URL), "--config.file="+cfg)
	// The static functions' execution timeouts are read with
	// GetFunctionConfiguration in the background (the simulator's default:
	// one day; billing's is set to 2h).
	m := p.metrics(t, func(m map[string]*dto) bool {
		return m["lambda_durable_executions"] != nil && len(m["lambda_durable_executions"].samples) == 7 &&
			m["lambda_durable_function_execution_timeout_seconds"] != nil &&
			len(m["lambda_durable_function_execution_timeout_seconds"].samples) == 2
	})
	for k, v := range map[string]float64{
		"account_id=123456789012,function=orders,qualifier=,region=us-east-1":   86400,
		"account_id=123456789012,function=billing,qualifier=3,region=us-east-1": 7200,
	} {
		if got := m["lambda_durable_function_execution_timeout_seconds"].samples[k]; got != v {
			t.Errorf("lambda_durable_function_execution_timeout_seconds{%s} = %v, want %v", k, got, v)
		}
	}
	ex := m["lambda_durable_executions"].samples
	// 2500 orders over 20.8h: all within 24h. i%10==0 run (250); of the
	// rest, i%4 picks the status.
	want := map[string]float64{
		"account_id=123456789012,function=orders,qualifier=,region=us-east-1,status=RUNNING":   250,
		"account_id=123456789012,function=orders,qualifier=,region=us-east-1,status=SUCCEEDED": 500,
		"account_id=123456789012,function=orders,qualifier=,region=us-east-1,status=FAILED":    625,
		"account_id=123456789012,function=orders,qualifier=,region=us-east-1,status=TIMED_OUT": 500,
		"account_id=123456789012,function=orders,qualifier=,region=us-east-1,status=STOPPED":   625,
		"account_id=123456789012,function=billing,qualifier=3,region=us-east-1,status=RUNNING": 40,
		"account_id=123456789012,function=billing,qualifier=3,region=us-east-1,status=FAILED":  0,
	}
	for k, v := range want {
		if ex[k] != v {
			t.Errorf("lambda_durable_executions{%s} = %v, want %v", k, ex[k], v)
		}
	}
	for _, name := range []string{
		"lambda_durable_executions_finished_total", "lambda_durable_execution_duration_seconds",
		"lambda_durable_execution_oldest_running_start_timestamp_seconds", "lambda_durable_exporter_poll_success",
		"lambda_durable_exporter_poll_duration_seconds", "lambda_durable_exporter_last_success_timestamp_seconds",
		"lambda_durable_exporter_api_requests_total", "lambda_durable_exporter_build_info",
		"lambda_durable_exporter_tracked_executions", "lambda_durable_exporter_poll_requests",
		"lambda_durable_exporter_config_last_reload_successful", "go_goroutines", "process_resident_memory_bytes",
	} {
		if m[name] == nil {
			t.Errorf("metric %s missing from /metrics", name)
		}
	}

	checkMetricList(t, m)

	// Ended after the exporter started: counted once, with its duration.
	arn := sim.Executions("billing")[0].ARN
	if err := sim.End(arn, "FAILED", time.Now()); err != nil {
		t.Fatal(err)
	}
	key := "account_id=123456789012,function=billing,qualifier=3,region=us-east-1,status=FAILED"
	p.metrics(t, func(m map[string]*dto) bool {
		return m["lambda_durable_executions_finished_total"].samples[key] == 1 &&
			m["lambda_durable_execution_duration_seconds"].samples[key] == 1
	})

	// Landing page, health, readiness, reload.
	if code, body := p.get(t, "/"); code != 200 || !strings.Contains(body, "/metrics") {
		t.Errorf("landing page: %d %q", code, body)
	}
	if code, _ := p.get(t, "/-/healthy"); code != 200 {
		t.Errorf("/-/healthy = %d", code)
	}
	if code, _ := p.get(t, "/-/ready"); code != 200 {
		t.Errorf("/-/ready = %d", code)
	}
	if code, _ := p.get(t, "/-/reload"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload = %d, want 405", code)
	}
	// A bad config is refused and changes nothing.
	if err := os.WriteFile(cfg, []byte("functions: []\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+p.addr+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("POST /-/reload with a bad config = %d, want 500", resp.StatusCode)
	}
	m = p.metrics(t, func(m map[string]*dto) bool {
		return m["lambda_durable_exporter_config_last_reload_successful"].samples[""] == 0
	})
	if m["lambda_durable_executions_finished_total"].samples[key] != 1 {
		t.Errorf("a failed reload changed the counts")
	}
}

func TestConfigCheck(t *testing.T) {
	good := writeConfig(t, "functions:\n  - name: orders\n")
	out, err := exec.Command(binary, "--config.check", "--config.file="+good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "is valid") {
		t.Fatalf("--config.check on a good file: %v %s", err, out)
	}
	bad := writeConfig(t, "interval: 0s\nfunctions:\n  - name: orders\n    statuses: [RUNING]\n")
	out, err = exec.Command(binary, "--config.check", "--config.file="+bad).CombinedOutput()
	if err == nil {
		t.Fatalf("--config.check on a bad file succeeded: %s", out)
	}
	for _, want := range []string{"line 1", "interval", "line 4", `"RUNING"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error output lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command(binary, "--config.file=/nonexistent/x.yaml").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "/nonexistent/x.yaml") {
		t.Errorf("missing config file: err=%v, output must name the path:\n%s", err, out)
	}
}

// checkMetricList proves that grafana/exporter-metrics.txt, which the
// dashboard tests check every panel query against, lists exactly the
// lambda_* metrics the exporter exposes.
func checkMetricList(t *testing.T, m map[string]*dto) {
	t.Helper()
	b, err := os.ReadFile("../../grafana/exporter-metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, l := range strings.Fields(string(b)) {
		listed[l] = true
	}
	exposed := map[string]bool{}
	for name := range m {
		if !strings.HasPrefix(name, "lambda_") {
			continue
		}
		if name == "lambda_durable_execution_duration_seconds" {
			for _, sfx := range []string{"_bucket", "_sum", "_count"} {
				exposed[name+sfx] = true
			}
			continue
		}
		exposed[name] = true
	}
	for n := range exposed {
		if !listed[n] {
			t.Errorf("%s is exposed but missing from grafana/exporter-metrics.txt", n)
		}
	}
	// Series that exist only when discovery or storage is configured.
	conditional := map[string]bool{
		"lambda_durable_exporter_discovery_success":            true,
		"lambda_durable_exporter_discovered_functions":         true,
		"lambda_durable_exporter_state_restored":               true,
		"lambda_durable_exporter_storage_writes_total":         true,
		"lambda_durable_exporter_storage_write_failures_total": true,
		"lambda_durable_exporter_storage_load_failures_total":  true,
	}
	if !exposed["lambda_durable_execution_errors_total"] { // only with breakdown error_type
		conditional["lambda_durable_execution_errors_total"] = true
		conditional["lambda_durable_exporter_error_reads_pending"] = true
	}
	for n := range listed {
		if !exposed[n] && !conditional[n] {
			t.Errorf("grafana/exporter-metrics.txt lists %s, which the exporter does not expose", n)
		}
	}
}

// TestFlagsDocumented: every flag of --help has its row in the flags table
// of docs/configuration.md.
func TestFlagsDocumented(t *testing.T) {
	out, err := exec.Command(binary, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	flags := regexp.MustCompile(`(?m)^\s+(?:-\w, )?--(?:\[no-\])?([a-z][a-z.-]*)`).FindAllStringSubmatch(string(out), -1)
	if len(flags) < 10 {
		t.Fatalf("found %d flags in --help:\n%s", len(flags), out)
	}
	for _, f := range flags {
		switch f[1] {
		case "help", "help-long", "help-man":
			continue
		}
		if !strings.Contains(string(doc), "`--"+f[1]+"`") {
			t.Errorf("flag --%s is not in the flags table of docs/configuration.md", f[1])
		}
	}
}
