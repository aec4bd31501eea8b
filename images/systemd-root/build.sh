#!/usr/bin/env bash
# Builds a minimal Debian bookworm root filesystem with systemd, for booting under
# systemd-nspawn: the machine `homecloud install` is tested on (test/cluster/install.test.ts),
# a Debian with systemd as PID 1 and journald, as on a user's laptop or board.
#
#   images/systemd-root/build.sh [--force]
#   images/systemd-root/build.sh --print-dir
#
# Made by Debian's mmdebstrap (--variant=minbase plus the packages below) from the Debian
# mirror apt uses here. Cached by its inputs (suite, packages, recipe, mmdebstrap's
# version): a change to any of them builds a new one beside the old.
# Output: ${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}/systemd-root/<key>/rootfs
# Progress goes to stderr; the rootfs directory goes to stdout.
set -euo pipefail

# ---- inputs (change here, nowhere else) ------------------------------------------------
SUITE=bookworm
MIRROR=${HOMECLOUD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# systemd as init with D-Bus (systemctl talks to it), iproute2 for the test to see the
# container's address; node's libraries (libstdc++6, libc6) come with minbase's apt.
PACKAGES=(systemd systemd-sysv dbus iproute2 procps)
# Bump when the steps below change, so roots built the old way are rebuilt.
RECIPE=1

log() { printf '[systemd-root %4ss] %s\n' "$SECONDS" "$*" >&2; }
die() { # die "what went wrong" "what to do next"
	printf '[systemd-root %4ss] ERROR: %s\n' "$SECONDS" "$1" >&2
	[[ -n ${2:-} ]] && printf '[systemd-root %4ss]   next: %s\n' "$SECONDS" "$2" >&2
	exit 1
}

print_dir=0 force=0
while (($#)); do
	case "$1" in
	--print-dir) print_dir=1; shift ;;
	--force) force=1; shift ;;
	-h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1" "run $0 --help" ;;
	esac
done

command -v mmdebstrap >/dev/null || die "mmdebstrap not found" "run scripts/setup.sh (or: apt-get install mmdebstrap)"
MMDEBSTRAP_VERSION=$(mmdebstrap --version | awk '{print $2}')
ARCH=$(dpkg --print-architecture)
inputs="suite=$SUITE arch=$ARCH packages=${PACKAGES[*]} recipe=$RECIPE mmdebstrap=$MMDEBSTRAP_VERSION"
key=$(printf '%s' "$inputs" | sha256sum | cut -c1-16)
CACHE_ROOT=${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}
OUT=$CACHE_ROOT/systemd-root/$key

if ((print_dir)); then
	echo "$OUT/rootfs"
	exit 0
fi
if ((force == 0)) && [[ -f $OUT/stamp && -x $OUT/rootfs/lib/systemd/systemd ]]; then
	log "cached ($inputs) in $OUT/rootfs"
	echo "$OUT/rootfs"
	exit 0
fi
[[ $(id -u) -eq 0 ]] || die "building the root needs root (mmdebstrap's root mode keeps file owners)" "run as root"

mkdir -p "$OUT"
exec 9>"$OUT/.lock"
if ! flock -n 9; then
	log "another build of this root is running; waiting for it (lock $OUT/.lock)"
	flock 9
	if [[ -f $OUT/stamp ]]; then echo "$OUT/rootfs"; exit 0; fi
fi

work=$OUT/rootfs.tmp
rm -rf "$work" "$OUT/rootfs" "$OUT/stamp"
trap 'log "interrupted"; rm -rf "$work"; exit 130' INT TERM
log "building Debian $SUITE ($ARCH) with ${PACKAGES[*]} from $MIRROR (mmdebstrap $MMDEBSTRAP_VERSION; cold: about a minute)"
start=$SECONDS
include=$(
	IFS=,
	echo "${PACKAGES[*]}"
)
# The root mode keeps file owners as in the packages; no apt lists or caches are kept.
# The machine id is left empty, as an image should be: systemd makes one at each boot.
if ! mmdebstrap --mode=root --variant=minbase --include="$include" \
	--customize-hook='rm -f "$1"/etc/machine-id && touch "$1"/etc/machine-id' \
	--customize-hook='rm -f "$1"/etc/hostname' \
	"$SUITE" "$work" "$MIRROR" >"$OUT/build.log" 2>&1; then
	tail -n 25 "$OUT/build.log" | sed 's/^/    /' >&2
	rm -rf "$work"
	die "mmdebstrap failed after $((SECONDS - start))s (log: $OUT/build.log)" "check that apt reaches $MIRROR (apt-get update), then rerun"
fi
mv "$work" "$OUT/rootfs"
echo "$inputs built=$(date -u +%Y-%m-%dT%H:%M:%SZ) seconds=$((SECONDS - start))" >"$OUT/stamp"
log "built in $((SECONDS - start))s: $(du -sh "$OUT/rootfs" | cut -f1) in $OUT/rootfs"
echo "$OUT/rootfs"
