#!/usr/bin/env bash
# golangci-lint, pinned, with the repository's .golangci.yml, over every Go
# module in the repository (the exporter at the root, grafana/ and
# deploy/tools/): each is a separate module, so each is linted from its own
# directory.
#
# Exit status: 0 when no module has a finding; otherwise the last non-zero
# status of golangci-lint (1: findings, see above; others: it failed to run),
# after linting all of them.
#
# Environment:
#   GOLANGCI_LINT_INSTALL_DIR  where the pinned golangci-lint is installed
#                              (default .cache/golangci-lint, git-ignored)
#   GOLANGCI_LINT_CACHE        golangci-lint's own analysis cache (its
#                              standard variable; default
#                              ~/.cache/golangci-lint)
set -euo pipefail

# Pinned: bump deliberately, together with .golangci.yml if it needs it
# (go list -m -versions github.com/golangci/golangci-lint/v2). It must be
# built with a Go at least as new as every module's go directive.
version=v2.15.0

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${GOLANGCI_LINT_INSTALL_DIR:-$root/.cache/golangci-lint}
bin=$cache/$version/bin

# Install the pinned version once. `go install pkg@version` ignores the
# repository's go.mod; -mod is dropped from GOFLAGS because it does not
# apply outside a module.
if [ ! -x "$bin/golangci-lint" ]; then
  echo "golangci-lint: installing github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$version into $bin"
  mkdir -p "$bin"
  GOFLAGS=$(printf '%s' "${GOFLAGS:-}" | sed -E 's/(^| )-mod=[^ ]*//g') \
    GOBIN="$bin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$version"
fi
"$bin/golangci-lint" version

cd "$root"
rc=0
while IFS= read -r mod; do
  dir=$(dirname "$mod")
  echo "golangci-lint: module in $dir/"
  set +e
  (cd "$dir" && "$bin/golangci-lint" run --config "$root/.golangci.yml" ./...)
  status=$?
  set -e
  if [ "$status" -ne 0 ]; then
    echo "golangci-lint: FAILED in $dir/ (exit status $status)"
    rc=$status
  fi
done < <(git ls-files ':(glob)**/go.mod')
exit "$rc"
