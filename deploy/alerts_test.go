package deploy

import (
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var alertsFile = filepath.Join(chartDir, "files", "alerts.yaml")

// rulesFile is a Prometheus rules file, with every field rulefmt accepts:
// decoded strictly, a misspelled key fails the test as it fails promtool.
type rulesFile struct {
	Groups []struct {
		Name        string
		Interval    string
		QueryOffset string `yaml:"query_offset"`
		Limit       int
		Labels      map[string]string
		Rules       []alertRule
	}
}

type alertRule struct {
	Alert         string
	Record        string
	Expr          string
	For           string
	KeepFiringFor string `yaml:"keep_firing_for"`
	Labels        map[string]string
	Annotations   map[string]string
}

// alertRules returns the alerting rules of files/alerts.yaml.
func alertRules(t *testing.T) []alertRule {
	t.Helper()
	var f rulesFile
	decodeYAMLStrict(t, alertsFile, &f)
	var rules []alertRule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				rules = append(rules, r)
			}
		}
	}
	if len(rules) == 0 {
		t.Fatal("no alert in files/alerts.yaml")
	}
	return rules
}

// TestAlertRules checks the shape of every alert and that the alerts exist.
func TestAlertRules(t *testing.T) {
	rules := alertRules(t)
	base := runbookBaseURL(t)
	if !strings.HasSuffix(base, "/docs/alerts.md") {
		t.Errorf("values.yaml: prometheusRule.runbookBaseURL %s is not the repository's docs/alerts.md", base)
	}
	have := map[string]bool{}
	for _, r := range rules {
		if have[r.Alert] {
			t.Errorf("alert %s is defined twice", r.Alert)
		}
		have[r.Alert] = true
		if strings.TrimSpace(r.Expr) == "" {
			t.Errorf("alert %s has no expr", r.Alert)
		}
		if s, ok := r.Labels["severity"]; !ok {
			t.Errorf("alert %s has no \"severity:\"", r.Alert)
		} else if s != "critical" && s != "warning" && s != "info" {
			t.Errorf("alert %s: severity %q is not critical, warning or info", r.Alert, s)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("alert %s has no %q", r.Alert, a+":")
			}
		}
		if !strings.Contains(r.Annotations["summary"]+r.Annotations["description"], "$labels.function") {
			t.Errorf("alert %s has no \"$labels.function\" in its summary or description", r.Alert)
		}
		if u, want := r.Annotations["runbook_url"], base+"#"+strings.ToLower(r.Alert); u != "" && u != want {
			// The chart replaces base with prometheusRule.runbookBaseURL.
			t.Errorf("alert %s: runbook_url %s, want %s (prometheusRule.runbookBaseURL of values.yaml and the anchor)", r.Alert, u, want)
		}
	}
	for _, want := range []string{
		"LambdaDurableExecutionsFailed", "LambdaDurableExecutionsTimedOut", "LambdaDurableExecutionRunningTooLong", "LambdaDurableExecutionNearTimeout",
		"LambdaDurableExecutionFailureRatioHigh", "LambdaDurableExporterPollsFailing", "LambdaDurableExporterAbsent",
		"LambdaDurableExporterApiThrottled", "LambdaDurableExporterShardMissing",
	} {
		if !have[want] {
			t.Errorf("files/alerts.yaml has no alert %s", want)
		}
	}
}

// runbookBaseURL is the default prometheusRule.runbookBaseURL of values.yaml.
func runbookBaseURL(t *testing.T) string {
	t.Helper()
	n := readValues(t).value["prometheusRule.runbookBaseURL"]
	if n == nil || n.Kind != yaml.ScalarNode || n.Value == "" {
		t.Fatal("values.yaml has no prometheusRule.runbookBaseURL")
	}
	return n.Value
}

// TestAlertRunbooks: every alert has a runbook section in docs/alerts.md,
// the anchor its runbook_url points at.
func TestAlertRunbooks(t *testing.T) {
	doc := read(t, filepath.Join("..", "docs", "alerts.md"))
	if !strings.Contains(doc, "## Alerts runbook") {
		t.Fatal(`docs/alerts.md has no "## Alerts runbook" section`)
	}
	for _, r := range alertRules(t) {
		if !regexp.MustCompile(`(?m)^#{2,4} ` + regexp.QuoteMeta(r.Alert) + `\s*$`).MatchString(doc) {
			t.Errorf("docs/alerts.md has no runbook heading for %s", r.Alert)
		}
	}
	if readme := read(t, filepath.Join("..", "README.md")); !strings.Contains(readme, "(docs/alerts.md)") {
		t.Error("README.md does not link to docs/alerts.md")
	}
}

// promtoolTests is a promtool test file; only alert_rule_test is read
// field by field.
type promtoolTests struct {
	RuleFiles          []string `yaml:"rule_files"`
	EvaluationInterval string   `yaml:"evaluation_interval"`
	GroupEvalOrder     []string `yaml:"group_eval_order"`
	FuzzyCompare       bool     `yaml:"fuzzy_compare"`
	Tests              []struct {
		Name           string
		Interval       string
		InputSeries    yaml.Node         `yaml:"input_series"`
		ExternalLabels map[string]string `yaml:"external_labels"`
		ExternalURL    string            `yaml:"external_url"`
		PromQLExprTest yaml.Node         `yaml:"promql_expr_test"`
		AlertRuleTest  []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string
			ExpAlerts []struct {
				ExpLabels      map[string]string `yaml:"exp_labels"`
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	}
}

// TestPromtoolTestsCoverEveryAlert: deploy/prometheus/alerts_test.yaml tests
// the chart's rules file itself and, for every alert, a case where it fires
// and a case where it does not.
func TestPromtoolTestsCoverEveryAlert(t *testing.T) {
	name := filepath.Join("prometheus", "alerts_test.yaml")
	var f promtoolTests
	decodeYAMLStrict(t, name, &f)
	loads := false
	for _, rf := range f.RuleFiles {
		// promtool resolves rule_files relative to the test file.
		loads = loads || filepath.Join(filepath.Dir(name), rf) == alertsFile
	}
	if !loads {
		t.Errorf("alerts_test.yaml does not load ../helm/lambda-durable-exporter/files/alerts.yaml (rule_files %q)", f.RuleFiles)
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range f.Tests {
		for _, a := range tc.AlertRuleTest {
			if a.Alertname == "" {
				t.Errorf("test %q: an alert_rule_test without alertname", tc.Name)
			}
			// No exp_alerts, or an empty list: the alert must not fire.
			if len(a.ExpAlerts) == 0 {
				quiet[a.Alertname] = true
			} else {
				firing[a.Alertname] = true
			}
		}
	}
	for _, r := range alertRules(t) {
		if !firing[r.Alert] {
			t.Errorf("no promtool test case where %s fires", r.Alert)
		}
		if !quiet[r.Alert] {
			t.Errorf("no promtool test case where %s does not fire", r.Alert)
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

// TestPrometheusRuleRunbookBaseURL: the rendered PrometheusRule's
// runbook_urls are prometheusRule.runbookBaseURL and the anchor, the
// repository's docs/alerts.md by default, and every other byte of the rules
// stays as in files/alerts.yaml.
func TestPrometheusRuleRunbookBaseURL(t *testing.T) {
	base := runbookBaseURL(t)
	for _, tc := range []struct{ name, want string }{
		{"default", base},
		{"https://wiki.example.com/lde", "https://wiki.example.com/lde"},
	} {
		var args []string
		if tc.name != "default" {
			args = []string{"--set", "prometheusRule.runbookBaseURL=" + tc.name}
		}
		_, docs := render(t, "servicemonitor-and-rules-values.yaml", args...)
		if len(docs["PrometheusRule"]) != 1 {
			t.Fatalf("%s: want one PrometheusRule, got %d", tc.name, len(docs["PrometheusRule"]))
		}
		var pr struct{ Spec rulesFile }
		docs["PrometheusRule"][0].decode(t, &pr)
		rules := alertRules(t)
		i := 0
		for _, g := range pr.Spec.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				if i >= len(rules) || r.Alert != rules[i].Alert {
					t.Fatalf("%s: the PrometheusRule's alerts differ from files/alerts.yaml at %s", tc.name, r.Alert)
				}
				want := tc.want + "#" + strings.ToLower(r.Alert)
				if u := r.Annotations["runbook_url"]; u != want {
					t.Errorf("%s: %s runbook_url %s, want %s", tc.name, r.Alert, u, want)
				}
				r.Annotations["runbook_url"] = rules[i].Annotations["runbook_url"]
				if !reflect.DeepEqual(r, rules[i]) {
					t.Errorf("%s: %s differs from files/alerts.yaml beyond its runbook_url:\n got %+v\nwant %+v", tc.name, r.Alert, r, rules[i])
				}
				i++
			}
		}
		if i != len(rules) {
			t.Errorf("%s: the PrometheusRule has %d alerts, files/alerts.yaml %d", tc.name, i, len(rules))
		}
	}
	if out, ok := helmTemplate(t, "servicemonitor-and-rules-values.yaml", "--set", "prometheusRule.runbookBaseURL=https://wiki.example.com/lde#x"); ok {
		t.Errorf("helm accepted a runbookBaseURL with a fragment:\n%s", out)
	}
}
