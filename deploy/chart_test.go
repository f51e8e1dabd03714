package deploy

import (
	"encoding/json"
	"os"
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
		"LambdaDurableExporterApiThrottled",
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
