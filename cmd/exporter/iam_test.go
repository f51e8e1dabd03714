package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

const policyFile = "../../deploy/iam/policy.json"

// iamPolicy is the part of an IAM policy document these tests read.
// Action and Resource may be a string or a list; both decode to a list.
type iamPolicy struct {
	Version   string
	Statement []iamStatement
}

type iamStatement struct {
	Sid         string
	Effect      string
	Action      stringOrList
	Resource    stringOrList
	NotAction   json.RawMessage
	NotResource json.RawMessage
	Principal   json.RawMessage
	Condition   json.RawMessage
}

type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// policyActions are the only actions a read-only exporter needs.
var policyActions = []string{"lambda:ListDurableExecutionsByFunction", "lambda:GetDurableExecution"}

func loadPolicy(t *testing.T) *iamPolicy {
	t.Helper()
	b, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var p iamPolicy
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", policyFile, err)
	}
	return &p
}

// iamMatch reports whether value matches an IAM pattern, where * matches any
// run of characters (':' and '/' included) and ? any one character; the
// comparison is case-sensitive, as it is for ARNs.
func iamMatch(pattern, value string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(value)
}

// allows reports whether some Allow statement grants action on resource.
func (p *iamPolicy) allows(action, resource string) bool {
	for _, s := range p.Statement {
		if s.Effect != "Allow" || !slices.Contains(s.Action, action) {
			continue
		}
		for _, r := range s.Resource {
			if iamMatch(r, resource) {
				return true
			}
		}
	}
	return false
}

// TestIAMPolicyDocument checks deploy/iam/policy.json is a least-privilege
// read-only policy: valid JSON, the current policy language version, only
// Allow statements each with a unique Sid, only the two durable-execution
// read actions, no wildcards in actions, and ARN-shaped resources.
func TestIAMPolicyDocument(t *testing.T) {
	p := loadPolicy(t)
	if p.Version != "2012-10-17" {
		t.Errorf("Version = %q, want 2012-10-17", p.Version)
	}
	if len(p.Statement) == 0 {
		t.Fatal("no statements")
	}
	sids := map[string]bool{}
	var actions []string
	for i, s := range p.Statement {
		if s.Sid == "" || !regexp.MustCompile(`^[A-Za-z0-9]+$`).MatchString(s.Sid) || sids[s.Sid] {
			t.Errorf("statement %d: Sid %q must be unique, non-empty and alphanumeric", i, s.Sid)
		}
		sids[s.Sid] = true
		if s.Effect != "Allow" {
			t.Errorf("%s: Effect %q, want Allow", s.Sid, s.Effect)
		}
		if s.NotAction != nil || s.NotResource != nil || s.Principal != nil {
			t.Errorf("%s: NotAction, NotResource and Principal do not belong in this identity policy", s.Sid)
		}
		if len(s.Action) == 0 || len(s.Resource) == 0 {
			t.Errorf("%s: needs Action and Resource", s.Sid)
		}
		for _, a := range s.Action {
			if strings.ContainsAny(a, "*?") || !slices.Contains(policyActions, a) {
				t.Errorf("%s: action %q; allowed actions are exactly %v, no wildcards", s.Sid, a, policyActions)
			}
			actions = append(actions, a)
		}
		for _, r := range s.Resource {
			if !strings.HasPrefix(r, "arn:aws:lambda:") || !strings.Contains(r, ":function:") {
				t.Errorf("%s: resource %q is not a Lambda function ARN pattern", s.Sid, r)
			}
		}
	}
	slices.Sort(actions)
	want := slices.Clone(policyActions)
	slices.Sort(want)
	if !slices.Equal(slices.Compact(actions), want) {
		t.Errorf("actions = %v, want each of %v", actions, want)
	}

	// The resources mean what the README says (LAMBDA-DURABLE-API.md, "IAM
	// for a read-only exporter").
	const (
		list      = "lambda:ListDurableExecutionsByFunction"
		get       = "lambda:GetDurableExecution"
		fn        = "arn:aws:lambda:eu-west-1:111122223333:function:orders"
		execution = fn + ":$LATEST/durable-execution/order-42/0a1b2c3d"
	)
	for _, c := range []struct {
		action, resource string
		want             bool
	}{
		{list, fn, true},
		{list, fn + ":live", true},
		{list, fn + ":7", true},
		{get, execution, true},
		{get, fn + ":7/durable-execution/x/y", true},
		{get, fn, false}, // Get is granted on executions only
		{"lambda:InvokeFunction", fn, false},
		{"lambda:ListFunctions", "*", false},
		{list, "arn:aws:s3:::bucket", false},
	} {
		if got := p.allows(c.action, c.resource); got != c.want {
			t.Errorf("allows(%s, %s) = %v, want %v", c.action, c.resource, got, c.want)
		}
	}
}

// apiCall is one request the exporter sent, as IAM would authorize it.
type apiCall struct{ action, resource string }

// recorder serves the simulator and records the IAM action and resource of
// every request.
type recorder struct {
	sim            *lambdasim.Server
	region, accnt  string
	mu             sync.Mutex
	calls          []apiCall
	unknownRequest []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	const listPrefix, listSuffix, getPrefix = "/2025-12-01/functions/", "/durable-executions", "/2025-12-01/durable-executions/"
	p := req.URL.EscapedPath()
	var c apiCall
	switch {
	case strings.HasPrefix(p, listPrefix) && strings.HasSuffix(p, listSuffix):
		name, _ := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(p, listPrefix), listSuffix))
		// IAM authorizes the function ARN, qualified when a Qualifier is sent.
		arn := name
		switch parts := strings.Split(name, ":"); {
		case parts[0] == "arn":
		case len(parts) > 1 && parts[1] == "function":
			arn = "arn:aws:lambda:" + r.region + ":" + name
		default:
			arn = "arn:aws:lambda:" + r.region + ":" + r.accnt + ":function:" + name
		}
		if q := req.URL.Query().Get("Qualifier"); q != "" {
			arn += ":" + q
		}
		c = apiCall{"lambda:" + lambdasim.OpList, arn}
	case strings.HasPrefix(p, getPrefix):
		arn, _ := url.PathUnescape(strings.TrimPrefix(p, getPrefix))
		c = apiCall{"lambda:" + lambdasim.OpGet, arn}
	}
	r.mu.Lock()
	if c.action != "" {
		r.calls = append(r.calls, c)
	} else {
		r.unknownRequest = append(r.unknownRequest, req.Method+" "+p)
	}
	r.mu.Unlock()
	r.sim.ServeHTTP(w, req)
}

func (r *recorder) snapshot() ([]apiCall, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls), slices.Clone(r.unknownRequest)
}

// TestIAMPolicyCoversExporterCalls runs the binary against the simulated API
// with a workload that makes it use both operations: listings every poll,
// and a GetDurableExecution for a long-running execution (started 10 days
// ago, far outside window and overlap) that ends while the exporter watches,
// so that it can only be read back by ARN. Every request must be allowed by
// deploy/iam/policy.json, and the operations used must be exactly the
// policy's actions: an action the policy lacks would fail in AWS with
// AccessDenied, one it has but the exporter never uses is excess privilege.
func TestIAMPolicyCoversExporterCalls(t *testing.T) {
	policy := loadPolicy(t)
	now := time.Now()
	sim := lambdasim.New(lambdasim.Options{})
	sim.AddFunction("orders", []string{"$LATEST", "1"}, nil)
	sim.AddFunction("billing", []string{"$LATEST", "3"}, map[string]string{"live": "3"})
	longRunner := sim.Start("orders", "1", "long-runner", now.Add(-10*24*time.Hour))
	for i := 0; i < 30; i++ {
		at := now.Add(-time.Duration(i) * time.Minute)
		arn := sim.Start("orders", "1", fmt.Sprintf("o-%d", i), at)
		if i%3 == 0 {
			_ = sim.End(arn, lambdasim.StatusSucceeded, at.Add(time.Second))
		}
		sim.Start("billing", "3", fmt.Sprintf("b-%d", i), at)
	}
	rec := &recorder{sim: sim, region: sim.Region(), accnt: sim.AccountID()}
	srv := httptest.NewServer(rec)
	defer srv.Close()

	cfg := writeConfig(t, `
interval: 1s
window: 1h
overlap: 1m
functions:
  - name: orders
  - name: arn:aws:lambda:us-east-1:`+sim.AccountID()+`:function:billing
    qualifier: live
`)
	p := startLogged(t, append(awsEnv, "AWS_ENDPOINT_URL_LAMBDA="+srv.URL), "--config.file="+cfg)

	// Ready: every function polled once, so the long runner is tracked.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := p.get(t, "/-/ready"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("exporter not ready within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := sim.End(longRunner, lambdasim.StatusFailed, time.Now()); err != nil {
		t.Fatal(err)
	}
	// Counted as finished: the exporter read it back.
	deadline = time.Now().Add(30 * time.Second)
	for sim.Requests()[lambdasim.OpGet] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no GetDurableExecution within 30s of ending the long runner; requests %v", sim.Requests())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Counted as finished once read back. (Not p.metrics: its failure
	// message reads the output of a running process, which races.)
	finished := func() bool {
		code, body := p.get(t, "/metrics")
		if code != 200 {
			return false
		}
		f := parse(t, body)["lambda_durable_executions_finished_total"]
		if f == nil {
			return false
		}
		for k, v := range f.samples {
			if strings.Contains(k, "function=orders,") && strings.HasSuffix(k, "status=FAILED") && v == 1 {
				return true
			}
		}
		return false
	}
	for !finished() {
		if time.Now().After(deadline) {
			t.Fatal("the long runner was not counted in lambda_durable_executions_finished_total within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	calls, unknown := rec.snapshot()
	if len(unknown) > 0 {
		t.Errorf("requests to unknown Lambda API paths (need more IAM actions?): %v", unknown)
	}
	used := map[string]bool{}
	for _, c := range calls {
		used[c.action] = true
		if !policy.allows(c.action, c.resource) {
			t.Errorf("policy does not allow %s on %s", c.action, c.resource)
		}
	}
	var usedActions []string
	for a := range used {
		usedActions = append(usedActions, a)
	}
	slices.Sort(usedActions)
	want := slices.Clone(policyActions)
	slices.Sort(want)
	if !slices.Equal(usedActions, want) {
		t.Errorf("operations the exporter used = %v, want exactly the policy's actions %v", usedActions, want)
	}
	// The simulator's own count agrees with what the recorder saw.
	var served []string
	for op := range sim.Requests() {
		served = append(served, "lambda:"+op)
	}
	slices.Sort(served)
	if !slices.Equal(served, want) {
		t.Errorf("sim.Requests() operations = %v, want %v", served, want)
	}
	var sample []apiCall
	seen := map[apiCall]bool{}
	for _, c := range calls {
		if !seen[c] && len(sample) < 6 {
			sample = append(sample, c)
		}
		seen[c] = true
	}
	t.Logf("%d requests, distinct (action, resource) pairs include %v", len(calls), sample)
}
