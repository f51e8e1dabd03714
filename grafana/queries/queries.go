// Package queries reads the Prometheus queries out of a Grafana dashboard JSON
// and substitutes its template variables, so that tests and the end-to-end
// script can run exactly the queries the committed dashboard runs.
package queries

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Query is one Prometheus query of a dashboard.
type Query struct {
	Panel string `json:"panel"`           // panel title, or "variable <name>"
	RefID string `json:"refId,omitempty"` // target refId; empty for variables
	Expr  string `json:"expr"`            // as written in the dashboard
	// LabelValues is set for a template variable query label_values(selector, label):
	// Expr is then the selector alone, which is a PromQL expression.
	LabelValues string `json:"labelValues,omitempty"`
	Instant     bool   `json:"instant,omitempty"`
}

// DefaultVars are the values substituted by Substitute when not overridden:
// Grafana's built-in interval variables and the dashboard's own variables.
var DefaultVars = map[string]string{
	"__rate_interval": "5m",
	"__interval":      "1m",
	"__interval_ms":   "60000",
	"__range":         "1h",
	"__range_s":       "3600",
	"__range_ms":      "3600000",
	"function":        ".*",
	"qualifier":       ".*",
	"datasource":      "prometheus",
}

type panel struct {
	Title   string  `json:"title"`
	Type    string  `json:"type"`
	Panels  []panel `json:"panels"` // collapsed rows keep their panels here
	Targets []struct {
		RefID   string `json:"refId"`
		Expr    string `json:"expr"`
		Instant bool   `json:"instant"`
	} `json:"targets"`
}

type dashboardJSON struct {
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

var labelValuesRE = regexp.MustCompile(`^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

// Extract returns every panel target and every query variable of the
// dashboard, in dashboard order. It fails on a target without an expression.
func Extract(dashboard []byte) ([]Query, error) {
	var d dashboardJSON
	if err := json.Unmarshal(dashboard, &d); err != nil {
		return nil, fmt.Errorf("decode dashboard: %w", err)
	}
	var out []Query
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				return nil, fmt.Errorf("variable %s: query is neither a string nor an object with a query", v.Name)
			}
			q = obj.Query
		}
		m := labelValuesRE.FindStringSubmatch(q)
		if m == nil {
			return nil, fmt.Errorf("variable %s: only label_values(selector, label) queries are supported, got %q", v.Name, q)
		}
		out = append(out, Query{Panel: "variable " + v.Name, Expr: m[1], LabelValues: m[2]})
	}
	var walk func(ps []panel) error
	walk = func(ps []panel) error {
		for _, p := range ps {
			for _, t := range p.Targets {
				if strings.TrimSpace(t.Expr) == "" {
					return fmt.Errorf("panel %q target %q has no expr", p.Title, t.RefID)
				}
				out = append(out, Query{Panel: p.Title, RefID: t.RefID, Expr: t.Expr, Instant: t.Instant})
			}
			if p.Type != "row" && len(p.Targets) == 0 {
				return fmt.Errorf("panel %q has no target", p.Title)
			}
			if err := walk(p.Panels); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, err
	}
	return out, nil
}

// varRE matches $name, ${name} and ${name:format}; [[name]] is deprecated in
// Grafana and not supported.
var varRE = regexp.MustCompile(`\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-zA-Z]+)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)`)

// Substitute replaces every template variable of expr with its value from
// vars, falling back to DefaultVars. It fails on a variable it does not know.
func Substitute(expr string, vars map[string]string) (string, error) {
	var unknown []string
	out := varRE.ReplaceAllStringFunc(expr, func(m string) string {
		sm := varRE.FindStringSubmatch(m)
		name := sm[1]
		if name == "" {
			name = sm[2]
		}
		if v, ok := vars[name]; ok {
			return v
		}
		if v, ok := DefaultVars[name]; ok {
			return v
		}
		unknown = append(unknown, name)
		return m
	})
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return "", fmt.Errorf("unknown variable(s) %s in %q", strings.Join(unknown, ", "), expr)
	}
	return out, nil
}
