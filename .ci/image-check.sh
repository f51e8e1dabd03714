#!/usr/bin/env bash
# Builds the container image (Containerfile, FROM scratch) with `make image` and proves it works
# and is complete, without a container runtime (called from .ci/run):
#
#   1. `make image IMAGE=... VERSION=1.2.3` with podman (installed with apt-get when missing);
#   2. the image config: user 65532:65532, port 9897/tcp, the exporter as entrypoint, version label;
#   3. its filesystem, exported (podman create + podman export): exactly the binary, the CA bundle,
#      passwd and group, nothing else (no /bin/sh); the binary static (no PT_INTERP, CGO_ENABLED=0);
#   4. the exporter run from that filesystem with chroot as 65532:65532 in --demo mode on loopback:
#      /metrics has lambda_durable_executions and build_info with version 1.2.3, the process's uid
#      is 65532, --version prints 1.2.3 and the checkout's revision;
#   5. `make build` without VERSION: --version prints the git-derived version, not an empty one.
#
# Containers are not run: podman cannot start one where the runtime's rlimit calls are refused,
# and the chroot shows the same thing: the image's files, run as its user. Needs root for chroot
# (sudo otherwise). Everything it makes (image, container, files) is removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=deploy/tools/lib.sh
source deploy/tools/lib.sh

START=$SECONDS
WANT_VERSION=1.2.3
IMAGE=localhost/lde-image-check:$$
BIN=/bin/lambda-durable-exporter
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lde-image-check.XXXXXX")
ROOTFS=$WORK/rootfs
CONTAINER='' PID='' CONTEXT_EXISTED=''
[[ -e .build/image ]] && CONTEXT_EXISTED=1
SUDO=()
((EUID == 0)) || SUDO=(sudo)

die() {
	echo "image-check: FAILED: $*" >&2
	exit 1
}
step() { printf '\n--> %s (%ss)\n' "$*" $((SECONDS - START)); }

cleanup() {
	local rc=$?
	trap - EXIT
	if [[ -n $PID ]]; then
		"${SUDO[@]}" kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	if ((rc != 0)) && [[ -s $WORK/exporter.log ]]; then
		echo "--- exporter log (last 20 lines)"
		tail -n 20 "$WORK/exporter.log"
	fi
	[[ -z $CONTAINER ]] || podman rm -f "$CONTAINER" >/dev/null 2>&1 || true
	if podman image exists "$IMAGE" 2>/dev/null; then podman rmi -f "$IMAGE" >/dev/null 2>&1 || true; fi
	"${SUDO[@]}" rm -rf "$WORK" || true
	if [[ -z $CONTEXT_EXISTED ]]; then
		rm -rf .build/image || true
		rmdir .build 2>/dev/null || true
	fi
	echo "image-check: $( ((rc == 0)) && echo ok || echo "FAILED (exit $rc)") in $((SECONDS - START))s"
	exit "$rc"
}
trap cleanup EXIT

step "tools"
for tool in podman:podman curl:curl readelf:binutils chroot:coreutils make:make; do
	lde_apt_install "${tool%%:*}" "${tool#*:}" || die "cannot install ${tool#*:} with apt-get (needed for ${tool%%:*})"
	command -v "${tool%%:*}" >/dev/null || die "${tool%%:*} is missing"
done
podman --version
podman info >/dev/null 2>"$WORK/podman-info.err" || die "podman does not work here: $(cat "$WORK/podman-info.err")"

step "make image IMAGE=$IMAGE VERSION=$WANT_VERSION"
# --layers=false: no intermediate images to clean up.
make --no-print-directory image IMAGE="$IMAGE" VERSION="$WANT_VERSION" CONTAINER_BUILD_FLAGS=--layers=false || die "make image failed"
REVISION=$(git rev-parse HEAD)

step "image config"
inspect() { podman image inspect --format "$1" "$IMAGE"; }
[[ $(inspect '{{.Config.User}}') == 65532:65532 ]] || die "image user is '$(inspect '{{.Config.User}}')', want 65532:65532"
# shellcheck disable=SC2016 # a Go template, not shell
[[ $(inspect '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}') == *9897/tcp* ]] || die "image does not expose 9897/tcp"
[[ $(inspect '{{index .Config.Entrypoint 0}}') == "$BIN" ]] || die "entrypoint is not $BIN: $(inspect '{{json .Config.Entrypoint}}')"
[[ $(inspect '{{index .Config.Labels "org.opencontainers.image.version"}}') == "$WANT_VERSION" ]] || die "version label is not $WANT_VERSION"
echo "user 65532:65532, exposes 9897/tcp, entrypoint $(inspect '{{json .Config.Entrypoint}}'), $(inspect '{{.Size}}') bytes"

step "image filesystem (podman create + podman export)"
CONTAINER=$(podman create "$IMAGE")
mkdir "$ROOTFS"
podman export "$CONTAINER" | tar -x -C "$ROOTFS" || die "cannot export the image's filesystem"
files=$(cd "$ROOTFS" && find . \( -type f -o -type l \) | sort | tr '\n' ' ')
want_files="./bin/lambda-durable-exporter ./etc/group ./etc/passwd ./etc/ssl/certs/ca-certificates.crt "
[[ $files == "$want_files" ]] || die "image files are: $files; want only: $want_files"
[[ ! -e $ROOTFS/bin/sh ]] || die "the image has a shell"
[[ -x $ROOTFS$BIN ]] || die "$BIN is not executable"
if readelf -lW "$ROOTFS$BIN" | grep -q INTERP; then die "$BIN is dynamically linked (PT_INTERP)"; fi
go version -m "$ROOTFS$BIN" | grep -q 'CGO_ENABLED=0' || die "$BIN was not built with CGO_ENABLED=0"
n=$(grep -c 'BEGIN CERTIFICATE' "$ROOTFS/etc/ssl/certs/ca-certificates.crt") || die "the CA bundle has no certificate"
grep -q '^nonroot:x:65532:65532:' "$ROOTFS/etc/passwd" || die "passwd has no nonroot 65532"
grep -q '^nonroot:x:65532:' "$ROOTFS/etc/group" || die "group has no nonroot 65532"
echo "files: $files"
echo "static (no PT_INTERP, CGO_ENABLED=0), CA bundle with $n certificates, no /bin/sh, nonroot 65532 in passwd and group"

step "--version of the image's binary"
out=$("${SUDO[@]}" chroot --userspec=65532:65532 "$ROOTFS" "$BIN" --version 2>&1)
echo "$out"
[[ $out == *"version $WANT_VERSION (branch: "*", revision: $REVISION)"* ]] || die "--version does not print version $WANT_VERSION and revision $REVISION"

step "run it: chroot --userspec=65532:65532 $ROOTFS $BIN --demo"
for _ in 1 2 3; do
	PORT=$((20000 + RANDOM % 30000))
	"${SUDO[@]}" chroot --userspec=65532:65532 "$ROOTFS" "$BIN" --demo --web.listen-address="127.0.0.1:$PORT" >"$WORK/exporter.log" 2>&1 &
	PID=$!
	metrics=
	for _ in $(seq 1 60); do
		kill -0 "$PID" 2>/dev/null || break
		metrics=$(curl -sf --max-time 2 "http://127.0.0.1:$PORT/metrics" || true)
		[[ $metrics == *$'\n'lambda_durable_executions\{* ]] && break
		sleep 0.5
	done
	kill -0 "$PID" 2>/dev/null && break
	wait "$PID" 2>/dev/null || true
	PID=
	grep -q 'address already in use' "$WORK/exporter.log" || die "the exporter exited: $(tail -n 5 "$WORK/exporter.log")"
done
[[ -n $PID ]] || die "no free port in three attempts"
uid=$(awk '/^Uid:/ { print $2 "/" $3 }' "/proc/$PID/status")
[[ $uid == 65532/65532 ]] || die "the exporter runs as uid $uid, want 65532"
[[ $metrics == *$'\n'lambda_durable_executions\{* ]] || die "/metrics has no lambda_durable_executions after 30s"
build_info=$(grep '^lambda_durable_exporter_build_info{' <<<"$metrics") || die "/metrics has no build_info"
[[ $build_info == *"version=\"$WANT_VERSION\""* && $build_info == *"revision=\"$REVISION\""* ]] ||
	die "build_info does not carry version $WANT_VERSION and revision $REVISION: $build_info"
echo "uid 65532, $(grep -c '^lambda_durable_executions{' <<<"$metrics") lambda_durable_executions series; $build_info"
"${SUDO[@]}" kill "$PID"
wait "$PID" 2>/dev/null || true
PID=
rm -f "$WORK/exporter.log" # shown on a failure while it runs only

step "make build without VERSION: the version comes from git"
make --no-print-directory build BINARY="$WORK/default-build" || die "make build failed"
out=$("$WORK/default-build" --version 2>&1) # kingpin prints it on stderr
echo "$out"
v=$(sed -n 's/^lambda-durable-exporter, version \([^ ]*\) (branch: [^,]*, revision: \([0-9a-f]*\))$/\1 \2/p' <<<"$out")
[[ -n $v && ${v% *} != "" && ${v#* } == "$REVISION" ]] || die "--version of make build has no version or not revision $REVISION"
