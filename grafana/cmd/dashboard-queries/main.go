// Command dashboard-queries prints the Prometheus queries of a Grafana
// dashboard with its variables substituted, one JSON object a line:
//
//	{"panel":"Poll duration","refId":"A","expr":"max by ...","instant":false}
//
// Template variable queries label_values(selector, label) are printed as
// their selector, with "labelValues" naming the label. deploy/e2e uses it to
// run every query of the committed dashboard against a real Prometheus.
//
//	go run ./cmd/dashboard-queries -var function='order-workflow|billing' dashboards/lambda-durable-overview.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/grafana/queries"
)

type varFlags map[string]string

func (v varFlags) String() string { return fmt.Sprint(map[string]string(v)) }

func (v varFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	v[name] = value
	return nil
}

func main() {
	vars := varFlags{}
	flag.Var(vars, "var", "variable value as name=value (repeatable); defaults: see queries.DefaultVars")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: dashboard-queries [-var name=value]... dashboard.json")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	b, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	qs, err := queries.Extract(b)
	if err != nil {
		fail(err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for _, q := range qs {
		if q.Expr, err = queries.Substitute(q.Expr, vars); err != nil {
			fail(fmt.Errorf("%s: %w", q.Panel, err))
		}
		if err := enc.Encode(q); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "dashboard-queries:", err)
	os.Exit(1)
}
