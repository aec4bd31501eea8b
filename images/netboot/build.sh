#!/usr/bin/env bash
# Builds the amd64 netboot image from Debian packages, reproducibly:
#   vmlinuz       Debian's cloud kernel (virtio only: qemu and cloud VMs)
#   initrd.img    busybox-static, the virtio modules and /init (images/netboot/init)
#   agent.tar.zst node + its ldd libraries, the compiled agent with production
#                 node_modules, etcd, etcdctl and etcdutl (images/etcd/build.sh) —
#                 fetched and checked by /init
#   manifest.json the sha256 and size of every artifact
# With --kube the agent bundle also carries a real Kubernetes node: the built kubelet and
# kube-proxy, Debian's containerd, runc and CNI reference plugins, the pause image built
# from the Kubernetes source, the add-on images and wireguard-go (images/addons/build.sh),
# iptables and iproute2's ip (from this host, like zstd) and the kernel modules for
# netfilter and TUN; such a machine joins Kubernetes as a kubelet node and runs the
# cluster's own pods with nothing pulled.
#
#   images/netboot/build.sh [--kube] [--version V] [--out DIR] [--force]
#   images/netboot/build.sh --print-dir
#
# --version V stamps the release version: the manifest's `version` and the agent's own
# (app/VERSION, read by agent/version.ts), so a node booted from it announces V. Without
# it the version is the package version + the input hash. --test-exit-at-start (tests
# only) makes an agent that exits at start: a bad release, built honestly.
#
# Output: ${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}/netboot/<version>/ where <version>
# is a hash of every input (package versions, node binary, dist/, lock file, these
# scripts): the same inputs give the same directory, and a second build is instant.
# Progress goes to stderr; the output directory is the last line on stdout.
# Needs: apt-get (Debian's mirror, as configured), dpkg-deb, cpio, gzip; `npx tsc` first.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}/netboot
# Bump when the recipe changes in a way the input hash cannot see.
RECIPE=1
KERNEL_META=linux-image-cloud-amd64
# Loaded in this order by /init: each needs the ones before it. Then a homecloud disk's
# (virtio_blk, FAT for its boot partition and slots; ext4 is built in), and five for
# containers (the pod bridge, its veth pairs, overlayfs snapshots).
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net
	virtio_blk fat vfat nls_cp437 nls_ascii llc stp bridge veth overlay)
# --kube: what wireguard-go (TUN), kube-proxy (iptables on nf_tables) and the pod network's
# masquerade need; their dependencies (each module's .modinfo) are loaded first.
KUBE_MODULES=(tun br_netfilter nf_tables nft_compat nft_chain_nat nft_masq nft_ct nft_reject_ipv4
	xt_MASQUERADE xt_conntrack xt_comment xt_mark xt_addrtype xt_statistic xt_nat xt_tcpudp xt_multiport
	xt_physdev xt_recent ipt_REJECT iptable_nat iptable_filter iptable_mangle)

log() { printf '[netboot-build %4ss] %s\n' "$SECONDS" "$*" >&2; }
die() {
	printf '[netboot-build %4ss] ERROR: %s\n' "$SECONDS" "$1" >&2
	[[ -n ${2:-} ]] && printf '[netboot-build %4ss]   next: %s\n' "$SECONDS" "$2" >&2
	exit 1
}

out_override='' force=0 print_dir=0 kube=0 stamp='' exit_at_start=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--out) out_override=$2; shift 2 ;;
	--force) force=1; shift ;;
	--kube) kube=1; shift ;;
	--version) stamp=$2; shift 2 ;;
	--test-exit-at-start) exit_at_start=1; shift ;;
	--print-dir) print_dir=1; shift ;;
	-h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1" "see --help" ;;
	esac
done

[[ $(dpkg --print-architecture) == amd64 ]] || die "this script builds the amd64 image on an amd64 host" \
	"arm64: not built yet (see docs/architecture.md, Netboot)"
for tool in apt-get apt-cache dpkg-deb cpio gzip zstd sha256sum tar strip; do
	command -v "$tool" >/dev/null || die "$tool is missing" "sudo apt-get install cpio binutils zstd (or run scripts/setup.sh)"
done
[[ -z $stamp || $stamp =~ ^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$ ]] || die "--version $stamp: letters, digits, . + _ - (at most 32)" "e.g. --version 1.2.0"
[[ -f $ROOT/dist/cli/main.js ]] || die "no compiled agent in $ROOT/dist" "run: npx tsc -p tsconfig.json"

# ---- resolve the exact package versions (the meta-package names today's kernel) -----
kernel_pkg=$(apt-cache depends "$KERNEL_META" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
[[ -n $kernel_pkg ]] || die "apt does not know $KERNEL_META" "run: sudo apt-get update"
candidate() { apt-cache policy "$1" | awk '/Candidate:/{print $2}'; }
declare -A VERSIONS=()
kube_debs=()
((kube)) && kube_debs=(containerd runc containernetworking-plugins libseccomp2)
for p in "$kernel_pkg" busybox-static "${kube_debs[@]}"; do
	v=$(candidate "$p")
	[[ -n $v && $v != '(none)' ]] || die "no candidate version for $p" "run: sudo apt-get update"
	VERSIONS[$p]=$v
done

# etcd built from source at the pinned release (instant when cached, about a minute if not).
etcd_bin=$(bash "$ROOT/images/etcd/build.sh" --arch amd64) || die "could not build etcd" "see the etcd-build lines above"
ETCD_PROGRAMS=(etcd etcdctl etcdutl)
etcd_version=$(basename "$(dirname "$(dirname "$etcd_bin")")")
if ((kube)); then
	kube_bin=$(bash "$ROOT/images/kubernetes/build.sh" --print-dir)
	[[ -x $kube_bin/kubelet ]] || die "no kubelet in $kube_bin" "build it once: images/kubernetes/build.sh (or scripts/setup.sh)"
	[[ -x $kube_bin/kube-proxy ]] || die "no kube-proxy in $kube_bin" "build it once: images/kubernetes/build.sh"
	images_dir=$(bash "$ROOT/images/pause/build.sh" --print-dir)
	pause_tar=$images_dir/pause-3.10.2.tar
	[[ -f $pause_tar ]] || die "no pause image at $pause_tar" "build it: images/pause/build.sh"
	wg_bin=$(bash "$ROOT/images/addons/build.sh" --print-bin)/wireguard-go
	[[ -x $wg_bin ]] && ls "$images_dir"/coredns-*.tar >/dev/null 2>&1 ||
		die "the add-on images or wireguard-go are not built" "build them once: images/addons/build.sh"
	for tool in iptables xtables-nft-multi ip; do
		command -v "$tool" >/dev/null || die "$tool is missing" "sudo apt-get install iptables iproute2"
	done
fi
# The pinned Node.js LTS (scripts/node.sh: the official binary from the npm registry).
. "$ROOT/scripts/node.sh"
node_bin=$(homecloud_node_dir amd64)/bin/node || die "no Node.js binary" "check the npm registry setting"
node_version=$("$node_bin" -v)
dist_hash=$(cd "$ROOT" && find dist bin manifests package.json agent/facts/boards -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)
inputs=$(
	echo "recipe $RECIPE"
	for p in "${!VERSIONS[@]}"; do echo "deb $p ${VERSIONS[$p]}"; done | sort
	echo "node $node_version $(sha256sum "$node_bin" | cut -c1-64)"
	echo "zstd $(zstd --version)"
	echo "dist $dist_hash"
	echo "lock $(sha256sum "$ROOT/package-lock.json" | cut -c1-64)"
	for e in "${ETCD_PROGRAMS[@]}"; do echo "$e $(sha256sum "$etcd_bin/$e" | cut -c1-64)"; done
	if ((kube)); then
		sha256sum "$kube_bin/kubelet" "$kube_bin/kube-proxy" "$wg_bin" "$images_dir"/*.tar | cut -c1-64
		echo "iptables $(iptables -V) ip $(ip -V)"
		echo "kube-modules ${KUBE_MODULES[*]}"
	fi
	echo "stamp $stamp exit-at-start $exit_at_start"
	cd "$HERE" && sha256sum build.sh init disk.sh udhcpc.script prod-deps.mjs
)
version=$(printf '%s\n' "$inputs" | sha256sum | cut -c1-16)
out=${out_override:-$CACHE/$version}
# The release version the agent announces (the output directory stays named by the inputs).
release_version=${stamp:-$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$ROOT/package.json" | head -1)+$version}
if [[ $print_dir == 1 ]]; then echo "$out"; exit 0; fi
if [[ $force == 0 && -f $out/manifest.json ]]; then
	log "image $version is up to date in $out"
	echo "$out"
	exit 0
fi

# ---- download the packages (cached by file name, which carries the version) --------
debs=$CACHE/debs
mkdir -p "$debs"
for p in "${!VERSIONS[@]}"; do
	v=${VERSIONS[$p]}
	if ! ls "$debs/${p}_${v//:/%3a}_"*.deb >/dev/null 2>&1; then
		log "downloading $p $v"
		(cd "$debs" && apt-get download -q "$p=$v" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
			die "apt-get download $p=$v failed" "check apt's sources (sudo apt-get update)"
	fi
done
deb() { ls "$debs/${1}_${VERSIONS[$1]//:/%3a}_"*.deb | head -1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/homecloud-netboot.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage=$work/out
mkdir -p "$stage"

# Reproducible archives: fixed order, owners and times.
export SOURCE_DATE_EPOCH=0
pack_cpio() { find "$1" -exec touch -h -d @0 {} +; (cd "$1" && find . -mindepth 1 -print0 | LC_ALL=C sort -z | cpio --null --create --format=newc --reproducible --quiet --owner=0:0) | gzip -9n; }
pack_tar() { tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf - . | zstd -q -9 -T2; }

# kube_modules <module tree> <out>: each of KUBE_MODULES and what it depends on (.modinfo),
# dependencies first, as <out>/<name>.ko and the load order in <out>/order.
kube_modules() {
	local tree=$1 out=$2 m
	declare -A seen=()
	visit() {
		local name=$1 ko dep
		[[ -n ${seen[$name]:-} ]] && return 0
		seen[$name]=1
		ko=$(find "$tree" -name "$name.ko" | head -1)
		[[ -n $ko ]] || return 0 # built into this kernel
		# The module's own .modinfo says what it needs ("depends=a,b"): no kmod needed here.
		for dep in $(tr '\0' '\n' <"$ko" | sed -n 's/^depends=//p' | head -1 | tr ',' ' '); do visit "$dep"; done
		cp "$ko" "$out/$name.ko"
		echo "$name" >>"$out/order"
	}
	: >"$out/order"
	for m in "${KUBE_MODULES[@]}"; do visit "$m"; done
}

# ---- kernel --------------------------------------------------------------------------
log "unpacking $kernel_pkg ${VERSIONS[$kernel_pkg]}"
dpkg-deb -x "$(deb "$kernel_pkg")" "$work/kernel"
kver=${kernel_pkg#linux-image-}
cp "$work/kernel/boot/vmlinuz-$kver" "$stage/vmlinuz"

# ---- initramfs -----------------------------------------------------------------------
log "building the initramfs (busybox-static ${VERSIONS[busybox-static]}, ${#MODULES[@]} modules)"
rd=$work/initrd
mkdir -p "$rd"/{bin,dev,proc,sys,run,tmp,etc,lib/modules,opt,var/lib}
dpkg-deb -x "$(deb busybox-static)" "$work/busybox"
cp "$work/busybox/bin/busybox" "$rd/bin/busybox"
ln -s busybox "$rd/bin/sh"
: >"$rd/lib/modules/order"
for m in "${MODULES[@]}"; do
	ko=$(find "$work/kernel/lib/modules/$kver" -name "$m.ko" | head -1)
	[[ -n $ko ]] || die "module $m not found in $kernel_pkg" "the MODULES list in build.sh names modules this kernel lacks"
	cp "$ko" "$rd/lib/modules/$m.ko"
	echo "$m" >>"$rd/lib/modules/order"
done
# zstd with its libraries and loader: busybox's gunzip took ~19 s for the agent under
# TCG, zstd -d takes ~2 s. Copied from this host like node (it is in scripts/setup.sh).
mkdir -p "$rd/lib/zstd"
cp "$(readlink -f "$(command -v zstd)")" "$rd/lib/zstd/zstd"
ldd "$(command -v zstd)" | awk '/=> \//{print $3}' | while read -r lib; do cp -L "$lib" "$rd/lib/zstd/"; done
cp -L /lib64/ld-linux-x86-64.so.2 "$rd/lib/zstd/"
install -m 0755 "$HERE/init" "$rd/init"
install -m 0755 "$HERE/udhcpc.script" "$rd/etc/udhcpc.script"
install -D -m 0644 "$HERE/disk.sh" "$rd/lib/homecloud/disk.sh"
pack_cpio "$rd" >"$stage/initrd.img"

# ---- agent bundle --------------------------------------------------------------------
log "bundling the agent (node $node_version, dist, production node_modules, etcd $etcd_version)"
b=$work/bundle/homecloud
mkdir -p "$b"/{node/lib,app,bin}
# Strip what a netbooted machine never needs (symbols, debug info).
strip -o "$b/node/node" "$node_bin"
# node runs through the copied dynamic loader, so the guest needs no /lib of its own.
ldd "$node_bin" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r lib; do
	cp -L "$lib" "$b/node/lib/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$b/node/lib/ld-linux-x86-64.so.2"
# manifests/: a netbooted node may become the coordinator, which applies the add-ons.
cp -r "$ROOT/dist" "$ROOT/bin" "$ROOT/manifests" "$ROOT/package.json" "$b/app/"
# The board profiles (agent/facts/boards): a lab node booted from a slot plays its board.
mkdir -p "$b/app/agent/facts" && cp -r "$ROOT/agent/facts/boards" "$b/app/agent/facts/"
echo "$release_version" >"$b/app/VERSION"
# A deliberately bad release for tests: its agent exits at start (agent/version.ts).
if ((exit_at_start)); then echo "built with --test-exit-at-start" >"$b/app/TEST_EXIT_AT_START"; fi
# Only the run-time closure of package.json's dependencies; type declarations, source
# maps and docs stay behind (a third of the bytes, all unused at run time).
node "$HERE/prod-deps.mjs" "$ROOT" | while read -r rel; do
	case $rel in node_modules/*) ;; *) continue ;; esac
	mkdir -p "$b/app/$rel"
	# Nested node_modules come as their own lines; copy only this package's own files.
	(cd "$ROOT/$rel" && find . -path ./node_modules -prune -o -type f \
		! -name '*.d.ts' ! -name '*.d.mts' ! -name '*.d.cts' ! -name '*.map' ! -name '*.md' ! -name '*.ts' -print0 |
		cpio --null -pdm --quiet "$b/app/$rel")
done
# Native addons ship prebuilds for every platform; this image runs only linux-x64.
find "$b/app/node_modules" -type d -path '*/prebuilds/*' -prune ! -name linux-x64 -exec rm -rf {} +
[[ -d $b/app/node_modules/fastify ]] || die "production node_modules were not copied" "run scripts/setup.sh (npm install) first"
for e in "${ETCD_PROGRAMS[@]}"; do cp "$etcd_bin/$e" "$b/bin/"; done
if ((kube)); then
	# /init links node's loader and libraries into /lib64 and /lib, so these Debian
	# programs (dynamically linked: containerd, runc with libseccomp, the CNI plugins) run.
	log "bundling a Kubernetes node: kubelet, containerd ${VERSIONS[containerd]}, runc ${VERSIONS[runc]}, CNI plugins, pause"
	mkdir -p "$b"/kube/{bin,images,modules} "$b"/runtime/{bin,cni}
	cp "$kube_bin/kubelet" "$kube_bin/kube-proxy" "$wg_bin" "$b/kube/bin/"
	cp "$images_dir"/*.tar "$b/kube/images/"
	# iptables (nf_tables backend) and iproute2's ip, with their libraries, from this host.
	cp "$(readlink -f "$(command -v xtables-nft-multi)")" "$b/runtime/bin/xtables-nft-multi"
	for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -s xtables-nft-multi "$b/runtime/bin/$t"; done
	cp "$(readlink -f "$(command -v ip)")" "$b/runtime/bin/ip"
	for t in xtables-nft-multi ip; do
		ldd "$(command -v "$t")" | awk '/=> \//{print $3}' | while read -r lib; do [[ -e $b/node/lib/${lib##*/} ]] || cp -L "$lib" "$b/node/lib/"; done
	done
	[[ -d /usr/lib/x86_64-linux-gnu/xtables ]] && cp -r /usr/lib/x86_64-linux-gnu/xtables "$b/runtime/xtables"
	kube_modules "$work/kernel/lib/modules/$kver" "$b/kube/modules"
	for p in containerd runc containernetworking-plugins libseccomp2; do dpkg-deb -x "$(deb "$p")" "$work/$p"; done
	cp "$work/containerd/usr/bin/"{containerd,containerd-shim-runc-v2,ctr} "$work/runc/usr/sbin/runc" "$b/runtime/bin/"
	cp "$work/containernetworking-plugins/usr/lib/cni/"{bridge,host-local,loopback} "$b/runtime/cni/"
	cp -L "$work"/libseccomp2/usr/lib/x86_64-linux-gnu/libseccomp.so.2 "$b/node/lib/"
	strip "$b"/runtime/bin/* "$b"/runtime/cni/* 2>/dev/null || true
fi
pack_tar "$work/bundle" >"$stage/agent.tar.zst"

# ---- manifest ------------------------------------------------------------------------
# One artifact per line: /init reads it with sed, without a JSON parser.
{
	printf '{\n  "v": 1,\n  "version": "%s",\n  "arch": "amd64",\n  "kube": %s,\n' "$release_version" "$( ((kube)) && echo true || echo false)"
	printf '  "kernel": "%s %s",\n  "node": "%s",\n  "etcd": "%s",\n' "$kernel_pkg" "${VERSIONS[$kernel_pkg]}" "$node_version" "$etcd_version"
	printf '  "files": {\n'
	sep=''
	for f in vmlinuz initrd.img agent.tar.zst; do
		printf '%s    "%s": {"sha256": "%s", "bytes": %d}' "$sep" "$f" "$(sha256sum "$stage/$f" | cut -c1-64)" "$(stat -c %s "$stage/$f")"
		sep=$',\n'
	done
	printf '\n  }\n}\n'
} >"$stage/manifest.json"

# Publish atomically: builds racing for the same inputs make the same bytes, first wins.
mkdir -p "$(dirname "$out")"
next=$(mktemp -d "$(dirname "$out")/.partial.XXXXXX")
cp -a "$stage/." "$next/"
if [[ $force == 1 ]]; then rm -rf "$out"; fi
if ! mv -T "$next" "$out" 2>/dev/null; then
	rm -rf "$next"
	[[ -f $out/manifest.json ]] || die "could not publish the image to $out" "remove $out and build again"
fi
log "image $version (release version $release_version): $(du -sh "$out" | cut -f1) in $out ($(ls "$out" | tr '\n' ' '))"
# Every agent change makes a new image: keep the newest few in the cache, not all of them.
if [[ -z $out_override ]]; then
	ls -1dt "$CACHE"/*/manifest.json 2>/dev/null | tail -n +7 | while read -r m; do rm -rf "$(dirname "$m")"; done
fi
echo "$out"
