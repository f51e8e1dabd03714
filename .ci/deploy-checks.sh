#!/usr/bin/env bash
# Deployment and observability checks of lambda-durable-exporter (called from .ci/run).
#
#   bash .ci/deploy-checks.sh            # everything
#   SKIP_E2E=1 bash .ci/deploy-checks.sh # everything but the end-to-end test with a real Prometheus
#
# Needs only Go and Debian's apt: it installs pinned helm, kubeconform, prometheus and promtool with
# `go install` into LDE_TOOLS_DIR (default ~/.cache/lde-tools; a binary already built from the pinned
# version is reused, so a second run installs nothing), and curl/jq with apt-get when missing. The
# Kubernetes and Prometheus Operator JSON schemas are generated offline from Go modules (see
# deploy/tools/k8s-jsonschema) and cached in LDE_TOOLS_DIR too. Safe to run again at any time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=deploy/tools/lib.sh
source deploy/tools/lib.sh

CHART=deploy/helm/lambda-durable-exporter
KUBE_VERSION=${LDE_K8S_VERSION#v}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lde-deploy-checks.XXXXXX")
# helm writes its config and cache under these; keep them out of $HOME.
export HELM_CONFIG_HOME="$WORK/helm/config" HELM_CACHE_HOME="$WORK/helm/cache" HELM_DATA_HOME="$WORK/helm/data"

TIMINGS=()
CURRENT=
START_ALL=$SECONDS

summary() {
	local t
	echo
	echo "==> Timings"
	for t in "${TIMINGS[@]}"; do echo "    $t"; done
	echo "    total: $((SECONDS - START_ALL))s"
}

on_exit() {
	local rc=$?
	trap - EXIT
	if ((rc != 0)); then
		[[ -n $CURRENT ]] && TIMINGS+=("$(printf '%-45s FAILED' "$CURRENT")")
		summary
		echo
		echo "deploy-checks: FAILED in \"$CURRENT\" (exit $rc)"
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap on_exit EXIT

# run_section TITLE FUNCTION: runs FUNCTION under a header and records how long it took.
run_section() {
	local title=$1 fn=$2 start=$SECONDS
	CURRENT=$title
	echo
	echo "==> $title"
	"$fn"
	TIMINGS+=("$(printf '%-45s %4ds' "$title" $((SECONDS - start)))")
	CURRENT=
}

helm() { "$LDE_TOOLS_DIR/helm" "$@"; }
kubeconform() { "$LDE_TOOLS_DIR/kubeconform" "$@"; }
promtool() { "$LDE_TOOLS_DIR/promtool" "$@"; }

ci_values() { ls "$CHART"/ci/*-values.yaml; }

# ------------------------------------------------------------------------------------------------
install_helm_kubeconform() {
	lde_install_helm
	lde_install_kubeconform
	helm version --short
	kubeconform -v
}

install_prometheus() {
	lde_install_prometheus
	promtool --version | head -n 1
}

install_debian_tools() {
	lde_apt_install curl curl
	lde_apt_install jq jq
	echo "curl: $(command -v curl), jq: $(command -v jq)"
}

SCHEMAS="$LDE_TOOLS_DIR/schemas/k8s-$LDE_K8S_VERSION-prometheus-operator-$LDE_PROMETHEUS_OPERATOR_VERSION"

make_schemas() {
	if [[ -f $SCHEMAS/.complete ]]; then
		echo "reusing $SCHEMAS ($(find "$SCHEMAS" -name '*.json' | wc -l) schemas)"
		return 0
	fi
	local k8s po tmp
	k8s=$(lde_module_dir k8s.io/kubernetes "$LDE_K8S_VERSION")
	po=$(lde_module_dir github.com/prometheus-operator/prometheus-operator "$LDE_PROMETHEUS_OPERATOR_VERSION")
	echo "Kubernetes OpenAPI: $k8s/api/openapi-spec/swagger.json"
	echo "Prometheus Operator CRDs: $po/jsonnet/prometheus-operator/{servicemonitors,prometheusrules}-crd.json"
	tmp="$SCHEMAS.tmp.$$"
	rm -rf "$tmp"
	(cd deploy/tools && go run ./k8s-jsonschema -out "$tmp" \
		-swagger "$k8s/api/openapi-spec/swagger.json" \
		-crd "$po/jsonnet/prometheus-operator/servicemonitors-crd.json" \
		-crd "$po/jsonnet/prometheus-operator/prometheusrules-crd.json")
	touch "$tmp/.complete"
	rm -rf "$SCHEMAS"
	mkdir -p "$(dirname "$SCHEMAS")"
	mv "$tmp" "$SCHEMAS"
}

helm_lint() {
	local f
	echo "--- helm lint --strict (no values: discovery of every durable function)"
	helm lint --strict --kube-version "$KUBE_VERSION" "$CHART"
	for f in $(ci_values); do
		echo "--- helm lint --strict -f ${f#"$CHART"/}"
		helm lint --strict --kube-version "$KUBE_VERSION" "$CHART" -f "$f"
	done
}

# expect_kinds FILE KIND...: the rendered FILE has every KIND; "!KIND" means it must not.
expect_kinds() {
	local file=$1 k
	shift
	for k in "$@"; do
		if [[ $k == !* ]]; then
			! grep -q "^kind: ${k#!}$" "$file" || { echo "$file: unexpected kind ${k#!}"; return 1; }
		else
			grep -q "^kind: $k$" "$file" || { echo "$file: no $k rendered"; return 1; }
		fi
	done
}

helm_template_kubeconform() {
	local f name out
	mkdir -p "$WORK/rendered"
	# No values at all: the chart discovers every durable function of config.region.
	out="$WORK/rendered/no-values.yaml"
	helm template lambda-durable-exporter "$CHART" --namespace monitoring --kube-version "$KUBE_VERSION" >"$out"
	echo "--- helm template (no values): $(grep -c '^kind: ' "$out") objects ($(grep '^kind: ' "$out" | cut -d' ' -f2 | sort | paste -sd, -))"
	grep -A1 -x '    discovery:' "$out" | grep -qx '    - {}' || { echo "no-values: the config is not discovery: [{}]"; return 1; }
	for f in $(ci_values); do
		name=$(basename "$f" -values.yaml)
		out="$WORK/rendered/$name.yaml"
		helm template lambda-durable-exporter "$CHART" --namespace monitoring --kube-version "$KUBE_VERSION" -f "$f" >"$out"
		echo "--- helm template -f ${f#"$CHART"/}: $(grep -c '^kind: ' "$out") objects ($(grep '^kind: ' "$out" | cut -d' ' -f2 | sort | paste -sd, -))"
	done
	expect_kinds "$WORK/rendered/no-values.yaml" Deployment Service ServiceAccount ConfigMap '!ServiceMonitor' '!PrometheusRule' '!StatefulSet'
	expect_kinds "$WORK/rendered/default.yaml" Deployment Service ServiceAccount ConfigMap '!ServiceMonitor' '!PrometheusRule' '!PodDisruptionBudget' '!NetworkPolicy' '!PersistentVolumeClaim'
	expect_kinds "$WORK/rendered/servicemonitor-and-rules.yaml" ServiceMonitor PrometheusRule ConfigMap
	expect_kinds "$WORK/rendered/existing-configmap.yaml" Deployment '!ConfigMap' '!ServiceAccount'
	expect_kinds "$WORK/rendered/hardened-extras.yaml" PodDisruptionBudget NetworkPolicy
	expect_kinds "$WORK/rendered/persistence.yaml" Deployment PersistentVolumeClaim '!StatefulSet'
	expect_kinds "$WORK/rendered/sharded-persistence.yaml" StatefulSet '!Deployment' '!PersistentVolumeClaim'
	grep -q '^  volumeClaimTemplates:$' "$WORK/rendered/sharded-persistence.yaml" || { echo "sharded-persistence: no volumeClaimTemplates"; return 1; }
	echo "--- kubeconform -strict (schemas: $SCHEMAS)"
	kubeconform -strict -summary -output text \
		-schema-location "$SCHEMAS/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$WORK"/rendered/*.yaml
}

# Every config.yaml the chart renders must pass the exporter's own parser and validation.
exporter_config_check() {
	local f name cfg
	(cd "$ROOT" && go build -o "$WORK/lambda-durable-exporter" ./cmd/exporter)
	for f in "$WORK"/rendered/*.yaml; do
		name=$(basename "$f" .yaml)
		cfg="$WORK/rendered-config-$name.yaml"
		awk '/^  config.yaml: \|$/ { on = 1; next } on && /^    / { print substr($0, 5); next } on { on = 0 }' "$f" >"$cfg"
		if [[ ! -s $cfg ]]; then
			echo "--- $name: renders no ConfigMap (existingConfigMap)"
			continue
		fi
		echo "--- $name: lambda-durable-exporter --config.check"
		"$WORK/lambda-durable-exporter" --config.check --config.file="$cfg"
	done
}

# The PrometheusRule must carry files/alerts.yaml verbatim (with the default prometheusRule.runbookBaseURL,
# which the file's runbook_urls start with): un-indent its spec and compare.
prometheusrule_is_alerts_file() {
	helm template lambda-durable-exporter "$CHART" --kube-version "$KUBE_VERSION" \
		-f "$CHART/ci/servicemonitor-and-rules-values.yaml" --show-only templates/prometheusrule.yaml |
		sed -n '/^spec:$/,$p' | tail -n +2 | sed -e 's/^  //' -e 's/^ *$//' |
		grep -v -e '^# files/alerts.yaml is the single source of truth' -e '^# Prometheus rules file (see deploy/prometheus/README.md)' \
			-e '^# but for the base of the runbook_urls' \
			>"$WORK/prometheusrule-spec.yaml"
	sed -e 's/^ *$//' "$CHART/files/alerts.yaml" >"$WORK/alerts-normalized.yaml"
	diff -u "$WORK/alerts-normalized.yaml" "$WORK/prometheusrule-spec.yaml"
	promtool check rules "$WORK/prometheusrule-spec.yaml"
	echo "the rendered PrometheusRule's spec is files/alerts.yaml, verbatim"
}

# Misspelled, mistyped or missing values must make helm fail.
helm_rejects_bad_values() {
	local -a cases=(
		"misspelled top-level key|--set replicaCont=2"
		"misspelled nested key|--set serviceMonitor.enable=true"
		"misspelled function key|--set config.functions[0].nam=billing"
		"string for an integer|--set-string replicaCount=two"
		"unsupported duration unit|--set config.interval=1x"
		"duration without unit|--set config.window=3600"
		"unknown status|--set config.functions[0].name=a,config.functions[0].statuses[0]=RUNING"
		"page size above 1000|--set config.page_size=5000"
		"string for an integer in config|--set-string config.max_concurrency=four"
		"unknown exporter config key|--set config.pagesize=10"
		"bad pull policy|--set image.pullPolicy=Sometimes"
		"discovery entry with an empty regions list|--set-json config.discovery=[{\"regions\":[]}]"
		"persistence size that is no quantity|--set persistence.size=lots"
		"misspelled persistence key|--set persistence.storageClass=gp3"
		"read-only persistence access mode|--set persistence.accessModes[0]=ReadOnlyMany"
		"relative persistence mountPath|--set persistence.mountPath=var/lib/x"
	)
	local c title args
	for c in "${cases[@]}"; do
		title=${c%%|*}
		args=${c#*|}
		# shellcheck disable=SC2086 # args are split on purpose
		if helm template t "$CHART" --kube-version "$KUBE_VERSION" -f "$CHART/ci/default-values.yaml" $args >"$WORK/bad.out" 2>&1; then
			echo "helm accepted $title ($args)"
			return 1
		fi
		echo "rejected: $title ($args): $(grep -m1 -E "^- at |execution error" "$WORK/bad.out" | sed 's/^- //')"
	done
}

shellcheck_scripts() {
	lde_apt_install shellcheck shellcheck
	shellcheck -x .ci/deploy-checks.sh .ci/image-check.sh deploy/e2e/prometheus-e2e.sh deploy/tools/lib.sh
	echo "shellcheck: no finding"
}

promtool_rules() {
	promtool check rules "$CHART/files/alerts.yaml"
	promtool test rules deploy/prometheus/alerts_test.yaml
}

go_tests_deploy() {
	# The main module's stdlib-only tests of the deployment files (Dockerfile, chart, alerts).
	go test -count=1 ./deploy/
	(cd deploy/tools && go vet ./...)
}

go_tests_grafana() {
	cd grafana
	go mod tidy -diff
	go vet ./...
	go test -count=1 ./...
	cd "$ROOT"
}

e2e() {
	if [[ ${SKIP_E2E:-} == 1 ]]; then
		echo "SKIPPED: SKIP_E2E=1 is set, deploy/e2e/prometheus-e2e.sh not run"
		return 0
	fi
	deploy/e2e/prometheus-e2e.sh
}

# The whole run is one function, parsed before it starts: editing this file while it runs is safe.
main() {
	echo "lambda-durable-exporter deploy checks: tools in $LDE_TOOLS_DIR, Kubernetes $KUBE_VERSION"
	run_section "Install helm and kubeconform" install_helm_kubeconform
	run_section "Install prometheus and promtool" install_prometheus
	run_section "Install curl and jq (apt, when missing)" install_debian_tools
	run_section "Kubernetes and CRD JSON schemas (offline)" make_schemas
	run_section "helm lint --strict (no values, ci/*.yaml)" helm_lint
	run_section "helm template + kubeconform -strict" helm_template_kubeconform
	run_section "rendered config.yaml passes --config.check" exporter_config_check
	run_section "PrometheusRule embeds files/alerts.yaml" prometheusrule_is_alerts_file
	run_section "values.schema.json rejects bad values" helm_rejects_bad_values
	run_section "promtool check rules / test rules" promtool_rules
	run_section "shellcheck of the deploy scripts" shellcheck_scripts
	run_section "go test ./deploy/ (main module)" go_tests_deploy
	run_section "grafana module: tidy, vet, test" go_tests_grafana
	run_section "End-to-end: exporter --demo + Prometheus" e2e
	summary
	echo
	echo "deploy-checks: all checks passed"
}

main "$@"
