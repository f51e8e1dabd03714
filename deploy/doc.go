// Package deploy holds no code: its tests check the deployment artifacts that
// live beside it and in the repository root (Dockerfile, .dockerignore, the
// Helm chart under helm/, the alert rules and their promtool tests under
// prometheus/). They parse YAML with gopkg.in/yaml.v3 (a dependency of the
// main module) and need no tool, so they run with the main module's
// `go test ./...`; the tests that render the chart run when helm is
// installed and skip otherwise. .ci/deploy-checks.sh runs the tool-based
// checks (helm, kubeconform, promtool, Prometheus).
package deploy
