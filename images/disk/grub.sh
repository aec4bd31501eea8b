#!/usr/bin/env bash
# Builds the GRUB images a homecloud disk boots with, from Debian's GRUB packages
# (unpacked, never installed), each with every module it needs inside: the disk carries
# no module directory, and GRUB reads its grub.cfg from the boot partition it came from.
#
#   images/disk/grub.sh --arch amd64|arm64 [--force]
#
# amd64: core.img (BIOS, i386-pc; prefix "(,msdos1)/grub": partition 1 of the disk the
#        BIOS booted) + boot.img (its MBR code), and BOOTX64.EFI (UEFI, x86_64-efi)
# arm64: BOOTAA64.EFI (UEFI, arm64-efi)
# Output: ${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}/disk/grub/<hash of the inputs>/;
# the directory is the last line on stdout, progress goes to stderr.
# Needs: apt-get (Debian's mirror; arm64 packages need `dpkg --add-architecture arm64`),
# dpkg-deb, grub-mkimage (grub-common).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}/disk
RECIPE=1

log() { printf '[disk-grub %4ss] %s\n' "$SECONDS" "$*" >&2; }
die() {
	printf '[disk-grub %4ss] ERROR: %s\n' "$SECONDS" "$1" >&2
	[[ -n ${2:-} ]] && printf '[disk-grub %4ss]   next: %s\n' "$SECONDS" "$2" >&2
	exit 1
}

arch='' force=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--arch) arch=$2; shift 2 ;;
	--force) force=1; shift ;;
	-h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1" "see --help" ;;
	esac
done
# What grub.cfg (agent/slots/grub-script.ts) uses: partitions, FAT, the environment
# block, tests and regexps, the Linux loader, the serial console, probe for the slot's
# filesystem id.
COMMON=(part_msdos fat normal configfile linux echo test regexp loadenv probe sleep reboot halt)
case $arch in
amd64) PKGS=(grub-pc-bin grub-efi-amd64-bin) ;;
arm64) PKGS=(grub-efi-arm64-bin) ;;
*) die "no disk GRUB for architecture '$arch'" "use --arch amd64 or --arch arm64" ;;
esac
command -v grub-mkimage >/dev/null || die "grub-mkimage is missing" "run scripts/setup.sh (it installs grub-common)"

# The cheap look first (images/netboot/input-stamp.sh): apt's state unchanged since the
# last full look, the directory it named still holds.
. "$HERE/../netboot/input-stamp.sh"
fast_key() {
	{ echo "recipe $RECIPE arch $arch modules ${COMMON[*]}"; apt_state && grub-mkimage --version &&
		sha256sum "$HERE/grub.sh" "$HERE/../netboot/input-stamp.sh"; } 2>/dev/null | sha256sum | cut -c1-64
}
key=$(fast_key) || key=''
out=$(stamp_lookup "$CACHE/input-stamps" "$key" 2>/dev/null) || out=''
if [[ -n $key && -n $out && $force == 0 && -f $out/done ]]; then
	log "GRUB ($arch) is up to date in $out (inputs unchanged since their last full check)"
	echo "$out"
	exit 0
fi

declare -A VERSIONS=()
# apt's binary cache of our own (images/netboot/build.sh says why) and one apt-cache run for all.
apt_dir=${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}/apt
mkdir -p "$apt_dir"
HOST_APT=(-o "Dir::Cache::pkgcache=$apt_dir/host.pkgcache")
while read -r p v; do VERSIONS[$p]=$v; done < <(apt-cache "${HOST_APT[@]}" policy "${PKGS[@]/%/:$arch}" 2>/dev/null |
	awk '/^[^ ].*:$/ { name = substr($0, 1, length($0) - 1); sub(/:[a-z0-9]+$/, "", name) } /^  Candidate:/ { print name, $2 }')
for p in "${PKGS[@]}"; do
	v=${VERSIONS[$p]:-}
	[[ -n $v && $v != '(none)' ]] || die "no candidate version for $p:$arch" "run: apt-get update (arm64: dpkg --add-architecture arm64 first)"
done
inputs=$(
	echo "recipe $RECIPE arch $arch modules ${COMMON[*]}"
	for p in "${PKGS[@]}"; do echo "deb $p ${VERSIONS[$p]}"; done
	grub-mkimage --version
	sha256sum "$HERE/grub.sh" | cut -c1-64
)
out=$CACHE/grub/$(printf '%s\n' "$inputs" | sha256sum | cut -c1-16)
# Recorded only if nothing moved while apt was asked.
[[ -z $key || $(fast_key) != "$key" ]] || stamp_record "$CACHE/input-stamps" "$key" "$out"
if [[ $force == 0 && -f $out/done ]]; then
	log "GRUB ($arch) is up to date in $out"
	echo "$out"
	exit 0
fi

debs=$CACHE/debs
mkdir -p "$debs"
work=$(mktemp -d "${TMPDIR:-/tmp}/homecloud-grub.XXXXXX")
trap 'rm -rf "$work"' EXIT
for p in "${PKGS[@]}"; do
	f=$(ls "$debs/${p}_${VERSIONS[$p]//:/%3a}_$arch.deb" 2>/dev/null | head -1 || true)
	if [[ -z $f ]]; then
		log "downloading $p:$arch ${VERSIONS[$p]}"
		(cd "$debs" && apt-get "${HOST_APT[@]}" download -q "$p:$arch=${VERSIONS[$p]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
			die "apt-get download $p:$arch failed" "check apt's sources (apt-get update)"
		f=$(ls "$debs/${p}_${VERSIONS[$p]//:/%3a}_$arch.deb" | head -1)
	fi
	dpkg-deb -x "$f" "$work/root"
done
lib=$work/root/usr/lib/grub
mkdir -p "$work/out"
case $arch in
amd64)
	log "grub-mkimage i386-pc and x86_64-efi (GRUB ${VERSIONS[grub-pc-bin]})"
	grub-mkimage -O i386-pc -d "$lib/i386-pc" -o "$work/out/core.img" -p '(,msdos1)/grub' \
		biosdisk serial terminal "${COMMON[@]}"
	cp "$lib/i386-pc/boot.img" "$work/out/boot.img"
	grub-mkimage -O x86_64-efi -d "$lib/x86_64-efi" -o "$work/out/BOOTX64.EFI" -p /grub \
		efi_gop serial terminal "${COMMON[@]}"
	;;
arm64)
	log "grub-mkimage arm64-efi (GRUB ${VERSIONS[grub-efi-arm64-bin]})"
	grub-mkimage -O arm64-efi -d "$lib/arm64-efi" -o "$work/out/BOOTAA64.EFI" -p /grub \
		efi_gop "${COMMON[@]}"
	;;
esac
touch "$work/out/done"
mkdir -p "$(dirname "$out")"
rm -rf "$out"
cp -a "$work/out" "$out"
log "GRUB ($arch): $(ls "$out" | grep -v done | tr '\n' ' ')in $out"
echo "$out"
