// Package deploy holds no code: its tests check the deployment artifacts that
// live beside it and in the repository root (Dockerfile, .dockerignore, the
// Helm chart under helm/, the alert rules and their promtool tests under
// prometheus/). They use the standard library only, so they run with the main
// module's `go test ./...` without any tool installed; .ci/deploy-checks.sh
// runs the tool-based checks (helm, kubeconform, promtool, Prometheus).
package deploy
