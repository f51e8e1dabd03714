package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var chartDir = filepath.Join("helm", "lambda-durable-exporter")

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// valuesKeys returns the dotted path of every key of a values.yaml and
// whether it is a leaf. It understands the block-style YAML that
// values.yaml is written in: maps nest by indentation, list items ("- ...")
// and everything under them belong to the key that holds the list.
func valuesKeys(t *testing.T, src string) (paths []string, leaf map[string]bool) {
	t.Helper()
	keyRE := regexp.MustCompile(`^( *)([A-Za-z0-9_.\-/]+|"[^"]+"):(?:\s+(.*))?$`)
	type frame struct {
		indent int
		path   string
	}
	var stack []frame
	leaf = map[string]bool{}
	listIndent := -1
	for i, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if listIndent >= 0 && indent >= listIndent {
			continue // inside a list
		}
		listIndent = -1
		if strings.HasPrefix(trimmed, "- ") || trimmed == "-" {
			listIndent = indent
			continue
		}
		m := keyRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("values.yaml:%d: cannot read %q", i+1, line)
		}
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		key := strings.Trim(m[2], `"`)
		path := key
		if len(stack) > 0 {
			path = stack[len(stack)-1].path + "." + key
			leaf[stack[len(stack)-1].path] = false
		}
		value := strings.TrimSpace(m[3])
		if c := strings.Index(value, " #"); c >= 0 {
			value = strings.TrimSpace(value[:c])
		}
		paths = append(paths, path)
		leaf[path] = value != ""
		if value == "" {
			stack = append(stack, frame{indent, path})
			// A key with nothing under it but a list is a leaf too.
			leaf[path] = true
		}
	}
	return paths, leaf
}

// TestValuesDocumentedInChartREADME: every values.yaml key is in the chart
// README's table and every key in that table is in values.yaml.
func TestValuesDocumentedInChartREADME(t *testing.T) {
	paths, leaf := valuesKeys(t, read(t, filepath.Join(chartDir, "values.yaml")))
	if len(paths) < 50 {
		t.Fatalf("only %d keys read from values.yaml", len(paths))
	}
	readme := read(t, filepath.Join(chartDir, "README.md"))
	documented := map[string]bool{}
	for k := range readmeRows(t) {
		documented[k] = true
	}
	known := map[string]bool{}
	for _, p := range paths {
		known[p] = true
		if leaf[p] {
			if !documented[p] {
				t.Errorf("values.yaml key %s has no row in the chart README's values table", p)
			}
		} else if !strings.Contains(readme, "`"+p+".") {
			t.Errorf("values.yaml key %s is not mentioned in the chart README", p)
		}
	}
	schemaPaths, _ := schemaKeys(t)
	for p := range documented {
		if !known[p] && !schemaPaths[p] {
			t.Errorf("the chart README documents %s, which neither values.yaml nor values.schema.json has", p)
		}
	}
}

func readmeRows(t *testing.T) map[string]string {
	t.Helper()
	rowRE := regexp.MustCompile("(?m)^\\| `([^`]+)` \\|(.*)$")
	rows := map[string]string{}
	for _, m := range rowRE.FindAllStringSubmatch(read(t, filepath.Join(chartDir, "README.md")), -1) {
		rows[m[1]] = m[2]
	}
	return rows
}

// schemaKeys returns the property paths of values.schema.json and the paths
// whose schema lists no properties (open objects, passed to Kubernetes), and
// checks that every object listing properties rejects other keys.
func schemaKeys(t *testing.T) (paths, open map[string]bool) {
	t.Helper()
	var schema map[string]any
	if err := json.Unmarshal([]byte(read(t, filepath.Join(chartDir, "values.schema.json"))), &schema); err != nil {
		t.Fatal(err)
	}
	defs, _ := schema["definitions"].(map[string]any)
	resolve := func(n map[string]any) map[string]any {
		if ref, ok := n["$ref"].(string); ok {
			d, _ := defs[strings.TrimPrefix(ref, "#/definitions/")].(map[string]any)
			if d == nil {
				t.Fatalf("schema: unresolved %s", ref)
			}
			return d
		}
		return n
	}
	paths, open = map[string]bool{}, map[string]bool{}
	var walk func(prefix string, n map[string]any)
	walk = func(prefix string, n map[string]any) {
		n = resolve(n)
		if items, ok := n["items"].(map[string]any); ok {
			if it := resolve(items); it["properties"] != nil && it["additionalProperties"] != false {
				t.Errorf("schema: items of %q do not set additionalProperties: false", prefix)
			}
		}
		props, ok := n["properties"].(map[string]any)
		if !ok {
			open[prefix] = true
			return
		}
		if n["additionalProperties"] != false {
			t.Errorf("schema object %q does not set additionalProperties: false", prefix)
		}
		for k, v := range props {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			paths[p] = true
			walk(p, v.(map[string]any))
		}
	}
	walk("", schema)
	return paths, open
}

// TestValuesMatchSchema: values.yaml and values.schema.json define the same
// keys wherever the schema lists properties, except optional keys that the
// schema types and the README documents as optional, and every object the
// schema lists properties of rejects other keys.
func TestValuesMatchSchema(t *testing.T) {
	schemaPaths, open := schemaKeys(t)
	paths, _ := valuesKeys(t, read(t, filepath.Join(chartDir, "values.yaml")))
	inValues := map[string]bool{}
	for _, p := range paths {
		inValues[p] = true
		parent := ""
		if i := strings.LastIndex(p, "."); i >= 0 {
			parent = p[:i]
		}
		if !schemaPaths[p] && !open[parent] && !underOpen(p, open) {
			t.Errorf("values.yaml key %s is not in values.schema.json", p)
		}
	}
	rows := readmeRows(t)
	var missing []string
	for p := range schemaPaths {
		if !inValues[p] && !strings.Contains(rows[p], "Optional") {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	for _, p := range missing {
		t.Errorf("values.schema.json defines %s, which values.yaml does not have (add it with a default, or document it as Optional in the chart README)", p)
	}
}

func underOpen(p string, open map[string]bool) bool {
	for o := range open {
		if o != "" && strings.HasPrefix(p, o+".") {
			return true
		}
	}
	return false
}

type alertRule struct {
	name, block string
}

// alertRules splits files/alerts.yaml into its alerting rules.
func alertRules(t *testing.T) []alertRule {
	t.Helper()
	src := read(t, filepath.Join(chartDir, "files", "alerts.yaml"))
	re := regexp.MustCompile(`(?m)^\s+- alert: (\S+)\s*$`)
	idx := re.FindAllStringSubmatchIndex(src, -1)
	if len(idx) == 0 {
		t.Fatal("no alert in files/alerts.yaml")
	}
	var rules []alertRule
	for i, m := range idx {
		end := len(src)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		rules = append(rules, alertRule{name: src[m[2]:m[3]], block: src[m[0]:end]})
	}
	return rules
}

// TestAlertRules checks the shape of every alert and that the alerts exist.
func TestAlertRules(t *testing.T) {
	rules := alertRules(t)
	have := map[string]bool{}
	for _, r := range rules {
		have[r.name] = true
		for _, want := range []string{"severity: ", "summary: ", "description: ", "$labels.function", "runbook_url: "} {
			if !strings.Contains(r.block, want) {
				t.Errorf("alert %s has no %q", r.name, strings.TrimSpace(want))
			}
		}
		if !regexp.MustCompile(`severity: (critical|warning|info)\n`).MatchString(r.block) {
			t.Errorf("alert %s: severity is not critical, warning or info", r.name)
		}
		m := regexp.MustCompile(`runbook_url: (\S+)`).FindStringSubmatch(r.block)
		if m != nil && !strings.HasSuffix(m[1], "/README.md#"+strings.ToLower(r.name)) {
			t.Errorf("alert %s: runbook_url %s does not point at the README anchor #%s", r.name, m[1], strings.ToLower(r.name))
		}
	}
	for _, want := range []string{
		"LambdaDurableExecutionsFailed", "LambdaDurableExecutionsTimedOut", "LambdaDurableExecutionRunningTooLong",
		"LambdaDurableExecutionFailureRatioHigh", "LambdaDurableExporterPollsFailing", "LambdaDurableExporterAbsent",
		"LambdaDurableExporterApiThrottled", "LambdaDurableExporterShardMissing",
	} {
		if !have[want] {
			t.Errorf("files/alerts.yaml has no alert %s", want)
		}
	}
}

// TestAlertRunbooks: every alert has a runbook section in README.md, the
// anchor its runbook_url points at.
func TestAlertRunbooks(t *testing.T) {
	doc := read(t, filepath.Join("..", "README.md"))
	if !strings.Contains(doc, "## Alerts runbook") {
		t.Fatal(`README.md has no "## Alerts runbook" section`)
	}
	for _, r := range alertRules(t) {
		if !regexp.MustCompile(`(?m)^#{2,4} ` + r.name + `\s*$`).MatchString(doc) {
			t.Errorf("README.md has no runbook heading for %s", r.name)
		}
	}
}

// TestPromtoolTestsCoverEveryAlert: deploy/prometheus/alerts_test.yaml tests
// the chart's rules file itself and, for every alert, a case where it fires
// and a case where it does not.
func TestPromtoolTestsCoverEveryAlert(t *testing.T) {
	src := read(t, filepath.Join("prometheus", "alerts_test.yaml"))
	if !strings.Contains(src, "- ../helm/lambda-durable-exporter/files/alerts.yaml") {
		t.Error("alerts_test.yaml does not load ../helm/lambda-durable-exporter/files/alerts.yaml")
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		name, ok := strings.CutPrefix(strings.TrimSpace(l), "alertname: ")
		if !ok {
			continue
		}
		for _, next := range lines[i+1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(next), "exp_alerts:"); ok {
				if strings.TrimSpace(v) == "[]" {
					quiet[name] = true
				} else {
					firing[name] = true
				}
				break
			}
		}
	}
	for _, r := range alertRules(t) {
		if !firing[r.name] {
			t.Errorf("no promtool test case where %s fires", r.name)
		}
		if !quiet[r.name] {
			t.Errorf("no promtool test case where %s does not fire", r.name)
		}
	}
}

// TestPrometheusRuleEmbedsAlertsFile: the PrometheusRule is the rules file,
// not a copy of it.
func TestPrometheusRuleEmbedsAlertsFile(t *testing.T) {
	tpl := read(t, filepath.Join(chartDir, "templates", "prometheusrule.yaml"))
	if !strings.Contains(tpl, `.Files.Get "files/alerts.yaml"`) {
		t.Error(`templates/prometheusrule.yaml does not embed files/alerts.yaml with .Files.Get`)
	}
	if strings.Contains(tpl, "- alert:") {
		t.Error("templates/prometheusrule.yaml defines alerts of its own")
	}
}

// TestWorkloadsSharePodTemplate: the Deployment and the StatefulSet
// (sharding.enabled) render the same pod template, from _helpers.tpl.
func TestWorkloadsSharePodTemplate(t *testing.T) {
	for _, name := range []string{"deployment.yaml", "statefulset.yaml"} {
		tpl := read(t, filepath.Join(chartDir, "templates", name))
		if !strings.Contains(tpl, `include "lde.podTemplate" .`) {
			t.Errorf("templates/%s does not include the lde.podTemplate helper", name)
		}
		if strings.Contains(tpl, "containers:") {
			t.Errorf("templates/%s defines a pod spec of its own instead of using lde.podTemplate", name)
		}
	}
}

// helmBinary returns the helm that .ci/deploy-checks.sh installs (or one on
// PATH) and the Kubernetes version to render for, or skips the test: these
// tests need no tool to compile, and run wherever helm is installed.
func helmBinary(t *testing.T) (helm, kubeVersion string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^LDE_K8S_VERSION=v(\S+)$`).FindStringSubmatch(read(t, filepath.Join("tools", "lib.sh")))
	if m == nil {
		t.Fatal("no LDE_K8S_VERSION in deploy/tools/lib.sh")
	}
	dir := os.Getenv("LDE_TOOLS_DIR")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".cache", "lde-tools")
		}
	}
	if p := filepath.Join(dir, "helm"); dir != "" {
		if _, err := os.Stat(p); err == nil {
			return p, m[1]
		}
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p, m[1]
	}
	t.Skip("helm is not installed (bash .ci/deploy-checks.sh installs it)")
	return "", ""
}

// helmTemplate renders the chart with a ci/*-values.yaml file and extra
// arguments; it returns the output and whether helm succeeded.
func helmTemplate(t *testing.T, values string, args ...string) (string, bool) {
	t.Helper()
	helm, kube := helmBinary(t)
	cmd := exec.Command(helm, append([]string{"template", "lambda-durable-exporter", chartDir,
		"--namespace", "monitoring", "--kube-version", kube, "-f", filepath.Join(chartDir, "ci", values)}, args...)...)
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+tmp, "HELM_CACHE_HOME="+tmp, "HELM_DATA_HOME="+tmp)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err == nil
}

// manifests splits helm's output into its documents, by kind.
func manifests(out string) map[string][]string {
	docs := map[string][]string{}
	for _, d := range strings.Split(out, "\n---\n") {
		if m := regexp.MustCompile(`(?m)^kind: (\S+)$`).FindStringSubmatch(d); m != nil {
			docs[m[1]] = append(docs[m[1]], d)
		}
	}
	return docs
}

func wantLines(t *testing.T, what, doc string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(l) + `$`).MatchString(doc) {
			t.Errorf("%s has no line %q:\n%s", what, l, doc)
		}
	}
}

// TestChartSharding: sharding.enabled renders a StatefulSet of
// sharding.shards replicas (instead of the Deployment) governed by a headless
// Service, with the shard flags and POD_NAME; the Service, the ServiceMonitor
// (not the headless Service) and the PodDisruptionBudget select its pods.
func TestChartSharding(t *testing.T) {
	out, ok := helmTemplate(t, "sharded-values.yaml")
	if !ok {
		t.Fatalf("helm template -f ci/sharded-values.yaml failed:\n%s", out)
	}
	docs := manifests(out)
	if len(docs["Deployment"]) != 0 || len(docs["StatefulSet"]) != 1 {
		t.Fatalf("want 1 StatefulSet and no Deployment, got %d and %d", len(docs["StatefulSet"]), len(docs["Deployment"]))
	}
	sts := docs["StatefulSet"][0]
	wantLines(t, "the StatefulSet", sts,
		"replicas: 3", "serviceName: lambda-durable-exporter-headless", "podManagementPolicy: Parallel",
		"- --shard.total=3", "- --shard.auto", "- name: POD_NAME", "fieldPath: metadata.name",
		"readOnlyRootFilesystem: true", "app.kubernetes.io/name: lambda-durable-exporter", "app.kubernetes.io/instance: lambda-durable-exporter")
	var headless, regular string
	for _, svc := range docs["Service"] {
		if strings.Contains(svc, "clusterIP: None") {
			headless = svc
		} else {
			regular = svc
		}
	}
	if headless == "" || regular == "" {
		t.Fatalf("want a regular and a headless Service, got:\n%s", strings.Join(docs["Service"], "\n---\n"))
	}
	wantLines(t, "the headless Service", headless, "name: lambda-durable-exporter-headless", `lambda-durable-exporter/headless: "true"`)
	if strings.Contains(regular, "lambda-durable-exporter/headless") {
		t.Error("the regular Service carries the headless label: the ServiceMonitor would not select it")
	}
	if len(docs["ServiceMonitor"]) != 1 {
		t.Fatal("no ServiceMonitor rendered")
	}
	wantLines(t, "the ServiceMonitor", docs["ServiceMonitor"][0], "- key: lambda-durable-exporter/headless", "operator: DoesNotExist")
	if len(docs["PodDisruptionBudget"]) != 1 {
		t.Fatal("no PodDisruptionBudget rendered")
	}
	wantLines(t, "the PodDisruptionBudget", docs["PodDisruptionBudget"][0],
		"app.kubernetes.io/name: lambda-durable-exporter", "app.kubernetes.io/instance: lambda-durable-exporter")

	// Unsharded renders keep the Deployment and have no shard flag.
	out, ok = helmTemplate(t, "default-values.yaml")
	if !ok {
		t.Fatalf("helm template -f ci/default-values.yaml failed:\n%s", out)
	}
	if docs := manifests(out); len(docs["Deployment"]) != 1 || len(docs["StatefulSet"]) != 0 || len(docs["Service"]) != 1 {
		t.Error("the default values do not render exactly a Deployment and one Service")
	}
	if strings.Contains(out, "--shard.") || strings.Contains(out, "POD_NAME") {
		t.Error("the default values render shard flags")
	}
}

// TestChartWebConfig: a web config is mounted and passed with
// --web.config.file; TLS switches the probes to HTTPS and the ServiceMonitor
// to https; basic auth makes the probes TCP checks unless probes.httpHeaders
// is set, in which case both probes send them.
func TestChartWebConfig(t *testing.T) {
	out, ok := helmTemplate(t, "webconfig-values.yaml")
	if !ok {
		t.Fatalf("helm template -f ci/webconfig-values.yaml failed:\n%s", out)
	}
	docs := manifests(out)
	if len(docs["Secret"]) != 1 || len(docs["Deployment"]) != 1 || len(docs["ServiceMonitor"]) != 1 {
		t.Fatalf("want a Secret, a Deployment and a ServiceMonitor, got %d, %d, %d", len(docs["Secret"]), len(docs["Deployment"]), len(docs["ServiceMonitor"]))
	}
	wantLines(t, "the web config Secret", docs["Secret"][0], "name: lambda-durable-exporter-web-config")
	dep := docs["Deployment"][0]
	wantLines(t, "the Deployment", dep,
		"- --web.config.file=/etc/lambda-durable-exporter/web/web-config.yml",
		"mountPath: /etc/lambda-durable-exporter/web", "name: lambda-durable-exporter-web-config",
		"path: tls/tls.crt", "path: tls/tls.key")
	if n := strings.Count(dep, "tcpSocket:"); n != 2 || strings.Contains(dep, "httpGet:") {
		t.Errorf("basic auth without probes.httpHeaders: want two tcpSocket probes and no httpGet, got %d tcpSocket", n)
	}
	wantLines(t, "the ServiceMonitor", docs["ServiceMonitor"][0], "scheme: https", "tlsConfig:", "basicAuth:", "name: lambda-durable-exporter-scrape")

	out, ok = helmTemplate(t, "hardened-extras-values.yaml")
	if !ok {
		t.Fatalf("helm template -f ci/hardened-extras-values.yaml failed:\n%s", out)
	}
	dep = manifests(out)["Deployment"][0]
	if n := strings.Count(dep, "scheme: HTTPS"); n != 2 {
		t.Errorf("TLS from webConfig.existingSecret: want both probes over HTTPS, got %d", n)
	}
	if n := strings.Count(dep, "httpHeaders:"); n != 2 || strings.Contains(dep, "tcpSocket:") {
		t.Errorf("probes.httpHeaders: want both probes to send them (and no tcpSocket probe), got %d", n)
	}
	if strings.Contains(out, "kind: Secret") {
		t.Error("webConfig.existingSecret: the chart renders a Secret of its own")
	}
}

// TestChartRejectsBadShardingAndWebConfig: the schema and the templates
// reject impossible sharding and web config values.
func TestChartRejectsBadShardingAndWebConfig(t *testing.T) {
	for _, c := range []struct {
		title, values string
		args          []string
	}{
		{"one shard", "default-values.yaml", []string{"--set", "sharding.enabled=true", "--set", "sharding.shards=1"}},
		{"string shards", "sharded-values.yaml", []string{"--set-string", "sharding.shards=three"}},
		{"misspelled sharding key", "default-values.yaml", []string{"--set", "sharding.shard=2"}},
		{"shard flag in extraArgs", "sharded-values.yaml", []string{"--set", "extraArgs[0]=--shard.index=1"}},
		{"StatefulSet name over 52 characters", "sharded-values.yaml", []string{"--set", "fullnameOverride=" + strings.Repeat("x", 53)}},
		{"misspelled webConfig key", "default-values.yaml", []string{"--set", "webConfig.secret=web"}},
		{"existingSecret and content", "webconfig-values.yaml", []string{"--set", "webConfig.existingSecret=web"}},
		{"tls without a web config", "default-values.yaml", []string{"--set", "webConfig.tls=true"}},
		{"basic auth without Prometheus credentials", "webconfig-values.yaml", []string{"--set", "serviceMonitor.basicAuth.secretName="}},
		{"header without a value", "default-values.yaml", []string{"--set", "probes.httpHeaders[0].name=Authorization"}},
		{"misspelled serviceMonitor.basicAuth key", "default-values.yaml", []string{"--set", "serviceMonitor.basicAuth.secret=x"}},
	} {
		if out, ok := helmTemplate(t, c.values, c.args...); ok {
			t.Errorf("helm accepted %s (%v):\n%.300s", c.title, c.args, out)
		}
	}
}
