#!/usr/bin/env bash
# Builds the netboot image for amd64 or arm64 from Debian packages, reproducibly:
#   vmlinuz       amd64: Debian's cloud kernel (virtio: qemu and cloud VMs);
#                 arm64: Debian 13's generic arm64 kernel from trixie-backports (virtio, the
#                 Raspberry Pi 4 and 5: Debian 12's 6.1 has no Pi 5 device tree nor its RP1)
#   initrd.img    busybox-static, the NIC and container modules, zstd, /init (images/netboot/init)
#   agent.tar.zst node + its libraries, the compiled agent with production node_modules,
#                 etcd, etcdctl and etcdutl (images/etcd/build.sh), lsblk, blkid, sfdisk, mke2fs
#                 for a state disk — fetched and checked by /init
#   arm64 only, served by the nodes, never fetched by /init ("firmware" in the manifest):
#   grubnetaa64.efi  GRUB for the UEFI firmware's PXE (Debian has no arm64 iPXE)
#   start4.elf, fixup4.dat, bcm2711-*.dtb, bcm2712-*.dtb  Raspberry Pi 4 and 5 network boot
#                 (raspi-firmware; the device trees from the kernel's package)
#   manifest.json the sha256 and size of every artifact
# With --kube the agent bundle also carries a real Kubernetes node: the built kubelet and
# kube-proxy, Debian's containerd, runc and CNI reference plugins, iptables (nf_tables)
# and iproute2's ip, the pause image built from the Kubernetes source, the add-on images
# and wireguard-go (images/addons/build.sh), and the kernel modules for netfilter and TUN;
# such a machine joins Kubernetes as a kubelet node and runs the cluster's own pods with
# nothing pulled.
#
#   images/netboot/build.sh [--arch amd64|arm64] [--kube] [--version V] [--out DIR] [--force]
#   images/netboot/build.sh --print-dir [--arch ...] [--kube]
#
# --version V stamps the release version: the manifest's `version` and the agent's own
# (app/VERSION, read by agent/version.ts), so a node booted from it announces V. Without
# it the version is the package version + the input hash. --test-exit-at-start (tests
# only) makes an agent that exits at start: a bad release, built honestly. Either is made
# from the image of the same inputs without them (built first if need be): its bundle
# unpacked, VERSION written, packed again — the same bytes as a build from the packages.
#
# Output: ${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}/netboot/<version>/ where <version>
# is a hash of every input (package versions, node binary, dist/, lock file, these
# scripts): the same inputs give the same directory, and a second build is instant. A
# cheap look comes first (input-stamp.sh: apt's state and the big binaries by their file
# metadata, in netboot/input-stamps/): unchanged since the last full hash, the image is up
# to date without asking apt (~0.3 s instead of ~8); anything changed, the full hash runs.
# Nothing of the target architecture runs here: libraries and modules are found by
# reading ELF headers (closure.sh). Progress goes to stderr; the output directory is
# the last line on stdout.
# Needs: apt-get (Debian's mirror; arm64: `dpkg --add-architecture arm64`), dpkg-deb,
# cpio, gzip, zstd, xz, readelf, strip (arm64: aarch64-linux-gnu-strip, grub-mkimage);
# `npx tsc` first. The arm64 kernel and raspi-firmware come from Debian 13 (trixie-backports
# main, trixie non-free-firmware) through an apt configuration of this build's own
# (debian13-apt.sh): signed by Debian's archive keys, never added to the machine's sources.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}/netboot
APT_PKGCACHE_DIR=${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}/apt
# Bump when the recipe changes in a way the input hash cannot see.
RECIPE=3
. "$HERE/closure.sh"
. "$HERE/debian13-apt.sh"
. "$HERE/input-stamp.sh"
START=$EPOCHREALTIME

log() { printf '[netboot-build %4ss] %s\n' "$SECONDS" "$*" >&2; }
die() {
	printf '[netboot-build %4ss] ERROR: %s\n' "$SECONDS" "$1" >&2
	[[ -n ${2:-} ]] && printf '[netboot-build %4ss]   next: %s\n' "$SECONDS" "$2" >&2
	exit 1
}

out_override='' force=0 print_dir=0 kube=0 arch='' stamp='' exit_at_start=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--out) out_override=$2; shift 2 ;;
	--force) force=1; shift ;;
	--kube) kube=1; shift ;;
	--arch) arch=$2; shift 2 ;;
	--version) stamp=$2; shift 2 ;;
	--test-exit-at-start) exit_at_start=1; shift ;;
	--print-dir) print_dir=1; shift ;;
	-h | --help) sed -n '2,45p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1" "see --help" ;;
	esac
done
arch=${arch:-$(dpkg --print-architecture)}

# ---- what each architecture is made of ---------------------------------------------
# Modules: the ones named here plus what they depend on (closure.sh), loaded in that
# order by /init (built-in ones are skipped). A homecloud disk needs virtio_blk and FAT
# for its boot partition and slots, and ext4; containers need llc stp bridge veth overlay
# (pod bridge, veth pairs, overlayfs snapshots).
case $arch in
amd64)
	KERNEL_META=linux-image-cloud-amd64 TRIPLET=x86_64-linux-gnu STRIP=strip PREBUILDS=linux-x64
	MODULES=(virtio_pci virtio_net virtio_blk fat vfat nls_cp437 nls_ascii ext4 llc stp bridge veth overlay)
	;;
arm64)
	# virtio for qemu's `virt` machine (and arm64 clouds); the Raspberry Pi 4's GENET
	# Ethernet with its PHY and MDIO drivers, and its hardware RNG; the Raspberry Pi 5's
	# Ethernet: a Cadence GEM (macb) inside the RP1 chip, which sits on PCIe (rp1_pci, its
	# clocks and pins; the PCIe MSI controller irq-bcm2712-mip), with the same Broadcom PHY.
	# Debian 12's kernel (6.1) has none of the Pi 5's: this kernel is Debian 13's backport.
	KERNEL_META=linux-image-arm64 TRIPLET=aarch64-linux-gnu STRIP=aarch64-linux-gnu-strip PREBUILDS=linux-arm64
	KERNEL_FROM=debian13
	MODULES=(virtio_pci virtio_net virtio_rng genet broadcom mdio_bcm_unimac iproc_rng200
		irq_bcm2712_mip rp1_pci clk_rp1 pinctrl_rp1 macb
		virtio_blk fat vfat nls_cp437 nls_ascii ext4 llc stp bridge veth overlay)
	# Pi 4, 400, CM4 (bcm2711); Pi 5 with the C1 and the D0 stepping of its SoC (bcm2712).
	PI_DTBS=(bcm2711-rpi-4-b bcm2711-rpi-400 bcm2711-rpi-cm4-io bcm2712-rpi-5-b bcm2712-d-rpi-5-b)
	GRUB_MODULES=(efinet net tftp http linux normal configfile echo sleep test reboot halt)
	;;
*) die "no netboot image for architecture '$arch'" "use --arch amd64 or --arch arm64" ;;
esac
# --kube: what wireguard-go (TUN), kube-proxy (iptables on nf_tables) and the pod network's
# masquerade need (modules built into the kernel are skipped); loaded by /init in order.
KUBE_MODULES=(tun br_netfilter nf_tables nft_compat nft_chain_nat nft_masq nft_ct nft_reject_ipv4
	xt_MASQUERADE xt_conntrack xt_comment xt_mark xt_addrtype xt_statistic xt_nat xt_tcpudp xt_multiport
	xt_physdev xt_recent ipt_REJECT iptable_nat iptable_filter iptable_mangle)
[[ $(dpkg --print-architecture) == amd64 || $arch == "$(dpkg --print-architecture)" ]] ||
	die "cross builds are only set up from an amd64 host" "build on amd64"
# Building for the host's own architecture, its own strip does.
[[ $arch == "$(dpkg --print-architecture)" ]] && STRIP=strip

tools=(apt-get apt-cache dpkg-deb cpio gzip zstd xz sha256sum tar readelf "$STRIP")
[[ $arch == arm64 ]] && tools+=(grub-mkimage)
for tool in "${tools[@]}"; do
	command -v "$tool" >/dev/null || die "$tool is missing" "run scripts/setup.sh (it installs cpio, zstd, xz-utils, binutils, binutils-aarch64-linux-gnu, grub-common)"
done
[[ -z $stamp || $stamp =~ ^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$ ]] || die "--version $stamp: letters, digits, . + _ - (at most 32)" "e.g. --version 1.2.0"
[[ -f $ROOT/dist/cli/main.js ]] || die "no compiled agent in $ROOT/dist" "run: npx tsc -p tsconfig.json"
if [[ $arch != "$(dpkg --print-architecture)" ]] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
	die "apt does not know $arch packages" "run: dpkg --add-architecture $arch && apt-get update (scripts/setup.sh does)"
fi

# ---- where the inputs are (print-dir only: nothing is built before the fast look) -----
# apt's binary package cache, which Debian's container images turn off (Dir::Cache::pkgcache
# ""): without it every apt run parses all package lists again (1.4 s of CPU here, 0.1 s with
# it). Ours, kept in the build cache; apt checks it against the lists and rebuilds it itself.
HOST_APT=(-o "Dir::Cache::pkgcache=$APT_PKGCACHE_DIR/host.pkgcache")
mkdir -p "$APT_PKGCACHE_DIR"
kernel_apt=("${HOST_APT[@]}")
if [[ ${KERNEL_FROM:-} == debian13 ]]; then
	debian13_apt_ready "$CACHE/apt-debian13" "$arch" ||
		die "could not read Debian 13's package lists (trixie-backports, for the arm64 kernel)" "check that ${HOMECLOUD_DEBIAN_MIRROR:-http://deb.debian.org/debian} is reachable and serves trixie and trixie-backports (HOMECLOUD_DEBIAN_MIRROR names another)"
	kernel_apt=("${DEBIAN13_APT[@]}")
fi
ETCD_PROGRAMS=(etcd etcdctl etcdutl)
etcd_dir=$(bash "$ROOT/images/etcd/build.sh" --print-dir --arch "$arch")
if ((kube)); then
	kube_bin=$(bash "$ROOT/images/kubernetes/build.sh" --print-dir --arch "$arch")
	images_dir=$(bash "$ROOT/images/pause/build.sh" --print-dir --arch "$arch")
	wg_bin=$(bash "$ROOT/images/addons/build.sh" --print-bin --arch "$arch")/wireguard-go
fi
# The pinned Node.js LTS (scripts/node.sh: the official binary from the npm registry).
. "$ROOT/scripts/node.sh"
node_bin=$(homecloud_node_dir "$arch")/bin/node || die "no Node.js binary for $arch" "check the npm registry setting"
node_version=$HOMECLOUD_NODE_VERSION
dist_hash=$(cd "$ROOT" && find dist bin manifests package.json agent/facts/boards -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)

# ---- the fast look (input-stamp.sh): inputs unchanged since the last full hash? -------
# Everything the full input hash below reads, named cheaply; a missing file means no key.
fast_inputs() {
	echo "recipe $RECIPE arch $arch kube $kube stamp $stamp exit-at-start $exit_at_start node v$node_version"
	apt_state || return 1
	if [[ ${KERNEL_FROM:-} == debian13 ]]; then apt_state "${DEBIAN13_APT[@]}" || return 1; fi
	file_stats "$node_bin" "${ETCD_PROGRAMS[@]/#/$etcd_dir/}" || return 1
	if ((kube)); then file_stats "$kube_bin/kubelet" "$kube_bin/kube-proxy" "$wg_bin" "$images_dir"/*.tar || return 1; fi
	echo "zstd $(zstd --version)"
	if [[ $arch == arm64 ]]; then echo "grub-mkimage $(grub-mkimage --version)"; fi
	echo "dist $dist_hash"
	sha256sum "$ROOT/package-lock.json" || return 1
	cd "$HERE" && sha256sum build.sh closure.sh debian13-apt.sh input-stamp.sh init disk.sh udhcpc.script prod-deps.mjs grub-early.cfg
}
fast_key() {
	local lines
	lines=$(fast_inputs 2>/dev/null) || return 0
	printf '%s\n' "$lines" | sha256sum | cut -c1-64
}
STAMPS=$CACHE/input-stamps
key=$(fast_key)
version=''
[[ -z $key ]] || version=$(stamp_lookup "$STAMPS" "$key") || version=''
if [[ -n $version ]]; then
	out=${out_override:-$CACHE/$version}
	if [[ $print_dir == 1 ]]; then echo "$out"; exit 0; fi
	if [[ $force == 0 && -f $out/manifest.json ]]; then
		log "image $version ($arch) is up to date in $out (inputs unchanged since their last full check; $(elapsed "$START") s)"
		echo "$out"
		exit 0
	fi
fi

# ---- resolve the exact package versions (the meta-package names today's kernel) -----
declare -A VERSIONS=() PKG_ARCH=() PKG_APT=()
kernel_pkg=$(apt-cache "${kernel_apt[@]}" depends "$KERNEL_META:$arch" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}') || true
kernel_pkg=${kernel_pkg%:*}
[[ -n $kernel_pkg ]] || die "apt does not know $KERNEL_META:$arch" "run: sudo apt-get update"
kver=${kernel_pkg#linux-image-}
# Debian 13's linux-image-KVER is itself a meta-package: the kernel (linux-binary), its
# modules and its device trees and module lists (linux-base) are packages of their own.
kernel_debs=("$kernel_pkg")
if [[ ${KERNEL_FROM:-} == debian13 ]]; then
	kernel_debs=(linux-binary-$kver linux-modules-$kver linux-base-$kver)
	for p in "${kernel_debs[@]}"; do PKG_APT[$p]=debian13; done
	PKG_APT[raspi-firmware]=debian13
fi
# Libraries come from Debian's packages of the target architecture, not from this host.
libs=(libc6 libstdc++6 libgcc-s1 zlib1g liblzma5 liblz4-1)
# The state disk (agent/disk/state-disk-prepare.ts): util-linux's lsblk and blkid, fdisk's sfdisk and
# e2fsprogs' mke2fs, with the libraries they link (busybox has neither a JSON lsblk nor ext4).
disk_debs=(util-linux fdisk e2fsprogs)
libs+=(libblkid1 libmount1 libsmartcols1 libudev1 libselinux1 libpcre2-8-0 libfdisk1 libtinfo6
	libreadline8 libuuid1 libext2fs2 libcom-err2)
kube_debs=()
# iptables and ip come with their libraries' packages: libraries are looked up in them.
((kube)) && kube_debs=(containerd runc containernetworking-plugins libseccomp2 iptables iproute2
	libxtables12 libnftnl11 libmnl0 libbpf1 libelf1 libbsd0 libmd0 libcap2
	libnetfilter-conntrack3 libnfnetlink0)
arch_pkgs=("${kernel_debs[@]}" busybox-static zstd "${libs[@]}" "${disk_debs[@]}" "${kube_debs[@]}")
[[ $arch == arm64 ]] && arch_pkgs+=(grub-efi-arm64-bin)
for p in "${arch_pkgs[@]}"; do PKG_ARCH[$p]=$arch; done
[[ $arch == arm64 ]] && PKG_ARCH[raspi-firmware]=all
# One apt-cache run per apt configuration, not one per package (each run reads every list).
# apt_candidates [APT-OPTION...] -- PKG... → "name candidate" for each package apt knows.
apt_candidates() {
	local opts=()
	while [[ $1 != -- ]]; do opts+=("$1"); shift; done
	shift
	(($# == 0)) || apt-cache "${opts[@]}" policy "$@" 2>/dev/null |
		awk '/^[^ ].*:$/ { name = substr($0, 1, length($0) - 1); sub(/:[a-z0-9]+$/, "", name) }
		     /^  Candidate:/ { print name, $2 }'
}
host_q=() d13_q=()
for p in "${!PKG_ARCH[@]}"; do
	q=$p
	[[ ${PKG_ARCH[$p]} == all ]] || q=$p:$arch
	if [[ ${PKG_APT[$p]:-} == debian13 ]]; then d13_q+=("$q"); else host_q+=("$q"); fi
done
declare -A CANDIDATE=()
while read -r p v; do CANDIDATE[$p]=$v; done < <(
	apt_candidates "${HOST_APT[@]}" -- "${host_q[@]}"
	[[ ${KERNEL_FROM:-} != debian13 ]] || apt_candidates "${DEBIAN13_APT[@]}" -- "${d13_q[@]}"
)
for p in "${!PKG_ARCH[@]}"; do
	v=${CANDIDATE[$p]:-}
	q=$p
	[[ ${PKG_ARCH[$p]} == all ]] || q=$p:$arch
	hint="run: sudo apt-get update"
	[[ ${PKG_APT[$p]:-} == debian13 ]] && hint="remove $CACHE/apt-debian13 and build again (it reloads Debian 13's lists)"
	[[ -n $v && $v != '(none)' ]] || die "no candidate version for $q" "$hint"
	VERSIONS[$p]=$v
done

# etcd built from source at the pinned release for this architecture (static: no libraries;
# instant when cached, about a minute if not).
etcd_bin=$(bash "$ROOT/images/etcd/build.sh" --arch "$arch") || die "could not build etcd for $arch" "see the etcd-build lines above"
etcd_version=$(basename "$(dirname "$(dirname "$etcd_bin")")")
if ((kube)); then
	[[ -x $kube_bin/kubelet ]] || die "no $arch kubelet in $kube_bin" "build it once: images/kubernetes/build.sh --arch $arch --only kubelet"
	[[ -x $kube_bin/kube-proxy ]] || die "no $arch kube-proxy in $kube_bin" "build it once: images/kubernetes/build.sh --arch $arch"
	pause_tar=$images_dir/pause-3.10.2.tar
	[[ -f $pause_tar ]] || die "no $arch pause image at $pause_tar" "build it: images/pause/build.sh --arch $arch"
	[[ -x $wg_bin ]] && ls "$images_dir"/coredns-*.tar >/dev/null 2>&1 ||
		die "the $arch add-on images or wireguard-go are not built" "build them once: images/addons/build.sh --arch $arch"
fi
inputs=$(
	echo "recipe $RECIPE arch $arch"
	for p in "${!VERSIONS[@]}"; do echo "deb $p ${VERSIONS[$p]}"; done | sort
	echo "node v$node_version $(sha256sum "$node_bin" | cut -c1-64)"
	echo "zstd $(zstd --version)"
	[[ $arch == arm64 ]] && echo "grub-mkimage $(grub-mkimage --version)"
	echo "dist $dist_hash"
	echo "lock $(sha256sum "$ROOT/package-lock.json" | cut -c1-64)"
	for e in "${ETCD_PROGRAMS[@]}"; do echo "$e $(sha256sum "$etcd_bin/$e" | cut -c1-64)"; done
	if ((kube)); then
		sha256sum "$kube_bin/kubelet" "$kube_bin/kube-proxy" "$wg_bin" "$images_dir"/*.tar | cut -c1-64
		echo "kube-modules ${KUBE_MODULES[*]}"
	fi
	echo "stamp $stamp exit-at-start $exit_at_start"
	cd "$HERE" && sha256sum build.sh closure.sh debian13-apt.sh init disk.sh udhcpc.script prod-deps.mjs grub-early.cfg
)
version=$(printf '%s\n' "$inputs" | sha256sum | cut -c1-16)
# The fast key stands for these inputs only if nothing moved while they were read.
[[ -z $key || $(fast_key) != "$key" ]] || stamp_record "$STAMPS" "$key" "$version"
out=${out_override:-$CACHE/$version}
# The release version the agent announces (the output directory stays named by the inputs).
release_version=${stamp:-$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$ROOT/package.json" | head -1)+$version}
if [[ $print_dir == 1 ]]; then echo "$out"; exit 0; fi
if [[ $force == 0 && -f $out/manifest.json ]]; then
	log "image $version ($arch) is up to date in $out ($(elapsed "$START") s)"
	echo "$out"
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/homecloud-netboot.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage=$work/out
mkdir -p "$stage"
# Reproducible archives: fixed order, owners and times.
export SOURCE_DATE_EPOCH=0
pack_cpio() { find "$1" -exec touch -h -d @0 {} +; (cd "$1" && find . -mindepth 1 -print0 | LC_ALL=C sort -z | cpio --null --create --format=newc --reproducible --quiet --owner=0:0) | gzip -9n; }
pack_tar() { tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf - . | zstd -q -9 -T2; }
# What the nodes serve to the firmware (arm64; "firmware" in the manifest, skipped by /init).
firmware=()
[[ $arch != arm64 ]] || firmware=(grubnetaa64.efi start4.elf fixup4.dat "${PI_DTBS[@]/%/.dtb}" bcm2712d0-rpi-5-b.dtb)

# The manifest of what $stage holds, then the image published as $out (the last line on stdout).
publish_image() {
	# ---- manifest ------------------------------------------------------------------------
	# One artifact per line: /init reads it with sed, without a JSON parser, and skips the
	# firmware lines (boot files for the firmware and GRUB, already behind the machine).
	{
		printf '{\n  "v": 1,\n  "version": "%s",\n  "arch": "%s",\n  "kube": %s,\n' "$release_version" "$arch" "$( ((kube)) && echo true || echo false)"
		printf '  "kernel": "%s %s",\n  "node": "v%s",\n  "etcd": "%s",\n' "$kernel_pkg" "${VERSIONS[${kernel_debs[0]}]}" "$node_version" "$etcd_version"
		printf '  "files": {\n'
		sep=''
		for f in vmlinuz initrd.img agent.tar.zst "${firmware[@]}"; do
			fw=''
			[[ " ${firmware[*]} " == *" $f "* ]] && fw=', "firmware": true'
			printf '%s    "%s": {"sha256": "%s", "bytes": %d%s}' "$sep" "$f" "$(sha256sum "$stage/$f" | cut -c1-64)" "$(stat -c %s "$stage/$f")" "$fw"
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
	log "image $version ($arch$( ((kube)) && echo ', kube'), release version $release_version): $(du -sh "$out" | cut -f1) in $out ($(ls "$out" | tr '\n' ' ')); built in $(elapsed "$START") s"
	# Every agent change makes a new image: keep the newest few of each flavour, not all.
	if [[ -z $out_override ]]; then
		declare -A kept=()
		while read -r m; do
			flavour=$(tr -d ' \n' <"$m" | sed -n 's/.*"arch":"\([a-z0-9]*\)","kube":\([a-z]*\).*/\1-\2/p')
			kept[$flavour]=$((${kept[$flavour]:-0} + 1))
			((${kept[$flavour]} > 6)) && rm -rf "$(dirname "$m")"
		done < <(ls -1dt "$CACHE"/*/manifest.json 2>/dev/null)
	fi
	echo "$out"
}

# ---- a stamped image: the same code's image with its own VERSION ---------------------
# --version and --test-exit-at-start change nothing but app/VERSION (and a marker file) in
# the agent bundle and the manifest's version, so the image of the same inputs without them
# is built (or found) and its bundle unpacked, those files written and the bundle packed
# the same way: the same bytes a build from the packages makes (sorted, fixed owners and
# times), in ~10 s instead of 60–90 s for each of the rollout tests' releases.
if [[ -n $stamp || $exit_at_start == 1 ]]; then
	base_args=(--arch "$arch")
	((kube)) && base_args+=(--kube)
	((force)) && base_args+=(--force)
	base=$(bash "$HERE/build.sh" "${base_args[@]}" | tail -1) && [[ -f $base/manifest.json ]] ||
		die "could not build the unstamped image to stamp $release_version on" "see the lines above"
	log "stamping $release_version on the image $(basename "$base")$( ((exit_at_start)) && echo ' (its agent exits at start)')"
	mkdir -p "$work/bundle"
	zstd -dc "$base/agent.tar.zst" | tar -x -C "$work/bundle"
	echo "$release_version" >"$work/bundle/homecloud/app/VERSION"
	rm -f "$work/bundle/homecloud/app/TEST_EXIT_AT_START"
	if ((exit_at_start)); then echo "built with --test-exit-at-start" >"$work/bundle/homecloud/app/TEST_EXIT_AT_START"; fi
	pack_tar "$work/bundle" >"$stage/agent.tar.zst"
	for f in vmlinuz initrd.img "${firmware[@]}"; do cp "$base/$f" "$stage/"; done
	publish_image
	exit 0
fi

# ---- download the packages (cached by file name, which carries version and arch) ----
debs=$CACHE/debs
mkdir -p "$debs"
deb() { ls "$debs/${1}_${VERSIONS[$1]//:/%3a}_${PKG_ARCH[$1]}.deb" 2>/dev/null | head -1; }
# One apt-get run per apt configuration, not one per package: each run reads every list
# first (~4 s here), so a fresh machine's first image spent ~100 s on that alone.
# apt_download LABEL [APT-OPTION...] -- PKG=VERSION...
apt_download() {
	local label=$1 opts=()
	shift
	while [[ $1 != -- ]]; do opts+=("$1"); shift; done
	shift
	(($# > 0)) || return 0
	log "downloading $# packages$label: $*"
	(cd "$debs" && apt-get "${opts[@]}" download -q "$@" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
		die "apt-get download failed for $*" "check apt's sources (sudo apt-get update)"
}
host_get=() d13_get=()
for p in "${!VERSIONS[@]}"; do
	[[ -z $(deb "$p") ]] || continue
	q=$p
	[[ ${PKG_ARCH[$p]} == all ]] || q=$p:$arch
	if [[ ${PKG_APT[$p]:-} == debian13 ]]; then d13_get+=("$q=${VERSIONS[$p]}"); else host_get+=("$q=${VERSIONS[$p]}"); fi
done
apt_download '' "${HOST_APT[@]}" -- "${host_get[@]}"
[[ ${KERNEL_FROM:-} != debian13 ]] || apt_download ' (Debian 13)' "${DEBIAN13_APT[@]}" -- "${d13_get[@]}"
for p in "${!VERSIONS[@]}"; do
	[[ -n $(deb "$p") ]] || die "apt-get download left no ${p}_${VERSIONS[$p]}_${PKG_ARCH[$p]}.deb in $debs" "remove $debs and build again"
done

# The target's libraries, unpacked together: closure.sh looks them up here.
for p in "${libs[@]}" "${kube_debs[@]}"; do dpkg-deb -x "$(deb "$p")" "$work/libroot"; done

# copy_with_libs DEST BIN... : the programs' libraries and their loader into DEST.
copy_with_libs() {
	local dest=$1 lib
	shift
	mkdir -p "$dest"
	local list
	list=$(elf_closure "$work/libroot" "$TRIPLET" "$@") || die "a library is missing for ${*##*/}" "add its Debian package to libs in build.sh"
	for lib in $list; do cp -L "$lib" "$dest/"; done
}

# ---- kernel --------------------------------------------------------------------------
log "unpacking ${kernel_debs[*]} ${VERSIONS[${kernel_debs[0]}]} ($arch)"
for p in "${kernel_debs[@]}"; do dpkg-deb -x "$(deb "$p")" "$work/kernel"; done
# Debian 12 puts the kernel in /boot, modules in /lib/modules and device trees in
# /usr/lib/linux-image-KVER; Debian 13's split packages put all three under /usr/lib/modules/KVER.
moddir=$work/kernel/lib/modules/$kver dtbdir=$work/kernel/usr/lib/linux-image-$kver
[[ -d $moddir ]] || moddir=$work/kernel/usr/lib/modules/$kver
[[ -d $dtbdir ]] || dtbdir=$moddir/dtb
if [[ -f $work/kernel/boot/vmlinuz-$kver ]]; then cp "$work/kernel/boot/vmlinuz-$kver" "$stage/vmlinuz"
else cp "$moddir/vmlinuz" "$stage/vmlinuz"; fi

# ---- initramfs -----------------------------------------------------------------------
rd=$work/initrd
mkdir -p "$rd"/{bin,dev,proc,sys,run,tmp,etc,lib/modules,opt,var/lib}
dpkg-deb -x "$(deb busybox-static)" "$work/busybox"
cp "$work/busybox/bin/busybox" "$rd/bin/busybox"
ln -s busybox "$rd/bin/sh"
mapfile -t kos < <(module_load_order "$moddir" "${MODULES[@]}") ||
	die "a module is missing from $kernel_pkg" "the MODULES list in build.sh names modules this kernel lacks"
log "building the initramfs (busybox-static ${VERSIONS[busybox-static]}, ${#kos[@]} modules)"
: >"$rd/lib/modules/order"
for ko in "${kos[@]}"; do
	m=${ko##*/}
	cp "$ko" "$rd/lib/modules/$m"
	echo "${m%.ko}" >>"$rd/lib/modules/order"
done
# zstd with its libraries and loader: busybox's gunzip took ~19 s for the agent under
# TCG, zstd -d takes ~2 s.
dpkg-deb -x "$(deb zstd)" "$work/zstd"
mkdir -p "$rd/lib/zstd"
cp "$work/zstd/usr/bin/zstd" "$rd/lib/zstd/zstd"
copy_with_libs "$rd/lib/zstd" "$work/zstd/usr/bin/zstd"
install -m 0755 "$HERE/init" "$rd/init"
install -m 0755 "$HERE/udhcpc.script" "$rd/etc/udhcpc.script"
install -D -m 0644 "$HERE/disk.sh" "$rd/lib/homecloud/disk.sh"
pack_cpio "$rd" >"$stage/initrd.img"

# ---- agent bundle --------------------------------------------------------------------
log "bundling the agent (node v$node_version $arch, dist, production node_modules, etcd $etcd_version)"
b=$work/bundle/homecloud
mkdir -p "$b"/{node/lib,app,bin}
# Strip what a netbooted machine never needs (symbols, debug info).
"$STRIP" -o "$b/node/node" "$node_bin"
# node runs through the copied dynamic loader, so the guest needs no /lib of its own.
copy_with_libs "$b/node/lib" "$node_bin"
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
# Native addons ship prebuilds for every platform; this image runs only one.
find "$b/app/node_modules" -type d -path '*/prebuilds/*' -prune ! -name "$PREBUILDS" -exec rm -rf {} +
[[ -d $b/app/node_modules/fastify ]] || die "production node_modules were not copied" "run scripts/setup.sh (npm install) first"
for addon in sodium-native udx-native; do
	[[ -f $b/app/node_modules/$addon/prebuilds/$PREBUILDS/$addon.node ]] ||
		die "$addon has no $PREBUILDS prebuild in node_modules" "reinstall it: npm install (its package ships one per platform)"
done
for e in "${ETCD_PROGRAMS[@]}"; do cp "$etcd_bin/$e" "$b/bin/"; done
# The state-disk tools: /init puts disk/bin on the PATH of `homecloud state-disk`; their
# libraries join node's, which /init links into /lib.
mkdir -p "$b/disk/bin"
for p in "${disk_debs[@]}"; do dpkg-deb -x "$(deb "$p")" "$work/$p"; done
for t in util-linux:lsblk util-linux:blkid fdisk:sfdisk e2fsprogs:mke2fs; do
	f=$(find "$work/${t%%:*}" -type f -path "*bin/${t#*:}" | head -1)
	[[ -n $f ]] || die "${t%%:*} ${VERSIONS[${t%%:*}]} has no ${t#*:}" "check the disk_debs list in build.sh"
	cp "$f" "$b/disk/bin/"
done
copy_with_libs "$b/node/lib" "$b"/disk/bin/*
"$STRIP" "$b"/disk/bin/*
if ((kube)); then
	# Debian's containerd, runc (with libseccomp) and CNI plugins are dynamically linked:
	# their libraries join node's, which /init links into /lib.
	log "bundling a Kubernetes node: kubelet, containerd ${VERSIONS[containerd]}, runc ${VERSIONS[runc]}, CNI plugins, iptables ${VERSIONS[iptables]}, add-on images"
	mkdir -p "$b"/kube/{bin,images,modules} "$b"/runtime/{bin,cni}
	cp "$kube_bin/kubelet" "$kube_bin/kube-proxy" "$wg_bin" "$b/kube/bin/"
	cp "$images_dir"/*.tar "$b/kube/images/"
	# iptables (the nf_tables backend, its extensions) and iproute2's ip, from Debian's packages.
	for p in iptables iproute2; do dpkg-deb -x "$(deb "$p")" "$work/$p"; done
	cp "$work/iptables/usr/sbin/xtables-nft-multi" "$work/iproute2/bin/ip" "$b/runtime/bin/"
	for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -s xtables-nft-multi "$b/runtime/bin/$t"; done
	cp -r "$work/iptables/usr/lib/$TRIPLET/xtables" "$b/runtime/xtables"
	copy_with_libs "$b/node/lib" "$b/runtime/bin/xtables-nft-multi" "$b/runtime/bin/ip" "$b"/runtime/xtables/*.so
	mapfile -t kube_kos < <(module_load_order "$moddir" "${KUBE_MODULES[@]}") ||
		die "a Kubernetes module is missing from $kernel_pkg" "the KUBE_MODULES list in build.sh names modules this kernel lacks"
	: >"$b/kube/modules/order"
	for ko in "${kube_kos[@]}"; do
		m=${ko##*/}
		cp "$ko" "$b/kube/modules/$m"
		echo "${m%.ko}" >>"$b/kube/modules/order"
	done
	for p in containerd runc containernetworking-plugins; do dpkg-deb -x "$(deb "$p")" "$work/$p"; done
	cp "$work/containerd/usr/bin/"{containerd,containerd-shim-runc-v2,ctr} "$work/runc/usr/sbin/runc" "$b/runtime/bin/"
	cp "$work/containernetworking-plugins/usr/lib/cni/"{bridge,host-local,loopback} "$b/runtime/cni/"
	copy_with_libs "$b/node/lib" "$b"/runtime/bin/* "$b"/runtime/cni/*
	"$STRIP" "$b"/runtime/bin/* "$b"/runtime/cni/* 2>/dev/null || true
fi
pack_tar "$work/bundle" >"$stage/agent.tar.zst"

# ---- boot firmware the nodes serve (arm64) --------------------------------------------
if [[ $arch == arm64 ]]; then
	log "GRUB for arm64 UEFI network boot (grub-efi-arm64-bin ${VERSIONS[grub-efi-arm64-bin]}); Raspberry Pi 4 and 5 files (raspi-firmware ${VERSIONS[raspi-firmware]})"
	dpkg-deb -x "$(deb grub-efi-arm64-bin)" "$work/grub"
	# grub-early.cfg is embedded and run first (no comments in it: that early parser takes
	# `#` for a command). Debian's GRUB 2.06 takes the server from the DHCP ack (the LAN's
	# router), not from the proxyDHCP offer that named it, so every node serves this image
	# with its own HOST:PORT written over the placeholder (agent/netboot/grub.ts), and GRUB
	# asks that node for boot.grub (the kernel, initramfs and command line, like iPXE's).
	grub-mkimage -O arm64-efi -d "$work/grub/usr/lib/grub/arm64-efi" -o "$stage/grubnetaa64.efi" \
		-c "$HERE/grub-early.cfg" -p '(tftp)/grub' "${GRUB_MODULES[@]}"
	# The Pi 4 runs start4.elf (with fixup4.dat); a Pi 5's bootloader has that firmware
	# built in and only looks for start4.elf to decide that its serial folder is there.
	dpkg-deb -x "$(deb raspi-firmware)" "$work/rpi"
	cp "$work/rpi/usr/lib/raspi-firmware/"{start4.elf,fixup4.dat} "$stage/"
	for dtb in "${PI_DTBS[@]}"; do
		cp "$dtbdir/broadcom/$dtb.dtb" "$stage/" ||
			die "$kernel_pkg has no $dtb.dtb" "the PI_DTBS list in build.sh names a device tree this kernel lacks"
	done
	# A Pi 5 with the D0 stepping asks for Raspberry Pi's own name of its tree,
	# bcm2712d0-rpi-5-b.dtb; Linux (and Debian) call the same board bcm2712-d-rpi-5-b.
	cp "$stage/bcm2712-d-rpi-5-b.dtb" "$stage/bcm2712d0-rpi-5-b.dtb"
fi

publish_image
