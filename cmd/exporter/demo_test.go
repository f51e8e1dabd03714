package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDemoShowsLongRunners: the demo has workflows running for longer than
// its 24h window, counted as RUNNING, in the oldest start and in the
// running-age gauges, so that those panels and RunningTooLong show them;
// and that its functions have distinct execution timeouts.
func TestDemoShowsLongRunners(t *testing.T) {
	p := start(t, demoEnv, "--demo")
	const of = "account_id=123456789012,function=order-workflow,qualifier=,region=us-east-1"
	const bl = "account_id=123456789012,function=billing,qualifier=live,region=us-east-1"
	// Labels are in name order: age_seconds after account_id.
	age := func(fn, secs string) string {
		return strings.Replace(fn, ",function=", ",age_seconds="+secs+",function=", 1)
	}
	m := p.metrics(t, func(m map[string]*dto) bool {
		o := m["lambda_durable_executions_running_older_than"]
		// Each function's first poll ends on its own: wait for both.
		return o != nil && o.samples[age(bl, "2592000")] > 0 && o.samples[age(of, "604800")] > 0 &&
			m["lambda_durable_execution_oldest_running_start_timestamp_seconds"] != nil &&
			m["lambda_durable_function_execution_timeout_seconds"] != nil && len(m["lambda_durable_function_execution_timeout_seconds"].samples) >= 3 // the static three; inventory-sync once discovered
	})
	// Distinct timeouts, read with GetFunctionConfiguration; billing's long
	// runner is past 80% of its timeout (LambdaDurableExecutionNearTimeout).
	timeouts := m["lambda_durable_function_execution_timeout_seconds"].samples
	if timeouts[of] != 14*86400 || timeouts[bl] != 45*86400 {
		t.Errorf("execution timeouts order-workflow %v, billing %v; want 14d and 45d", timeouts[of], timeouts[bl])
	}
	older := m["lambda_durable_executions_running_older_than"].samples
	if older[age(of, "604800")] < 1 || older[age(of, "86400")] < 2 {
		t.Errorf("order-workflow running older than 1d/7d: %v/%v, want at least 2/1", older[age(of, "86400")], older[age(of, "604800")])
	}
	if older[age(bl, "2592000")] < 1 {
		t.Errorf("billing (live) running older than 30d: %v, want at least 1", older[age(bl, "2592000")])
	}
	oldest := m["lambda_durable_execution_oldest_running_start_timestamp_seconds"].samples[bl]
	if age := time.Since(time.Unix(int64(oldest), 0)); age < 39*24*time.Hour {
		t.Errorf("billing's oldest running execution is %v old, want the 40-day long runner", age.Round(time.Hour))
	}
}

// TestDemoSaysItIsADemo: the demo's landing page says the numbers are made
// up, its discovery entry finds the function the static list lacks (so the
// discovery panels show data), and a reload names the built-in
// configuration, not a config.yaml that does not exist.
func TestDemoSaysItIsADemo(t *testing.T) {
	p := start(t, demoEnv, "--demo")
	m := p.metrics(t, func(m map[string]*dto) bool {
		d, e := m["lambda_durable_exporter_discovered_functions"], m["lambda_durable_executions"]
		if d == nil || e == nil {
			return false
		}
		for k := range e.samples {
			if strings.Contains(k, "function=inventory-sync,") {
				return true
			}
		}
		return false
	})
	if n := m["lambda_durable_exporter_discovered_functions"].samples["discovery=0,region=us-east-1"]; n != 1 {
		t.Errorf("discovered_functions = %v, want 1 (inventory-sync)", n)
	}
	if code, body := p.get(t, "/"); code != 200 || !strings.Contains(body, "DEMO MODE") {
		t.Errorf("landing page (%d) does not say it is a demo:\n%s", code, body)
	}
	resp, err := http.Post("http://"+p.addr+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.logs.String(), "configuration reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged:\n%s", p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if logs := p.logs.String(); !strings.Contains(logs, `file="the built-in demo configuration"`) || strings.Contains(logs, "config.yaml") {
		t.Errorf("the reload log does not name the built-in demo configuration:\n%s", logs)
	}
}
