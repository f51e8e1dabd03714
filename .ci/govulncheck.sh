#!/usr/bin/env bash
# govulncheck for the exporter's module (the repository root; the grafana/ and
# deploy/tools/ modules are not part of the binary and are not scanned).
#
# Exit status:
#   0  no known vulnerability in code the exporter calls (vulnerable modules
#      that are only required or imported are listed but do not fail), or
#      the vulnerability database cannot be reached: then it prints
#      "govulncheck: skipped: vulnerability database unreachable" and why;
#   3  govulncheck found vulnerabilities in called code;
#   other  anything else that went wrong (install, package loading, a
#      database that answers but cannot be read, ...).
#
# Environment:
#   GOVULNCHECK_CACHE    where the pinned govulncheck is installed
#                        (default .cache/govulncheck, git-ignored)
#   GOVULNCHECK_DB       database URL (default https://vuln.go.dev); a mirror
#                        or a file:// copy for machines without access to it
#   GOVULNCHECK_TIMEOUT  limit for the whole scan, seconds (default 900)
#   GOVULNCHECK_PROBE_TIMEOUT  limit for the reachability probe (default 20)
set -euo pipefail

# Pinned: bump deliberately (go list -m -versions golang.org/x/vuln).
version=v1.9.0

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${GOVULNCHECK_CACHE:-$root/.cache/govulncheck}
bin=$cache/$version/bin
db=${GOVULNCHECK_DB:-https://vuln.go.dev}
scan_timeout=${GOVULNCHECK_TIMEOUT:-900}
probe_timeout=${GOVULNCHECK_PROBE_TIMEOUT:-20}

skip() {
  echo "govulncheck: skipped: vulnerability database unreachable ($db): $*"
  echo "govulncheck: set GOVULNCHECK_DB to a reachable mirror or a file:// copy to run the scan here."
  exit 0
}

# Install the pinned version once. `go install pkg@version` ignores the
# repository's go.mod; -mod is dropped from GOFLAGS because it does not
# apply outside a module.
if [ ! -x "$bin/govulncheck" ]; then
  echo "govulncheck: installing golang.org/x/vuln/cmd/govulncheck@$version into $bin"
  mkdir -p "$bin"
  GOFLAGS=$(printf '%s' "${GOFLAGS:-}" | sed -E 's/(^| )-mod=[^ ]*//g') \
    GOBIN="$bin" go install "golang.org/x/vuln/cmd/govulncheck@$version"
fi
echo "govulncheck: golang.org/x/vuln/cmd/govulncheck@$version, database $db"

# Probe the database before the scan. govulncheck's HTTP client has no
# timeout of its own, so a host that drops packets would stall the scan for
# minutes; a DNS failure or a refused connection is just as clear here.
# The probe fetches the small modification index (index/db.json.gz).
out=$(mktemp)
trap 'rm -f "$out"' EXIT
case $db in
  http://* | https://*)
    if command -v curl >/dev/null 2>&1; then
      set +e
      status=$(curl -sS -o /dev/null -w '%{http_code}' --max-time "$probe_timeout" "$db/index/db.json.gz" 2>"$out")
      rc=$?
      set -e
      case $rc in
        0)
          case $status in
            200) ;;
            # Refused by an egress proxy, or the service is down.
            403 | 407 | 502 | 503 | 504) skip "HTTP status $status for $db/index/db.json.gz" ;;
            *) echo "govulncheck: FAILED: HTTP status $status for $db/index/db.json.gz (is GOVULNCHECK_DB right?)"; exit 1 ;;
          esac ;;
        # 5/6: cannot resolve proxy/host, 7: cannot connect, 28: timeout,
        # 35: TLS handshake failed, 52/56: empty reply or connection reset,
        # 97: proxy handshake failed.
        5 | 6 | 7 | 28 | 35 | 52 | 56 | 97)
          skip "$(tr '\n' ' ' <"$out")" ;;
        *)
          echo "govulncheck: probe of $db failed (curl exit $rc: $(tr '\n' ' ' <"$out")); trying the scan anyway" ;;
      esac
    fi ;;
esac

cd "$root"
set +e
if command -v timeout >/dev/null 2>&1; then
  timeout "$scan_timeout" "$bin/govulncheck" -db "$db" ./... >"$out" 2>&1
else
  "$bin/govulncheck" -db "$db" ./... >"$out" 2>&1
fi
rc=$?
set -e
cat "$out"

case $rc in
  0) exit 0 ;;
  3) echo "govulncheck: FAILED: vulnerabilities in code the exporter calls (see above)"; exit 3 ;;
  124) echo "govulncheck: FAILED: the scan did not finish within ${scan_timeout}s"; exit 124 ;;
esac

# Only the database fetch failing on the network counts as unreachable (for
# when curl is missing, or the database went away after the probe): the
# error is "govulncheck: fetching vulnerabilities: <cause>" with a network
# error as the cause. Anything else is a real failure.
if grep -qE '^govulncheck: fetching vulnerabilities: ' "$out" &&
  grep -qiE 'no such host|server misbehaving|connection refused|network is unreachable|no route to host|i/o timeout|TLS handshake timeout|connection reset by peer|proxyconnect|dial tcp' "$out"; then
  skip "$(grep -m1 '^govulncheck: ' "$out" | sed 's/^govulncheck: //')"
fi
echo "govulncheck: FAILED (exit status $rc)"
exit "$rc"
