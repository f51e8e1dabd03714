package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

const iamDir = "../../deploy/iam"

// iamPolicy is the part of an IAM policy document these tests read.
// Action and Resource may be a string or a list; both decode to a list.
type iamPolicy struct {
	Version   string
	Statement []iamStatement
	file      string
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

const (
	actList            = "lambda:ListDurableExecutionsByFunction"
	actGet             = "lambda:GetDurableExecution"
	actGetConfig       = "lambda:GetFunctionConfiguration"
	actListFunctions   = "lambda:ListFunctions"
	actGetResources    = "tag:GetResources"
	actAssumeRole      = "sts:AssumeRole"
	actCallerIdentity  = "sts:GetCallerIdentity"
	actTagSession      = "sts:TagSession"
	actSetSourceIdent  = "sts:SetSourceIdentity"
	policyBase         = "policy.json"
	policyDiscovery    = "policy-discovery.json"
	policyAssumeRole   = "policy-assume-role.json"
	lambdaFunctionARNs = "a Lambda function ARN pattern (arn:aws:lambda:...:function:...)"
)

// policyFiles are the documented policies (deploy/iam/README.md), each with
// exactly the actions it must grant and what its resources must look like.
// policy.json is all a static function list polled with the exporter's own
// credentials needs; the other two are added for discovery and for role_arn.
var policyFiles = []struct {
	name     string
	actions  []string
	resource func(string) bool
	want     string
}{
	{policyBase, []string{actList, actGet, actGetConfig}, func(r string) bool {
		return strings.HasPrefix(r, "arn:aws:lambda:") && strings.Contains(r, ":function:")
	}, lambdaFunctionARNs},
	// Neither action supports resource-level permissions.
	{policyDiscovery, []string{actListFunctions, actGetResources}, func(r string) bool { return r == "*" }, `"*"`},
	{policyAssumeRole, []string{actAssumeRole}, func(r string) bool {
		return strings.HasPrefix(r, "arn:aws:iam::") && strings.Contains(r, ":role/")
	}, "an IAM role ARN pattern (arn:aws:iam::ACCOUNT:role/NAME)"},
}

// permissionFree are actions IAM lets every identity perform: no policy
// grants them and an explicit Deny does not stop them.
var permissionFree = map[string]bool{actCallerIdentity: true}

func loadPolicy(t *testing.T, name string) *iamPolicy {
	t.Helper()
	path := filepath.Join(iamDir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	p := iamPolicy{file: name}
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", path, err)
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

// TestIAMPolicyDocument checks the policies of deploy/iam are least-privilege
// identity policies: valid JSON, the current policy language version, only
// Allow statements each with a unique Sid, exactly the actions each is for
// (policy.json: the two durable-execution reads and GetFunctionConfiguration; policy-discovery.json:
// ListFunctions and GetResources; policy-assume-role.json: AssumeRole), no
// wildcards in actions, and resources of the right shape.
func TestIAMPolicyDocument(t *testing.T) {
	policies := map[string]*iamPolicy{}
	for _, f := range policyFiles {
		p := loadPolicy(t, f.name)
		policies[f.name] = p
		if p.Version != "2012-10-17" {
			t.Errorf("%s: Version = %q, want 2012-10-17", f.name, p.Version)
		}
		if len(p.Statement) == 0 {
			t.Errorf("%s: no statements", f.name)
		}
		sids := map[string]bool{}
		var actions []string
		for i, s := range p.Statement {
			if s.Sid == "" || !regexp.MustCompile(`^[A-Za-z0-9]+$`).MatchString(s.Sid) || sids[s.Sid] {
				t.Errorf("%s: statement %d: Sid %q must be unique, non-empty and alphanumeric", f.name, i, s.Sid)
			}
			sids[s.Sid] = true
			if s.Effect != "Allow" {
				t.Errorf("%s: %s: Effect %q, want Allow", f.name, s.Sid, s.Effect)
			}
			if s.NotAction != nil || s.NotResource != nil || s.Principal != nil {
				t.Errorf("%s: %s: NotAction, NotResource and Principal do not belong in this identity policy", f.name, s.Sid)
			}
			if len(s.Action) == 0 || len(s.Resource) == 0 {
				t.Errorf("%s: %s: needs Action and Resource", f.name, s.Sid)
			}
			for _, a := range s.Action {
				if strings.ContainsAny(a, "*?") || !slices.Contains(f.actions, a) {
					t.Errorf("%s: %s: action %q; allowed actions are exactly %v, no wildcards", f.name, s.Sid, a, f.actions)
				}
				actions = append(actions, a)
			}
			for _, r := range s.Resource {
				if !f.resource(r) {
					t.Errorf("%s: %s: resource %q is not %s", f.name, s.Sid, r, f.want)
				}
			}
		}
		slices.Sort(actions)
		want := slices.Clone(f.actions)
		slices.Sort(want)
		if !slices.Equal(slices.Compact(actions), want) {
			t.Errorf("%s: actions = %v, want each of %v", f.name, actions, want)
		}
	}

	// README.md shows policy.json itself, not an edited copy.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	shown := 0
	for _, m := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		if !strings.Contains(m[1], actList) {
			continue
		}
		shown++
		p := iamPolicy{file: policyBase}
		if err := json.Unmarshal([]byte(m[1]), &p); err != nil {
			t.Errorf("README.md: the policy shown does not parse: %v", err)
		} else if !reflect.DeepEqual(p, *policies[policyBase]) {
			t.Errorf("README.md shows a policy that is not deploy/iam/policy.json:\n%s", m[1])
		}
	}
	if shown == 0 {
		t.Error("README.md does not show deploy/iam/policy.json")
	}

	// The resources mean what deploy/iam/README.md says.
	const (
		fn        = "arn:aws:lambda:eu-west-1:111122223333:function:orders"
		execution = fn + ":$LATEST/durable-execution/order-42/0a1b2c3d"
		role      = "arn:aws:iam::444455556666:role/lambda-durable-exporter"
	)
	for _, c := range []struct {
		policy, action, resource string
		want                     bool
	}{
		{policyBase, actList, fn, true},
		{policyBase, actList, fn + ":live", true},
		{policyBase, actList, fn + ":7", true},
		{policyBase, actGet, execution, true},
		{policyBase, actGet, fn + ":7/durable-execution/x/y", true},
		{policyBase, actGet, fn, false}, // Get is granted on executions only
		{policyBase, actGetConfig, fn, true},
		{policyBase, actGetConfig, fn + ":live", true},
		{policyBase, "lambda:InvokeFunction", fn, false},
		{policyBase, actListFunctions, "*", false},
		{policyBase, actList, "arn:aws:s3:::bucket", false},
		{policyDiscovery, actListFunctions, "*", true},
		{policyDiscovery, actGetResources, "*", true},
		{policyDiscovery, actList, fn, false},
		{policyDiscovery, "lambda:GetFunction", fn, false},
		{policyDiscovery, actGetConfig, fn, false},
		{policyAssumeRole, actAssumeRole, role, true},
		{policyAssumeRole, actAssumeRole, "arn:aws:iam::444455556666:role/admin", false},
		{policyAssumeRole, actTagSession, role, false},
	} {
		if got := policies[c.policy].allows(c.action, c.resource); got != c.want {
			t.Errorf("%s: allows(%s, %s) = %v, want %v", c.policy, c.action, c.resource, got, c.want)
		}
	}
}

// apiCall is one request the simulator served, as IAM would authorize it:
// the caller's account, the action and the resource, plus any further
// action the request's parameters need (sts:TagSession for session tags).
type apiCall struct {
	account, action, resource string
	also                      []string
}

func (c apiCall) String() string { return c.account + " " + c.action + " " + c.resource }

// callIDParam is added to the query of every request on its way to the
// simulator, which hands it to Intercept: it ties what the simulator served
// (operation, account) to the request as sent (path, parameters).
const callIDParam = "lde-iam-test-call"

type sentRequest struct {
	service, method, path string
}

// recorder stands in front of a lambdasim.World and records every request
// sent to it and, through the World's Intercept, every operation it served
// and for which account and region.
type recorder struct {
	world  *lambdasim.World
	mu     sync.Mutex
	seq    int
	sent   map[string]sentRequest
	served []lambdasim.Request
}

func newRecorder() *recorder { return &recorder{sent: map[string]sentRequest{}} }

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	service := ""
	if _, cred, ok := strings.Cut(req.Header.Get("Authorization"), "Credential="); ok {
		cred, _, _ = strings.Cut(cred, ",")
		if scope := strings.Split(cred, "/"); len(scope) == 5 {
			service = scope[3]
		}
	}
	r.mu.Lock()
	r.seq++
	id := strconv.Itoa(r.seq)
	r.sent[id] = sentRequest{service: service, method: req.Method, path: req.URL.EscapedPath()}
	r.mu.Unlock()
	if req.URL.RawQuery != "" {
		req.URL.RawQuery += "&"
	}
	req.URL.RawQuery += callIDParam + "=" + id
	r.world.ServeHTTP(w, req)
}

func (r *recorder) intercept(req lambdasim.Request) *lambdasim.Fault {
	r.mu.Lock()
	r.served = append(r.served, req)
	r.mu.Unlock()
	return nil
}

func (r *recorder) servedRequests() []lambdasim.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.served)
}

// calls turns what the simulator served into IAM requests. Requests sent
// but not served (an operation the simulator does not know, credentials it
// rejected) are problems: each may need an action no policy grants.
func (r *recorder) calls() (calls []apiCall, problems []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	const listPrefix, listSuffix, getPrefix = "/2025-12-01/functions/", "/durable-executions", "/2025-12-01/durable-executions/"
	const configPrefix, configSuffix = "/2015-03-31/functions/", "/configuration"
	// functionARN is the ARN IAM authorizes for a FunctionName (name,
	// partial or full ARN) and Qualifier.
	functionARN := func(s lambdasim.Request, name string) string {
		arn := name
		switch parts := strings.Split(name, ":"); {
		case parts[0] == "arn":
		case len(parts) > 1 && parts[1] == "function":
			arn = "arn:aws:lambda:" + s.Region + ":" + name
		default:
			arn = "arn:aws:lambda:" + s.Region + ":" + s.Account + ":function:" + name
		}
		if q := s.Query.Get("Qualifier"); q != "" {
			arn += ":" + q
		}
		return arn
	}
	linked := map[string]bool{}
	servedBy := map[string]int{}
	for _, s := range r.served {
		id := s.Query.Get(callIDParam)
		sent, ok := r.sent[id]
		linked[id] = ok
		var c apiCall
		c.account = s.Account
		switch s.Op {
		case lambdasim.OpList:
			name, err := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(sent.path, listPrefix), listSuffix))
			if !ok || err != nil || !strings.HasPrefix(sent.path, listPrefix) {
				problems = append(problems, fmt.Sprintf("a %s request the recorder cannot read: %+v", s.Op, sent))
				continue
			}
			// IAM authorizes the function ARN, qualified when a Qualifier is sent.
			c.action, c.resource = actList, functionARN(s, name)
		case lambdasim.OpGet:
			arn, err := url.PathUnescape(strings.TrimPrefix(sent.path, getPrefix))
			if !ok || err != nil || !strings.HasPrefix(sent.path, getPrefix) {
				problems = append(problems, fmt.Sprintf("a %s request the recorder cannot read: %+v", s.Op, sent))
				continue
			}
			// Payloads only for the error reads of the functions broken
			// down by error type (the same action and resource).
			if v := s.Query.Get("IncludeExecutionData"); v != "false" && (v != "true" || !errorTypeFunctions[s.Function]) {
				problems = append(problems, fmt.Sprintf("GetDurableExecution of %s with IncludeExecutionData=%q: only error reads (breakdown error_type) ask for the execution's data", arn, v))
			}
			c.action, c.resource = actGet, arn
		case lambdasim.OpGetFunctionConfiguration:
			name, err := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(sent.path, configPrefix), configSuffix))
			if !ok || err != nil || !strings.HasPrefix(sent.path, configPrefix) || !strings.HasSuffix(sent.path, configSuffix) {
				problems = append(problems, fmt.Sprintf("a %s request the recorder cannot read: %+v", s.Op, sent))
				continue
			}
			c.action, c.resource = actGetConfig, functionARN(s, name)
		case lambdasim.OpListFunctions:
			c.action, c.resource = actListFunctions, "*"
		case lambdasim.OpGetResources:
			c.action, c.resource = actGetResources, "*"
		case lambdasim.OpAssumeRole:
			c.action, c.resource = actAssumeRole, s.Query.Get("RoleArn")
			for k := range s.Query {
				switch {
				case strings.HasPrefix(k, "Tags.") || strings.HasPrefix(k, "TransitiveTagKeys."):
					c.also = append(c.also, actTagSession)
				case k == "SourceIdentity":
					c.also = append(c.also, actSetSourceIdent)
				}
			}
			slices.Sort(c.also)
			c.also = slices.Compact(c.also)
		case lambdasim.OpGetCallerIdentity:
			c.action, c.resource = actCallerIdentity, "*"
		default:
			problems = append(problems, fmt.Sprintf("the simulator served %s, which this test cannot map to an IAM action", s.Op))
			continue
		}
		switch {
		case ok:
			servedBy[sent.service]++
		case s.Op == lambdasim.OpGetResources:
			servedBy["tagging"]++ // the simulator passes no query on to Intercept
		default:
			problems = append(problems, fmt.Sprintf("the simulator served a %s request the recorder did not see", s.Op))
		}
		calls = append(calls, c)
	}
	sentBy := map[string]int{}
	for id, s := range r.sent {
		sentBy[s.service]++
		if !linked[id] && s.service != "tagging" {
			problems = append(problems, fmt.Sprintf("the simulator did not serve %s %s (%s): an operation it does not know, or rejected credentials", s.method, s.path, s.service))
		}
	}
	if sentBy["tagging"] != servedBy["tagging"] {
		problems = append(problems, fmt.Sprintf("%d Tagging API requests sent, %d served", sentBy["tagging"], servedBy["tagging"]))
	}
	return calls, problems
}

// TestIAMPolicyCoversExporterCalls runs the binary against a simulated AWS
// (lambdasim.World: Lambda, STS and the Resource Groups Tagging API, two
// accounts) with a configuration that uses every feature that calls AWS:
//
//   - static functions in the exporter's own account, by name and by ARN
//     with a qualifier, and one in another account through role_arn with
//     external_id (ListDurableExecutionsByFunction, AssumeRole), each
//     with its execution timeout read (GetFunctionConfiguration);
//   - a long-running execution in each of the two accounts (started 10 days
//     ago, far outside window and overlap) that ends while the exporter
//     watches, so that it can only be read back by ARN (GetDurableExecution);
//   - discovery with tags and a name pattern, in the own account and in
//     the other one through the role (ListFunctions, GetResources);
//   - no account_id, so the exporter asks STS who it is (GetCallerIdentity).
//
// The operations come from what the simulator served, not from a list in
// this test. Each request must be allowed by the documented policies of the
// identity that sent it: the exporter's own identity carries policy.json,
// policy-discovery.json and policy-assume-role.json; the role it assumes in
// the other account carries policy.json and policy-discovery.json. The
// actions used, less those IAM needs no permission for, must be exactly the
// actions of the three policies: one missing would fail in AWS with
// AccessDenied, one that is never used is excess privilege.
// errorTypeFunctions are the functions TestIAMPolicyCoversExporterCalls
// breaks down by error type: their failures are read with their data.
var errorTypeFunctions = map[string]bool{"orders": true, "payments": true}

func TestIAMPolicyCoversExporterCalls(t *testing.T) {
	const (
		own, other = "111122223333", "444455556666"
		externalID = "lde-external-id"
	)
	role := "arn:aws:iam::" + other + ":role/lambda-durable-exporter"
	var policies []*iamPolicy
	for _, f := range policyFiles {
		policies = append(policies, loadPolicy(t, f.name))
	}
	// Who carries which policy (deploy/iam/README.md).
	carried := map[string][]*iamPolicy{
		own:   policies,     // the exporter's own role
		other: policies[:2], // the role it assumes: policy.json and policy-discovery.json
	}

	rec := newRecorder()
	world := lambdasim.NewWorld(lambdasim.WorldOptions{Intercept: rec.intercept})
	rec.world = world
	accessKey, secretKey := world.AddAccount(own)
	world.AddAccount(other)
	world.AddRole(role, externalID)

	now := time.Now()
	home := world.Partition(own, "us-east-1")
	home.AddFunction("orders", []string{"$LATEST", "1"}, nil)
	home.AddFunction("billing", []string{"$LATEST", "3"}, map[string]string{"live": "3"})
	home.AddFunction("ledger-east", []string{"$LATEST"}, nil)
	home.AddFunction("ledger-untagged", []string{"$LATEST"}, nil)
	home.AddPlainFunction("ledger-plain") // not durable: never polled
	home.SetTags("ledger-east", map[string]string{"team": "payments"})
	home.SetTags("billing", map[string]string{"team": "payments"})
	away := world.Partition(other, "eu-west-1")
	away.AddFunction("payments", []string{"$LATEST", "2"}, nil)
	away.AddFunction("refunds-eu", []string{"$LATEST"}, nil)
	away.SetTags("refunds-eu", map[string]string{"team": "payments"})
	longRunners := map[*lambdasim.Server]string{
		home: home.Start("orders", "1", "long-runner", now.Add(-10*24*time.Hour)),
		away: away.Start("payments", "2", "long-runner", now.Add(-10*24*time.Hour)),
	}
	for i := 0; i < 30; i++ {
		at := now.Add(-time.Duration(i) * time.Minute)
		arn := home.Start("orders", "1", fmt.Sprintf("o-%d", i), at)
		if i%3 == 0 {
			_ = home.End(arn, lambdasim.StatusSucceeded, at.Add(time.Second))
		}
		home.Start("billing", "3", fmt.Sprintf("b-%d", i), at)
		home.Start("ledger-east", "$LATEST", fmt.Sprintf("l-%d", i), at)
		away.Start("payments", "2", fmt.Sprintf("p-%d", i), at)
		away.Start("refunds-eu", "$LATEST", fmt.Sprintf("r-%d", i), at)
	}
	srv := httptest.NewServer(rec)
	defer srv.Close()

	cfg := writeConfig(t, `
interval: 1s
window: 1h
overlap: 1m
functions:
  - name: orders
    breakdown: [version, error_type]
  - name: arn:aws:lambda:us-east-1:`+own+`:function:billing
    qualifier: live
  - name: payments
    breakdown: [error_type]
    region: eu-west-1
    role_arn: `+role+`
    external_id: `+externalID+`
discovery:
  - regions: [us-east-1]
    tags: {team: payments}
    name_pattern: "^ledger-"
  - regions: [eu-west-1]
    role_arn: `+role+`
    external_id: `+externalID+`
    tags: {team: payments}
    name_pattern: "^refunds-"
`)
	env := append(slices.Clone(awsEnv), "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey,
		"AWS_ENDPOINT_URL="+srv.URL) // Lambda, STS and Tagging alike
	p := startLogged(t, env, "--config.file="+cfg)

	// Ready: every static function polled once, so the long runners are tracked.
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
	for s, arn := range longRunners {
		if err := s.End(arn, lambdasim.StatusFailed, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// Read back by ARN in both accounts, and the discovered functions polled.
	deadline = time.Now().Add(30 * time.Second)
	for {
		got := map[string]bool{}
		for _, r := range rec.servedRequests() {
			got[r.Op+" "+r.Account+" "+r.Function] = true
			if r.Op == lambdasim.OpGet && r.Query.Get("IncludeExecutionData") == "true" {
				got["error read "+r.Account+" "+r.Function] = true
			}
		}
		var missing []string
		for _, want := range []string{
			lambdasim.OpGet + " " + own + " orders", lambdasim.OpGet + " " + other + " payments",
			"error read " + own + " orders", "error read " + other + " payments",
			lambdasim.OpList + " " + own + " ledger-east", lambdasim.OpList + " " + other + " refunds-eu",
		} {
			if !got[want] {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 30s the simulator served no %v; it served %v", missing, world.Requests())
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
		n := 0
		for k, v := range f.samples {
			if (strings.Contains(k, "function=orders,") || strings.Contains(k, "function=payments,")) && strings.Contains(k, "status=FAILED") && v == 1 {
				n++
			}
		}
		return n == 2
	}
	for !finished() {
		if time.Now().After(deadline) {
			t.Fatal("the long runners were not counted in lambda_durable_executions_finished_total within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Stop the exporter, so that no request is in flight when they are counted.
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Fatal("exporter did not stop on SIGTERM")
	}

	calls, problems := rec.calls()
	for _, pr := range problems {
		t.Error(pr)
	}
	used := map[string]bool{}
	for _, c := range calls {
		used[c.action] = true
		for _, a := range c.also {
			used[a] = true
			t.Errorf("%s also needs %s, which no documented policy grants", c, a)
		}
		if permissionFree[c.action] {
			continue
		}
		ps, ok := carried[c.account]
		if !ok {
			t.Errorf("%s: a call in an account no identity of the exporter lives in", c)
			continue
		}
		if !slices.ContainsFunc(ps, func(p *iamPolicy) bool { return p.allows(c.action, c.resource) }) {
			var names []string
			for _, p := range ps {
				names = append(names, p.file)
			}
			t.Errorf("%s: not allowed by the policies of that identity (%v)", c, names)
		}
	}
	var usedActions, granted []string
	for a := range used {
		if !permissionFree[a] {
			usedActions = append(usedActions, a)
		}
	}
	for _, f := range policyFiles {
		granted = append(granted, f.actions...)
	}
	slices.Sort(usedActions)
	slices.Sort(granted)
	if !slices.Equal(usedActions, granted) {
		t.Errorf("actions the exporter used (less those that need no permission) = %v, want exactly the documented policies' actions %v", usedActions, granted)
	}
	if !used[actCallerIdentity] {
		t.Error("no GetCallerIdentity without account_id: the workload no longer covers it")
	}
	// The World's own count agrees with what the recorder saw.
	servedOps := map[string]int{}
	for _, r := range rec.servedRequests() {
		servedOps[r.Op]++
	}
	for op, n := range world.Requests() {
		if n != servedOps[op] {
			t.Errorf("the World counted %d %s requests, the recorder saw %d served", n, op, servedOps[op])
		}
	}
	var sample []string
	seen := map[string]bool{}
	for _, c := range calls {
		if s := c.String(); !seen[s] {
			seen[s] = true
			sample = append(sample, s)
		}
	}
	slices.Sort(sample)
	t.Logf("%d requests, %d distinct (account, action, resource):\n  %s", len(calls), len(sample), strings.Join(sample, "\n  "))
}
