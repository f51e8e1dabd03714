package overview

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/grafana/queries"
)

var update = flag.Bool("update", false, "rewrite the committed dashboard JSON instead of comparing with it")

var committedPath = filepath.Join("..", "dashboards", FileName)

func committed(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(committedPath)
	if err != nil {
		t.Fatalf("read committed dashboard: %v", err)
	}
	return b
}

// TestCommittedDashboardIsUpToDate regenerates the dashboard in memory and
// compares it with the committed JSON.
func TestCommittedDashboardIsUpToDate(t *testing.T) {
	want, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(committedPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := committed(t)
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s is out of date (first difference at line %d:\n committed: %q\n generated: %q)\nregenerate it: cd grafana && go run ./cmd/generate", committedPath, i+1, g, w)
			}
		}
	}
}

func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "exporter-metrics.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	names := map[string]bool{}
	nameRE := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if !nameRE.MatchString(line) {
			t.Fatalf("exporter-metrics.txt: %q is not a metric name", line)
		}
		names[line] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("exporter-metrics.txt lists no metric")
	}
	return names
}

// metricNames returns the metric names that the vector and matrix selectors
// of expr select.
func metricNames(t *testing.T, expr parser.Expr) []string {
	t.Helper()
	var names []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel {
				if m.Type != labels.MatchEqual {
					t.Errorf("selector %s: only equality on __name__ can be checked", vs)
				}
				name = m.Value
			}
		}
		if name == "" {
			t.Errorf("selector %s selects no metric name", vs)
		}
		names = append(names, name)
		return nil
	})
	return names
}

// TestQueriesParseAndUseExportedMetrics parses every query of the committed
// dashboard (variables substituted) with Prometheus' own PromQL parser and
// checks that every metric it selects is one the exporter exposes.
func TestQueriesParseAndUseExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	qs, err := queries.Extract(committed(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 20 {
		t.Fatalf("only %d queries found in the dashboard", len(qs))
	}
	p := parser.NewParser(parser.Options{})
	varSets := []map[string]string{
		{"function": "order-workflow|billing", "qualifier": ".*"},
		{"function": "arn:aws:lambda:us-east-1:123456789012:function:billing", "qualifier": "3"},
		{"function": ".*", "qualifier": `prod|\\$LATEST`, "__rate_interval": "2m", "__range": "6h"}, // Grafana escapes regex metacharacters in multi-values
	}
	used := map[string]bool{}
	for _, vars := range varSets {
		for _, q := range qs {
			expr, err := queries.Substitute(q.Expr, vars)
			if err != nil {
				t.Errorf("%s %s: %v", q.Panel, q.RefID, err)
				continue
			}
			e, err := p.ParseExpr(expr)
			if err != nil {
				t.Errorf("%s %s: %q does not parse: %v", q.Panel, q.RefID, expr, err)
				continue
			}
			if q.LabelValues != "" {
				if _, ok := e.(*parser.VectorSelector); !ok {
					t.Errorf("%s: label_values needs a series selector, got %q", q.Panel, expr)
				}
			}
			names := metricNames(t, e)
			if len(names) == 0 {
				t.Errorf("%s %s: %q selects no metric", q.Panel, q.RefID, expr)
			}
			for _, n := range names {
				if !exported[n] {
					t.Errorf("%s %s: metric %s is not in exporter-metrics.txt", q.Panel, q.RefID, n)
				}
				used[n] = true
			}
		}
	}

	// Every exported metric is charted, except these.
	notCharted := map[string]string{
		"lambda_durable_exporter_config_last_reload_success_timestamp_seconds": "the config reload panel shows the success flag",
	}
	var missing []string
	for n := range exported {
		if !used[n] && notCharted[n] == "" {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("exported metrics on no panel: %s", strings.Join(missing, ", "))
	}
}

type panelJSON struct {
	Type       string            `json:"type"`
	Title      string            `json:"title"`
	Datasource map[string]string `json:"datasource"`
	Targets    []struct {
		Expr       string            `json:"expr"`
		Format     string            `json:"format"`
		Datasource map[string]string `json:"datasource"`
	} `json:"targets"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
}

// TestDashboardShape checks what the issue asks of the dashboard.
func TestDashboardShape(t *testing.T) {
	var d struct {
		UID        string      `json:"uid"`
		Panels     []panelJSON `json:"panels"`
		Templating struct {
			List []struct {
				Name       string            `json:"name"`
				Type       string            `json:"type"`
				Multi      bool              `json:"multi"`
				IncludeAll bool              `json:"includeAll"`
				Datasource map[string]string `json:"datasource"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(committed(t), &d); err != nil {
		t.Fatal(err)
	}
	if d.UID != UID {
		t.Errorf("uid = %q, want %q", d.UID, UID)
	}

	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name+":"+v.Type)
		if v.Type == "query" {
			if !v.Multi || !v.IncludeAll {
				t.Errorf("variable %s should be multi-value with All", v.Name)
			}
			if v.Datasource["uid"] != "${datasource}" {
				t.Errorf("variable %s does not use the datasource variable", v.Name)
			}
		}
	}
	if want := []string{"datasource:datasource", "function:query", "qualifier:query"}; !slices.Equal(vars, want) {
		t.Errorf("variables = %v, want %v", vars, want)
	}

	all := ""
	types := map[string]bool{}
	for _, p := range d.Panels {
		types[p.Type] = true
		if p.Type == "row" {
			continue
		}
		if p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q has no size", p.Title)
		}
		if p.Datasource["uid"] != "${datasource}" {
			t.Errorf("panel %q does not use the datasource variable", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource["uid"] != "${datasource}" {
				t.Errorf("panel %q: a target does not use the datasource variable", p.Title)
			}
			if p.Type == "heatmap" && tg.Format != "heatmap" {
				t.Errorf("heatmap panel %q: target format %q, want heatmap", p.Title, tg.Format)
			}
			all += tg.Expr + "\n"
			// Per-function metrics are filtered by both variables.
			if strings.Contains(tg.Expr, "lambda_durable_") &&
				!regexp.MustCompile(`api_requests_total|config_last_reload|build_info|exporter_targets|shard_info|discover|storage_write|storage_load`).MatchString(tg.Expr) &&
				(!strings.Contains(tg.Expr, `function=~"$function"`) || !strings.Contains(tg.Expr, `qualifier=~"$qualifier"`)) {
				t.Errorf("panel %q: %q does not filter on $function and $qualifier", p.Title, tg.Expr)
			}
		}
	}
	for _, typ := range []string{"row", "timeseries", "stat", "heatmap", "state-timeline"} {
		if !types[typ] {
			t.Errorf("no %s panel", typ)
		}
	}
	for _, want := range []string{
		"histogram_quantile(0.50,", "histogram_quantile(0.95,", "histogram_quantile(0.99,",
		"lambda_durable_execution_duration_seconds_bucket",
		`sum by (function, qualifier, status) (lambda_durable_executions{`,
		`status=~"FAILED|TIMED_OUT"`,
		"time() - min by (function, qualifier) (lambda_durable_execution_oldest_running_start_timestamp_seconds",
		"lambda_durable_exporter_poll_success", "lambda_durable_exporter_poll_duration_seconds",
		"time() - max by (function, qualifier) (lambda_durable_exporter_last_success_timestamp_seconds",
		"sum by (operation, outcome) (rate(lambda_durable_exporter_api_requests_total",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no query contains %q", want)
		}
	}
}
