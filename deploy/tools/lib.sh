# shellcheck shell=bash disable=SC2034 # the versions are used by the scripts that source this file
# Shared by .ci/deploy-checks.sh and deploy/e2e/prometheus-e2e.sh (sourced, not run).
#
# Pinned tool versions, and installers that reuse an already-installed binary
# when `go version -m` says it was built from the pinned module version, so
# that running the checks again costs nothing.

LDE_HELM_VERSION=v3.22.0
LDE_KUBECONFORM_VERSION=v0.8.0
LDE_PROMETHEUS_VERSION=v0.316.0
# Kubernetes version of the schemas kubeconform validates against (module
# k8s.io/kubernetes, file api/openapi-spec/swagger.json) and of helm's
# --kube-version (a go-installed helm has no built-in Kubernetes version).
LDE_K8S_VERSION=v1.35.4
# Prometheus Operator whose ServiceMonitor and PrometheusRule CRDs are used.
LDE_PROMETHEUS_OPERATOR_VERSION=v0.85.0

LDE_TOOLS_DIR=${LDE_TOOLS_DIR:-${HOME:-/root}/.cache/lde-tools}

lde_log() { printf '%s\n' "$*" >&2; }

# lde_built_from BINARY MODULE VERSION: whether BINARY exists and was built from MODULE@VERSION.
lde_built_from() {
	local bin=$1 mod=$2 version=$3
	[[ -x $bin ]] || return 1
	go version -m "$bin" 2>/dev/null | awk -v m="$mod" -v v="$version" '$1 == "mod" && $2 == m && $3 == v { found = 1 } END { exit !found }'
}

# lde_go_install MODULE VERSION PACKAGE...: installs the packages (main packages of MODULE)
# into LDE_TOOLS_DIR unless every one of them is already there at VERSION. LDE_GO_INSTALL_TAGS,
# when set, are the build tags.
lde_go_install() {
	local mod=$1 version=$2
	shift 2
	local pkg missing=()
	for pkg in "$@"; do
		if lde_built_from "$LDE_TOOLS_DIR/${pkg##*/}" "$mod" "$version"; then
			lde_log "  ${pkg##*/}: $mod $version already installed in $LDE_TOOLS_DIR"
		else
			missing+=("$pkg@$version")
		fi
	done
	((${#missing[@]} == 0)) && return 0
	mkdir -p "$LDE_TOOLS_DIR"
	lde_log "  go install ${LDE_GO_INSTALL_TAGS:+-tags $LDE_GO_INSTALL_TAGS }${missing[*]}"
	# Outside any module, so that no go.mod is consulted or changed.
	(cd "$LDE_TOOLS_DIR" && GOBIN=$LDE_TOOLS_DIR go install ${LDE_GO_INSTALL_TAGS:+-tags "$LDE_GO_INSTALL_TAGS"} "${missing[@]}")
	for pkg in "$@"; do
		lde_built_from "$LDE_TOOLS_DIR/${pkg##*/}" "$mod" "$version" || {
			lde_log "  ${pkg##*/} was not installed from $mod $version"
			return 1
		}
	done
}

lde_install_helm() {
	lde_go_install helm.sh/helm/v3 "$LDE_HELM_VERSION" helm.sh/helm/v3/cmd/helm
}

lde_install_kubeconform() {
	lde_go_install github.com/yannh/kubeconform "$LDE_KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform
}

# Prometheus takes minutes to build; both binaries come from one go install. The remove_all_sd
# build tag leaves out every service discovery but static_configs and file_sd (cloud SDKs,
# Kubernetes client...), which halves the build time; the checks need nothing else.
lde_install_prometheus() {
	LDE_GO_INSTALL_TAGS=remove_all_sd lde_go_install github.com/prometheus/prometheus "$LDE_PROMETHEUS_VERSION" \
		github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool
}

# lde_apt_install COMMAND PACKAGE: installs the Debian package when COMMAND is missing.
lde_apt_install() {
	local cmd=$1 pkg=$2
	command -v "$cmd" >/dev/null 2>&1 && return 0
	lde_log "  $cmd missing: apt-get install $pkg"
	local sudo=()
	((EUID == 0)) || sudo=(sudo)
	if [[ -z ${LDE_APT_UPDATED:-} ]]; then
		"${sudo[@]}" apt-get update -qq >&2
		LDE_APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$pkg" >&2
}

# lde_module_dir MODULE VERSION: downloads MODULE@VERSION into the module cache, prints its directory.
lde_module_dir() {
	local tmp dir
	tmp=$(mktemp -d)
	dir=$(cd "$tmp" && go mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	rmdir "$tmp"
	[[ -n $dir && -d $dir ]] || {
		lde_log "cannot download $1@$2"
		return 1
	}
	printf '%s\n' "$dir"
}
