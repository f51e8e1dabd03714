// Command generate writes the Grafana dashboards of lambda-durable-exporter.
//
//	cd grafana && go run ./cmd/generate            # writes dashboards/lambda-durable-overview.json
//	cd grafana && go run ./cmd/generate -out -     # prints it
//
// The JSON is committed; overview's tests fail when it is not what this
// command generates, so run it after every change to package overview.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/grafana/overview"
)

func main() {
	out := flag.String("out", filepath.Join("dashboards", overview.FileName), `output file, "-" for standard output`)
	flag.Parse()

	b, err := overview.JSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
	if *out == "-" {
		_, err = os.Stdout.Write(b)
	} else {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}
