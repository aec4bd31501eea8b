#!/usr/bin/env bash
# Builds the cluster's own add-on images and programs from source, through the Go module
# proxy only (no git clone, no registry), so a cluster on a LAN without internet gets DNS,
# storage and LAN addresses for its Services. The images are OCI archives
# (images/oci/pack.sh, reproducible) that every kubelet node imports into containerd
# before its kubelet starts; manifests/addons name exactly these images, with
# imagePullPolicy: Never.
#
#   images/addons/build.sh [--arch amd64|arm64|all] [--only a,b] [--force]
#   images/addons/build.sh --print-dir [--arch ...]     (the image directory per arch)
#   images/addons/build.sh --print-bin [--arch ...]     (the program directory per arch)
#
# Images → ${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}/images/<arch>/<name>-<tag>.tar
# Programs (wireguard-go, the pod network's userspace WireGuard) → …/addons/<arch>/bin/
# Each component is rebuilt only when its inputs change (pins, recipe, Go version, this
# script). Build times are printed; the stdout lines are the image directories.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

# ---- pins (change here; manifests/addons and agent/kube/addons/images.ts follow) ----------
COREDNS_VERSION=v1.14.7                                  # github.com/coredns/coredns
METALLB_VERSION=v0.15.2                                  # go.universe.tf/metallb (L2 mode)
LOCAL_PATH_VERSION=v0.0.30                               # github.com/rancher/local-path-provisioner
WIREGUARD_GO_VERSION=v0.0.0-20260522210424-ecfc5a8d5446 # golang.zx2c4.com/wireguard (wireguard-go)
BUSYBOX_VERSION=1.35.0                                   # Debian busybox-static: local-path's helper pods
# CoreDNS with only the plugins homecloud's Corefile uses (upstream's plugin.cfg order):
# a third of the full binary, and none of the cloud SDKs to download.
COREDNS_PLUGINS=(metadata reload bind ready health prometheus errors log loadbalance cache hosts kubernetes loop forward)
# Bump when build flags or image layout change, so cached results built the old way go.
RECIPE=1

ALL=(coredns local-path metallb wireguard-go busybox)
REGISTRY=localhost/homecloud # never pulled: the name says the image is built here
NICE=${HOMECLOUD_BUILD_NICE:-10}
JOBS=${HOMECLOUD_BUILD_JOBS:-2}

log() { printf '[addons-build %5ss] %s\n' "$SECONDS" "$*" >&2; }
die() {
	printf '[addons-build %5ss] ERROR: %s\n' "$SECONDS" "$1" >&2
	[[ -n ${2:-} ]] && printf '[addons-build %5ss]   next: %s\n' "$SECONDS" "$2" >&2
	exit 1
}
host_arch() { case "$(uname -m)" in x86_64 | amd64) echo amd64 ;; aarch64 | arm64) echo arm64 ;; *) return 1 ;; esac; }

arch_arg='' only_arg='' force=0 print=''
while (($#)); do
	case $1 in
	--arch) arch_arg=${2:?--arch needs amd64, arm64 or all}; shift 2 ;;
	--only) only_arg=${2:?--only needs a list}; shift 2 ;;
	--force) force=1; shift ;;
	--print-dir) print=dir; shift ;;
	--print-bin) print=bin; shift ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; echo "Components: ${ALL[*]}"; exit 0 ;;
	*) die "unknown argument '$1'" "see --help" ;;
	esac
done
case ${arch_arg:-host} in
host) archs=("$(host_arch)") || die "unsupported host $(uname -m)" "pass --arch amd64 or arm64" ;;
amd64 | arm64) archs=("$arch_arg") ;;
all) archs=(amd64 arm64) ;;
*) die "unknown --arch '$arch_arg'" "use amd64, arm64 or all" ;;
esac
names=("${ALL[@]}")
if [[ -n $only_arg ]]; then
	IFS=, read -ra names <<<"$only_arg"
	for n in "${names[@]}"; do [[ " ${ALL[*]} " == *" $n "* ]] || die "unknown component '$n'" "choose from: ${ALL[*]}"; done
fi

CACHE=${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}
WORK=$CACHE/addons
if [[ -n $print ]]; then
	for a in "${archs[@]}"; do [[ $print == dir ]] && echo "$CACHE/images/$a" || echo "$WORK/$a/bin"; done
	exit 0
fi

# ---- what each component makes, and its cache key ---------------------------------------
image_file() { # image_file <arch> <component> → the archive path(s), one a line
	local d=$CACHE/images/$1
	case $2 in
	coredns) echo "$d/coredns-$COREDNS_VERSION.tar" ;;
	local-path) echo "$d/local-path-provisioner-$LOCAL_PATH_VERSION.tar" ;;
	metallb) echo "$d/metallb-controller-$METALLB_VERSION.tar"; echo "$d/metallb-speaker-$METALLB_VERSION.tar" ;;
	busybox) echo "$d/busybox-$BUSYBOX_VERSION.tar" ;;
	wireguard-go) echo "$WORK/$1/bin/wireguard-go" ;;
	esac
}
pin_of() {
	case $1 in
	coredns) echo "$COREDNS_VERSION ${COREDNS_PLUGINS[*]}" ;;
	local-path) echo "$LOCAL_PATH_VERSION" ;;
	metallb) echo "$METALLB_VERSION" ;;
	busybox) echo "$BUSYBOX_VERSION" ;;
	wireguard-go) echo "$WIREGUARD_GO_VERSION" ;;
	esac
}
GO_VERSION=$( (command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"; go env GOVERSION) 2>/dev/null || echo none)
key_of() { # key_of <arch> <component>: every input that changes the bytes (RECIPE stands for this script's steps)
	printf '%s\n' "$1 $2 $(pin_of "$2") recipe=$RECIPE $GO_VERSION $(sha256sum "$REPO/images/oci/pack.sh" | cut -c1-64)" |
		sha256sum | cut -c1-16
}
is_cached() { # is_cached <arch> <component>
	local f
	((force == 0)) || return 1
	[[ -f $WORK/$1/stamps/$2 && $(cat "$WORK/$1/stamps/$2") == "$(key_of "$1" "$2")" ]] || return 1
	while read -r f; do [[ -f $f ]] || return 1; done < <(image_file "$1" "$2")
}

todo=()
for a in "${archs[@]}"; do for n in "${names[@]}"; do is_cached "$a" "$n" || todo+=("$a/$n"); done; done
if ((${#todo[@]} == 0)); then
	log "cached: ${names[*]} for ${archs[*]}"
	for a in "${archs[@]}"; do echo "$CACHE/images/$a"; done
	exit 0
fi

# ---- toolchain and helpers --------------------------------------------------------------
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || die "go is not installed" "install Go >= 1.26 (the module proxy fetches the sources)"
# Never fetch another toolchain; build from module zips with their own go.mod.
export GOTOOLCHAIN=local GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"
mkdir -p "$WORK/src" "$WORK/logs"
exec 9>"$WORK/.lock"
flock -n 9 || {
	log "another add-on build is running; waiting (lock $WORK/.lock)"
	flock 9
}

child=
trap '[[ -z $child ]] || kill -INT "$child" 2>/dev/null; log "interrupted"; exit 130' INT TERM
run_logged() { # run_logged <label> <logfile> <cmd...>: output to the log, a heartbeat, the tail on failure
	local label=$1 logfile=$2 start=$SECONDS last=$SECONDS rc=0
	shift 2
	{ exec "$@"; } >"$logfile" 2>&1 &
	child=$!
	while kill -0 "$child" 2>/dev/null; do
		sleep 1
		((SECONDS - last < 60)) || { last=$SECONDS; log "  ... still $label ($((SECONDS - start))s)"; }
	done
	wait "$child" || rc=$?
	child=
	if ((rc != 0)); then
		log "$label failed after $((SECONDS - start))s; last lines of $logfile:"
		tail -n 25 "$logfile" | sed 's/^/    /' >&2
		return "$rc"
	fi
}

# source <module> <version> → a writable copy of the module (its own go.mod and go.sum)
source_of() {
	local dir=$WORK/src/${1//\//_}@$2 json mod
	if [[ ! -f $dir/.ok ]]; then
		json=$(cd /tmp && go mod download -json "$1@$2" 2>&1) || true
		mod=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
		[[ -n $mod && -d $mod ]] || die "cannot download $1@$2 from the Go module proxy: $(grep -o '"Error": .*' <<<"$json" | head -c 300)" \
			"check the proxy (go env GOPROXY); if this version was withdrawn, pin another at the top of $0"
		rm -rf "$dir"
		cp -r "$mod" "$dir"
		chmod -R u+w "$dir"
		rm -rf "$dir/vendor" # module zips keep only vendor/modules.txt; build from the module cache
		touch "$dir/.ok"
	fi
	echo "$dir"
}

# gobuild <arch> <label> <dir> <out> <pkg> [ldflags]: a static, stripped, reproducible binary
gobuild() {
	local arch=$1 label=$2 dir=$3 out=$4 pkg=$5 ldflags="-s -w ${6:-}"
	run_logged "building $arch/$label" "$WORK/logs/build-$arch-$label.log" \
		env GOOS=linux GOARCH="$arch" CGO_ENABLED=0 nice -n "$NICE" \
		go -C "$dir" build -p "$JOBS" -trimpath -ldflags "$ldflags" -o "$out" "$pkg" ||
		die "building $label for $arch failed" "see $WORK/logs/build-$arch-$label.log (the proxy must serve every dependency in its go.sum)"
	verify_elf "$arch" "$out" || die "$out is not a $arch ELF binary"
}
verify_elf() { # ELF e_machine at offset 18: 0x3e x86-64, 0xb7 aarch64
	local m
	m=$(od -An -tx1 -j18 -N1 "$2" | tr -d ' ')
	[[ ($1 == amd64 && $m == 3e) || ($1 == arm64 && $m == b7) ]]
}

# pack <arch> <image-name:tag> <rootfs> <out> -- entrypoint...
pack() {
	local arch=$1 ref=$2 rootfs=$3 out=$4
	shift 5
	bash "$REPO/images/oci/pack.sh" --name "$ref" --arch "$arch" --rootfs "$rootfs" --out "$out" -- "$@"
	log "  $ref ($arch): $(($(stat -c %s "$out") / 1024)) KiB → $out"
}
# Drop archives of this component at other versions: the agent imports every *.tar there.
drop_old() { # drop_old <dir> <prefix> <keep-file>
	local f
	for f in "$1/$2"-*.tar; do [[ -e $f && $f != "$3" && $f != "$3".* ]] && rm -f "$f"; done
	return 0
}

# ---- components ---------------------------------------------------------------------------
build_wireguard_go() { # <arch> <tmp>
	local src out
	src=$(source_of golang.zx2c4.com/wireguard "$WIREGUARD_GO_VERSION")
	out=$(image_file "$1" wireguard-go)
	mkdir -p "$(dirname "$out")"
	gobuild "$1" wireguard-go "$src" "$out.tmp" .
	mv -f "$out.tmp" "$out"
	log "  wireguard-go ($1): $(($(stat -c %s "$out") / 1024)) KiB → $out"
}

build_coredns() {
	local arch=$1 tmp=$2 src cfg p out
	src=$(source_of github.com/coredns/coredns "$COREDNS_VERSION")
	# Upstream's own way to choose plugins: plugin.cfg, then `go generate` (host arch).
	[[ -f $src/plugin.cfg.orig ]] || cp "$src/plugin.cfg" "$src/plugin.cfg.orig"
	cfg=$(for p in "${COREDNS_PLUGINS[@]}"; do grep -m1 "^$p:" "$src/plugin.cfg.orig" || die "no plugin $p in CoreDNS $COREDNS_VERSION"; done)
	if [[ ! -f $src/.plugins || $(cat "$src/.plugins") != "$cfg" ]]; then
		# Upstream's order is kept: it is the order in which plugins see a query.
		grep -Fx -f <(printf '%s\n' "$cfg") "$src/plugin.cfg.orig" >"$src/plugin.cfg"
		run_logged "generating CoreDNS's plugin list" "$WORK/logs/coredns-generate.log" \
			env -u GOOS -u GOARCH go -C "$src" run directives_generate.go || die "go generate failed for CoreDNS"
		printf '%s\n' "$cfg" >"$src/.plugins"
	fi
	mkdir -p "$tmp/rootfs"
	gobuild "$arch" coredns "$src" "$tmp/rootfs/coredns" . "-X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION-homecloud"
	out=$(image_file "$arch" coredns)
	pack "$arch" "$REGISTRY/coredns:$COREDNS_VERSION" "$tmp/rootfs" "$out" -- /coredns
	drop_old "$(dirname "$out")" coredns "$out"
}

build_local_path() {
	local arch=$1 tmp=$2 src out
	src=$(source_of github.com/rancher/local-path-provisioner "$LOCAL_PATH_VERSION")
	mkdir -p "$tmp/rootfs/usr/bin"
	gobuild "$arch" local-path "$src" "$tmp/rootfs/usr/bin/local-path-provisioner" . \
		"-X main.VERSION=$LOCAL_PATH_VERSION"
	out=$(image_file "$arch" local-path)
	pack "$arch" "$REGISTRY/local-path-provisioner:$LOCAL_PATH_VERSION" "$tmp/rootfs" "$out" -- /usr/bin/local-path-provisioner
	drop_old "$(dirname "$out")" local-path-provisioner "$out"
}

build_metallb() {
	local arch=$1 tmp=$2 src c out v
	src=$(source_of go.universe.tf/metallb "$METALLB_VERSION")
	v="-X go.universe.tf/metallb/internal/version.gitCommit=homecloud"
	for c in controller speaker; do
		mkdir -p "$tmp/$c"
		gobuild "$arch" "metallb-$c" "$src" "$tmp/$c/$c" "./$c" "$v"
		out=$CACHE/images/$arch/metallb-$c-$METALLB_VERSION.tar
		pack "$arch" "$REGISTRY/metallb-$c:$METALLB_VERSION" "$tmp/$c" "$out" -- "/$c"
		drop_old "$(dirname "$out")" "metallb-$c" "$out"
	done
}

build_busybox() { # Debian's busybox-static for that architecture: sh, mkdir and rm for the helper pods
	local arch=$1 tmp=$2 deb v out a
	v=$(apt-cache policy "busybox-static:$arch" 2>/dev/null | awk '/Candidate:/{print $2}')
	[[ -n $v && $v != '(none)' ]] || die "apt knows no busybox-static:$arch" \
		"$([[ $arch == "$(dpkg --print-architecture)" ]] && echo 'run: apt-get update' || echo "run: dpkg --add-architecture $arch && apt-get update")"
	[[ $v == *:"$BUSYBOX_VERSION"-* || $v == "$BUSYBOX_VERSION"-* ]] ||
		die "Debian's busybox-static is $v, not $BUSYBOX_VERSION" "set BUSYBOX_VERSION in $0 and the busybox tag in manifests/addons together"
	mkdir -p "$WORK/debs" "$tmp/deb" "$tmp/rootfs/bin"
	deb=$(ls "$WORK/debs/busybox-static_${v//:/%3a}_$arch.deb" 2>/dev/null || true)
	if [[ -z $deb ]]; then
		(cd "$WORK/debs" && apt-get download -q "busybox-static:$arch=$v" 2>&1 | grep -v unsandboxed >&2) ||
			die "apt-get download busybox-static:$arch=$v failed" "check apt's sources (apt-get update)"
		deb=$(ls "$WORK/debs/busybox-static_${v//:/%3a}_$arch.deb")
	fi
	dpkg-deb -x "$deb" "$tmp/deb"
	cp "$tmp/deb/bin/busybox" "$tmp/rootfs/bin/busybox"
	verify_elf "$arch" "$tmp/rootfs/bin/busybox" || die "busybox-static:$arch is not a $arch binary"
	for a in sh mkdir rm ls cat echo sleep; do ln -s busybox "$tmp/rootfs/bin/$a"; done
	out=$(image_file "$arch" busybox)
	pack "$arch" "$REGISTRY/busybox:$BUSYBOX_VERSION" "$tmp/rootfs" "$out" -- /bin/sh
	drop_old "$(dirname "$out")" busybox "$out"
}

log "building ${todo[*]} with $GO_VERSION (nice $NICE, -p $JOBS)"
for item in "${todo[@]}"; do
	a=${item%%/*} n=${item#*/}
	start=$SECONDS
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/homecloud-addons.XXXXXX")
	log "$a/$n: $(pin_of "$n")"
	mkdir -p "$CACHE/images/$a" "$WORK/$a/stamps"
	case $n in
	coredns) build_coredns "$a" "$tmp" ;;
	local-path) build_local_path "$a" "$tmp" ;;
	metallb) build_metallb "$a" "$tmp" ;;
	busybox) build_busybox "$a" "$tmp" ;;
	wireguard-go) build_wireguard_go "$a" "$tmp" ;;
	esac
	rm -rf "$tmp"
	key_of "$a" "$n" >"$WORK/$a/stamps/$n"
	log "$a/$n: done in $((SECONDS - start))s"
done
for a in "${archs[@]}"; do echo "$CACHE/images/$a"; done
