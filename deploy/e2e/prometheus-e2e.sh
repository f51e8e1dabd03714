#!/usr/bin/env bash
# End-to-end test of the exporter with a real Prometheus, all on loopback:
#
#  1. builds ./cmd/exporter and starts it with --demo and --storage.path (a simulated Lambda API with live workload,
#     no AWS credentials) on a free 127.0.0.1 port;
#  2. checks its /metrics with `promtool check metrics`;
#  3. starts Prometheus (pinned, see deploy/tools/lib.sh) scraping it every 2s and loading the
#     shipped alert rules (deploy/helm/lambda-durable-exporter/files/alerts.yaml) with every `for:`
#     rewritten to 0s in a temporary copy, so that alerts fire within seconds;
#  4. asserts through Prometheus' HTTP API that the target is up, that every rule evaluates
#     without error, that every query of the committed Grafana dashboard (variables substituted)
#     returns data, that the duration histograms arrive as native histograms too (protobuf), and that
#     LambdaDurableExecutionsFailed fires.
#
# Every wait is bounded (E2E_TIMEOUT seconds, default 120, per wait). Both processes are stopped and
# the temporary directory removed on exit, whatever happens (E2E_KEEP=1 keeps the directory).
#
# Environment:
#   E2E_TIMEOUT        seconds per wait (default 120)
#   E2E_KEEP=1         keep the temporary directory (logs, config, TSDB)
#   LDE_EXPORTER_BIN   run this exporter binary instead of building ./cmd/exporter
#   LDE_TOOLS_DIR      where the pinned prometheus/promtool are (installed when missing)
#   E2E_OPTIONAL_METRICS  regex of metrics whose dashboard queries may return nothing under --demo
#                      (default: none)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=deploy/tools/lib.sh
source "$ROOT/deploy/tools/lib.sh"

TIMEOUT=${E2E_TIMEOUT:-120}
ALERTS="$ROOT/deploy/helm/lambda-durable-exporter/files/alerts.yaml"
DASHBOARD="$ROOT/grafana/dashboards/lambda-durable-overview.json"
JOB=lambda-durable-exporter
# Queries on these metrics may return nothing; they are reported, not failed. None by default:
# every dashboard query must return data (the demo has discovery, breakdowns and --storage.path).
OPTIONAL_METRICS=${E2E_OPTIONAL_METRICS:-'^$'}
PASSED=0

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lde-e2e.XXXXXX")
EXPORTER_PID=
PROMETHEUS_PID=

say() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

stop() {
	local name=$1 pid=$2 i
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
	kill "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "$name ($pid) did not stop on SIGTERM: SIGKILL"
		kill -9 "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if ((rc != 0)); then
		say "FAILED (exit $rc); last lines of the logs:"
		for f in "$WORK/exporter.log" "$WORK/prometheus.log"; do
			[[ -f $f ]] && { echo "--- $f"; tail -n 40 "$f"; }
		done
	fi
	stop prometheus "$PROMETHEUS_PID"
	stop exporter "$EXPORTER_PID"
	if [[ ${E2E_KEEP:-} == 1 ]]; then
		say "kept $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
	say "FAIL: $*"
	exit 1
}

# free_port: a random unprivileged port nobody listens on (from /proc/net/tcp{,6}).
free_port() {
	local used port i
	used=$(awk 'FNR > 1 && $4 == "0A" { n = split($2, a, ":"); print a[n] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		while read -r hex; do echo $((16#$hex)); done | sort -u)
	for ((i = 0; i < 100; i++)); do
		port=$((20000 + RANDOM % 40000))
		grep -qx "$port" <<<"$used" || {
			echo "$port"
			return 0
		}
	done
	fail "no free port found"
}

# wait_http NAME URL PID: waits until URL answers 200, failing early if PID dies.
wait_http() {
	local name=$1 url=$2 pid=$3 deadline=$((SECONDS + TIMEOUT))
	until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || fail "$name exited before $url answered"
		((SECONDS < deadline)) || fail "$url did not answer 200 within ${TIMEOUT}s"
		sleep 0.5
	done
}

api() { curl -fsS --max-time 10 "$@"; }

# The whole run is one function, parsed before it starts: editing this file while it runs is safe.
main() {
	# ------------------------------------------------------------------------------------------------
	say "tools"
	lde_apt_install curl curl
	lde_apt_install jq jq
	lde_install_prometheus
	PROMETHEUS="$LDE_TOOLS_DIR/prometheus"
	PROMTOOL="$LDE_TOOLS_DIR/promtool"

	if [[ -n ${LDE_EXPORTER_BIN:-} ]]; then
		EXPORTER=$LDE_EXPORTER_BIN
		say "using exporter binary $EXPORTER"
	else
		say "building ./cmd/exporter"
		EXPORTER="$WORK/lambda-durable-exporter"
		(cd "$ROOT" && CGO_ENABLED=0 go build -o "$EXPORTER" \
			-ldflags "-X github.com/prometheus/common/version.Version=e2e -X github.com/prometheus/common/version.Revision=e2e -X github.com/prometheus/common/version.Branch=e2e -X github.com/prometheus/common/version.BuildUser=e2e -X github.com/prometheus/common/version.BuildDate=e2e" \
			./cmd/exporter)
	fi

	say "dashboard queries"
	(cd "$ROOT/grafana" && go run ./cmd/dashboard-queries "$DASHBOARD") >"$WORK/queries.jsonl"
	NQUERIES=$(wc -l <"$WORK/queries.jsonl")
	((NQUERIES > 0)) || fail "no query read from $DASHBOARD"
	say "$NQUERIES queries read from ${DASHBOARD#"$ROOT"/}"

	# ------------------------------------------------------------------------------------------------
	EXPORTER_PORT=$(free_port)
	say "starting the exporter: --demo --storage.path on 127.0.0.1:$EXPORTER_PORT"
	# With --storage.path, so that the checkpoint panels have data too.
	(cd "$WORK" && exec "$EXPORTER" --demo --storage.path="$WORK/state" --web.listen-address="127.0.0.1:$EXPORTER_PORT" --log.level=info) >"$WORK/exporter.log" 2>&1 &
	EXPORTER_PID=$!
	EXPORTER_URL="http://127.0.0.1:$EXPORTER_PORT"
	wait_http exporter "$EXPORTER_URL/-/healthy" "$EXPORTER_PID"
	wait_http exporter "$EXPORTER_URL/-/ready" "$EXPORTER_PID"
	say "exporter ready"

	say "promtool check metrics"
	api "$EXPORTER_URL/metrics" >"$WORK/metrics.txt"
	if ! "$PROMTOOL" check metrics <"$WORK/metrics.txt" >"$WORK/check-metrics.txt" 2>&1 || [[ -s $WORK/check-metrics.txt ]]; then
		cat "$WORK/check-metrics.txt"
		fail "promtool check metrics reported problems"
	fi
	grep -q '^lambda_durable_executions{' "$WORK/metrics.txt" || fail "/metrics has no lambda_durable_executions series"
	say "PASS: promtool check metrics found no problem"
	PASSED=$((PASSED + 1))

	# ------------------------------------------------------------------------------------------------
	# Alert rules with every `for:` set to 0s (see deploy/prometheus/README.md); nothing else changes.
	sed -E 's/^([[:space:]]*)for:[[:space:]].*$/\1for: 0s/' "$ALERTS" >"$WORK/alerts.yaml"
	"$PROMTOOL" check rules "$WORK/alerts.yaml" >/dev/null

	PROMETHEUS_PORT=$(free_port)
	cat >"$WORK/prometheus.yml" <<-EOF
	global:
	  scrape_interval: 2s
	  scrape_timeout: 2s
	  evaluation_interval: 2s
	rule_files:
	  - $WORK/alerts.yaml
	scrape_configs:
	  - job_name: $JOB
	    # The duration histograms are native too (over protobuf); the classic buckets stay for
	    # the dashboard's histogram_quantile over _bucket.
	    scrape_native_histograms: true
	    always_scrape_classic_histograms: true
	    static_configs:
	      - targets: ["127.0.0.1:$EXPORTER_PORT"]
	EOF
	"$PROMTOOL" check config "$WORK/prometheus.yml" >/dev/null

	say "starting Prometheus on 127.0.0.1:$PROMETHEUS_PORT"
	"$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data" \
		--web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
	PROMETHEUS_PID=$!
	PROM="http://127.0.0.1:$PROMETHEUS_PORT"
	wait_http prometheus "$PROM/-/ready" "$PROMETHEUS_PID"
	say "Prometheus ready"

	# ------------------------------------------------------------------------------------------------
	say "waiting for the target to be up"
	deadline=$((SECONDS + TIMEOUT))
	until [[ $(api "$PROM/api/v1/targets?state=active" | jq -r --arg job "$JOB" '[.data.activeTargets[] | select(.labels.job == $job and .health == "up")] | length') -ge 1 ]]; do
		((SECONDS < deadline)) || fail "target of job $JOB not up within ${TIMEOUT}s: $(api "$PROM/api/v1/targets" | jq -c '.data.activeTargets[] | {health, lastError}')"
		sleep 1
	done
	say "PASS: target up"
	PASSED=$((PASSED + 1))

	# run_query QUERY_JSON: prints the number of series the dashboard query returns.
	run_query() {
		local q=$1 expr instant now
		expr=$(jq -r .expr <<<"$q")
		instant=$(jq -r '.instant // false' <<<"$q")
		now=$(date +%s)
		if [[ $(jq -r '.labelValues // ""' <<<"$q") != "" ]]; then
			api --get --data-urlencode "match[]=$expr" --data-urlencode "start=$((now - 300))" --data-urlencode "end=$now" \
				"$PROM/api/v1/series" | jq --arg l "$(jq -r .labelValues <<<"$q")" '[.data[] | select(.[$l] != null and .[$l] != "")] | length'
		elif [[ $instant == true ]]; then
			api --get --data-urlencode "query=$expr" --data-urlencode "time=$now" "$PROM/api/v1/query" | jq '.data.result | length'
		else
			api --get --data-urlencode "query=$expr" --data-urlencode "start=$((now - 120))" --data-urlencode "end=$now" \
				--data-urlencode "step=2" "$PROM/api/v1/query_range" | jq '.data.result | length'
		fi
	}

	say "waiting for every dashboard query to return data"
	deadline=$((SECONDS + TIMEOUT))
	while :; do
		empty=()
		optional=()
		while IFS= read -r q; do
			n=$(run_query "$q") || fail "query failed: $(jq -r .expr <<<"$q")"
			((n > 0)) && continue
			if [[ $(jq -r .expr <<<"$q") =~ $OPTIONAL_METRICS ]]; then
				optional+=("$(jq -r '"\(.panel) \(.refId // "")"' <<<"$q")")
			else
				empty+=("$(jq -r '"\(.panel) \(.refId // ""): \(.expr)"' <<<"$q")")
			fi
		done <"$WORK/queries.jsonl"
		((${#empty[@]} == 0)) && break
		if ((SECONDS >= deadline)); then
			printf '  no data: %s\n' "${empty[@]}"
			fail "${#empty[@]} of $NQUERIES dashboard queries returned no data within ${TIMEOUT}s"
		fi
		sleep 2
	done
	if ((${#optional[@]} > 0)); then
		say "no data, allowed (metrics the demo does not produce, E2E_OPTIONAL_METRICS): $(IFS=';'; echo "${optional[*]}")"
	fi
	say "PASS: $((NQUERIES - ${#optional[@]})) of $NQUERIES dashboard queries return data, the ${#optional[@]} others may be empty"
	PASSED=$((PASSED + 1))

	say "native duration histograms"
	deadline=$((SECONDS + TIMEOUT))
	native='histogram_count(sum by (function) (lambda_durable_execution_duration_seconds))'
	until (($(api --get --data-urlencode "query=$native" "$PROM/api/v1/query" | jq '.data.result | length') > 0)); do
		((SECONDS < deadline)) || fail "no native histogram series within ${TIMEOUT}s: $native"
		sleep 1
	done
	classic=$(api --get --data-urlencode 'query=count({__name__=~"lambda_durable_execution_duration_seconds_(bucket|sum|count)"})' "$PROM/api/v1/query" | jq -r '.data.result[0].value[1]')
	nseries=$(api --get --data-urlencode 'query=count({__name__="lambda_durable_execution_duration_seconds"})' "$PROM/api/v1/query" | jq -r '.data.result[0].value[1]')
	say "PASS: native duration histograms: $nseries series, against $classic classic bucket, sum and count series"
	PASSED=$((PASSED + 1))

	say "checking that every rule evaluates without error"
	deadline=$((SECONDS + TIMEOUT))
	until api "$PROM/api/v1/rules" | jq -e '[.data.groups[].rules[]] | length > 0 and all(.health == "ok")' >/dev/null; do
		((SECONDS < deadline)) || fail "rules not all healthy: $(api "$PROM/api/v1/rules" | jq -c '[.data.groups[].rules[] | select(.health != "ok") | {name, health, lastError}]')"
		sleep 1
	done
	say "PASS: $(api "$PROM/api/v1/rules" | jq '[.data.groups[].rules[]] | length') rules healthy"
	PASSED=$((PASSED + 1))

	say "waiting for LambdaDurableExecutionsFailed to fire"
	deadline=$((SECONDS + TIMEOUT))
	until api "$PROM/api/v1/alerts" | jq -e '[.data.alerts[] | select(.labels.alertname == "LambdaDurableExecutionsFailed" and .state == "firing")] | length > 0' >/dev/null; do
		((SECONDS < deadline)) || fail "LambdaDurableExecutionsFailed not firing within ${TIMEOUT}s; alerts: $(api "$PROM/api/v1/alerts" | jq -c '[.data.alerts[] | {alertname: .labels.alertname, state}]')"
		sleep 1
	done
	say "PASS: LambdaDurableExecutionsFailed firing for $(api "$PROM/api/v1/alerts" | jq -r '[.data.alerts[] | select(.labels.alertname == "LambdaDurableExecutionsFailed" and .state == "firing") | .labels.function] | join(", ")')"
	PASSED=$((PASSED + 1))

	say "alerts firing at the end: $(api "$PROM/api/v1/alerts" | jq -r '[.data.alerts[] | select(.state == "firing") | .labels.alertname] | unique | join(", ")')"
	echo "prometheus-e2e: $PASSED passed, 0 failed"
}

main "$@"
