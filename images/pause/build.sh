#!/usr/bin/env bash
# Builds the pod sandbox ("pause") image every kubelet node needs, from the upstream
# source in the pinned k8s.io/kubernetes module (build/pause/linux/pause.c), fetched
# through the Go module proxy — so no node ever pulls registry.k8s.io/pause. The result
# is an OCI archive the agent imports into containerd at start (agent/kube/runtime).
#
#   images/pause/build.sh [--arch amd64|arm64|all] [--force]
#   images/pause/build.sh --print-dir [--arch ...]
#
# Output: ${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}/images/<arch>/pause-<tag>.tar
# arm64 needs Debian's gcc-aarch64-linux-gnu + libc6-dev-arm64-cross (skipped, with a
# note, when they are missing).
set -euo pipefail
cd "$(dirname "$0")/../.."

# ---- pins (kept in step with images/kubernetes/build.sh and agent/kube/binaries.ts) ----
K8S_VERSION=v1.37.1
PAUSE_TAG=3.10.2 # build/pause/Makefile TAG at K8S_VERSION
IMAGE=registry.k8s.io/pause:$PAUSE_TAG

log() { printf '[pause-build] %s\n' "$*" >&2; }
die() {
	printf '[pause-build] ERROR: %s\n' "$1" >&2
	[[ -n ${2:-} ]] && printf '[pause-build]   next: %s\n' "$2" >&2
	exit 1
}
host_arch() { case "$(uname -m)" in x86_64) echo amd64 ;; aarch64) echo arm64 ;; *) return 1 ;; esac; }

arch_arg='' force=0 print_dir=0
while (($#)); do
	case $1 in
	--arch) arch_arg=$2; shift 2 ;;
	--force) force=1; shift ;;
	--print-dir) print_dir=1; shift ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1'" "see --help" ;;
	esac
done
case ${arch_arg:-$(host_arch)} in
amd64) archs=(amd64) ;;
arm64) archs=(arm64) ;;
all) archs=(amd64 arm64) ;;
*) die "unknown --arch '$arch_arg'" "use amd64, arm64 or all" ;;
esac

CACHE_ROOT=${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}
if ((print_dir)); then
	for a in "${archs[@]}"; do echo "$CACHE_ROOT/images/$a"; done
	exit 0
fi

command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || die "go is not installed" "install Go (the module proxy fetches the Kubernetes source)"
src() {
	local json dir
	json=$(cd /tmp && GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "k8s.io/kubernetes@$K8S_VERSION" 2>&1) ||
		die "could not fetch k8s.io/kubernetes@$K8S_VERSION: $json" "check the Go module proxy (go env GOPROXY)"
	dir=$(printf '%s' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	[[ -f $dir/build/pause/linux/pause.c ]] || die "no build/pause/linux/pause.c in $dir"
	echo "$dir/build/pause/linux/pause.c"
}

for arch in "${archs[@]}"; do
	out=$CACHE_ROOT/images/$arch/pause-$PAUSE_TAG.tar
	if [[ -f $out && $force == 0 ]]; then
		log "$arch: cached ($out)"
		echo "$out"
		continue
	fi
	case $arch in
	amd64) cc=${CC_AMD64:-$([[ $(host_arch) == amd64 ]] && echo gcc || echo x86_64-linux-gnu-gcc)} ;;
	arm64) cc=${CC_ARM64:-$([[ $(host_arch) == arm64 ]] && echo gcc || echo aarch64-linux-gnu-gcc)} ;;
	esac
	if ! command -v "$cc" >/dev/null; then
		log "$arch: skipped: no $cc (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)"
		continue
	fi
	source_file=$(src)
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$work/rootfs"
	log "$arch: compiling pause $PAUSE_TAG from $source_file"
	"$cc" -Os -static -Wall -Werror -DVERSION="v$PAUSE_TAG-homecloud" -o "$work/rootfs/pause" "$source_file"
	bash images/oci/pack.sh --name "$IMAGE" --arch "$arch" --rootfs "$work/rootfs" --out "$out" -- /pause
	rm -rf "$work"
	trap - EXIT
	log "$arch: $IMAGE → $out ($(stat -c %s "$out") bytes)"
	echo "$out"
done
