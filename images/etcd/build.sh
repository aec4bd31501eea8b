#!/usr/bin/env bash
# Builds etcd, etcdctl and etcdutl from source through the Go module proxy (no git
# clone, no release tarball), at one pinned patch release per minor version.
#
#   images/etcd/build.sh [--arch amd64|arm64|all] [--release 3.6|3.5|3.4] [--force]
#   images/etcd/build.sh --print-dir [--arch ...] [--release ...]
#
# 3.6 is what homecloud runs (the agent, labs, tests, the netboot image). 3.5 exists
# only for the upgrade test (3.4 → 3.5 → 3.6, one minor at a time); 3.4 is Debian 12's
# etcd-server/etcd-client unpacked from their .debs (never installed), the release
# installed clusters run today, for that test and the before/after benchmark.
#
# Output: ${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}/etcd/<version>/<arch>/bin/{etcd,etcdctl,etcdutl}
# Progress goes to stderr; the bin directory (one line per arch) goes to stdout.
# See docs/etcd-build.md for timings.
set -euo pipefail

# ---- pins (change here, nowhere else; agent/etcd/binaries.ts names the 3.6 one) ------
declare -A PIN=([3.6]=v3.6.17 [3.5]=v3.5.36)
DEBIAN_34=(etcd-server etcd-client) # 3.4: Debian's build, whatever version apt offers
# Bump when build flags change, so cached binaries built the old way are rebuilt.
RECIPE=1
NAMES=(etcd etcdctl etcdutl)

JOBS=${HOMECLOUD_BUILD_JOBS:-2}
NICE=${HOMECLOUD_BUILD_NICE:-19}
HEARTBEAT_SECONDS=30

log() { printf '[etcd-build %4ss] %s\n' "$SECONDS" "$*" >&2; }
die() { # die "what went wrong" "what to do next"
	printf '[etcd-build %4ss] ERROR: %s\n' "$SECONDS" "$1" >&2
	[[ -n ${2:-} ]] && printf '[etcd-build %4ss]   next: %s\n' "$SECONDS" "$2" >&2
	exit 1
}
host_arch() {
	case "$(uname -m)" in
	x86_64 | amd64) echo amd64 ;;
	aarch64 | arm64) echo arm64 ;;
	*) return 1 ;;
	esac
}

# ---- arguments -------------------------------------------------------------------------
arch_arg= release=3.6 print_dir=0 force=0
while (($#)); do
	case "$1" in
	--arch) arch_arg=${2:?--arch needs amd64, arm64 or all}; shift 2 ;;
	--arch=*) arch_arg=${1#*=}; shift ;;
	--release) release=${2:?--release needs 3.6, 3.5 or 3.4}; shift 2 ;;
	--release=*) release=${1#*=}; shift ;;
	--print-dir) print_dir=1; shift ;;
	--force) force=1; shift ;;
	-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1" "run $0 --help" ;;
	esac
done
case "${arch_arg:-host}" in
host) archs=("$(host_arch)") || die "unsupported host architecture $(uname -m)" "pass --arch amd64 or --arch arm64" ;;
amd64 | arm64) archs=("$arch_arg") ;;
all) archs=(amd64 arm64) ;;
*) die "unknown --arch '$arch_arg'" "use amd64, arm64 or all" ;;
esac
CACHE_ROOT=${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}

if [[ $release == 3.4 ]]; then
	# Debian's version is what apt offers; the directory is named after it.
	command -v apt-cache >/dev/null || die "3.4 comes from Debian's etcd-server package" "run this on Debian"
	version=$(apt-cache policy etcd-server 2>/dev/null | awk '/Candidate:/{print $2}')
	[[ -n $version && $version != '(none)' ]] || die "apt offers no etcd-server" "run: sudo apt-get update"
	version=v${version%%-*}
	version=${version#*:}
else
	version=${PIN[$release]:-} || true
	[[ -n $version ]] || die "unknown --release '$release'" "use 3.6 (what homecloud runs), 3.5 or 3.4 (the upgrade path)"
fi
ROOT=$CACHE_ROOT/etcd/$version

if ((print_dir)); then
	for a in "${archs[@]}"; do echo "$ROOT/$a/bin"; done
	exit 0
fi

is_cached() { # is_cached <arch>: every binary there, stamped with this version and recipe
	local a=$1 n
	((force == 0)) && [[ -f $ROOT/$a/stamp ]] || return 1
	for n in "${NAMES[@]}"; do
		[[ $release == 3.4 && $n == etcdutl ]] && continue # 3.4 has no etcdutl
		[[ -x $ROOT/$a/bin/$n ]] && grep -q "^$n $version recipe=$RECIPE " "$ROOT/$a/stamp" || return 1
	done
}
todo=()
for a in "${archs[@]}"; do
	if is_cached "$a"; then log "$a: cached (etcd $version) in $ROOT/$a/bin"; else todo+=("$a"); fi
done
if ((${#todo[@]} == 0)); then
	for a in "${archs[@]}"; do echo "$ROOT/$a/bin"; done
	exit 0
fi

mkdir -p "$ROOT/logs"
exec 9>"$ROOT/.lock"
if ! flock -n 9; then
	log "another build of etcd $version is running; waiting for it (lock $ROOT/.lock)"
	flock 9
fi

record_stamp() { # record_stamp <arch> <name> <extra>
	local stamp=$ROOT/$1/stamp sum
	sum=$(sha256sum "$ROOT/$1/bin/$2" | cut -d' ' -f1)
	{
		[[ -f $stamp ]] && grep -v "^$2 " "$stamp"
		echo "$2 $version recipe=$RECIPE $3 sha256=$sum built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	} >"$stamp.tmp" || true
	mv "$stamp.tmp" "$stamp"
}

# ---- 3.4: Debian's binaries, unpacked ----------------------------------------------------
if [[ $release == 3.4 ]]; then
	for a in "${todo[@]}"; do
		[[ $a == "$(dpkg --print-architecture)" ]] || dpkg --print-foreign-architectures | grep -qx "$a" ||
			die "apt cannot fetch $a packages" "dpkg --add-architecture $a && apt-get update"
		work=$(mktemp -d "${TMPDIR:-/tmp}/homecloud-etcd34.XXXXXX")
		for p in "${DEBIAN_34[@]}"; do
			log "$a: apt-get download $p:$a"
			(cd "$work" && apt-get download -q "$p:$a" 2>&1 | grep -v 'unsandboxed' >&2) ||
				die "apt-get download $p:$a failed" "check apt's sources (sudo apt-get update)"
			dpkg-deb -x "$work"/"$p"_*.deb "$work/x"
		done
		mkdir -p "$ROOT/$a/bin"
		for n in etcd etcdctl; do
			install -m 0755 "$work/x/usr/bin/$n" "$ROOT/$a/bin/$n"
			record_stamp "$a" "$n" "debian"
		done
		rm -rf "$work"
		log "$a: Debian's etcd $version in $ROOT/$a/bin"
	done
	for a in "${archs[@]}"; do echo "$ROOT/$a/bin"; done
	exit 0
fi

# ---- toolchain and the wrapper module ------------------------------------------------------
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || die "go not found on PATH" "install Go >= 1.26 (e.g. /usr/local/go/bin) and rerun"
# Never fetch another toolchain, never bypass the configured proxy, build from module zips.
export GOTOOLCHAIN=local GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"
GO_VERSION=$(go env GOVERSION)

# Runs a long command with its output in a log file and a heartbeat on stderr.
child=
trap 'log "interrupted; stopping the build"; [[ -z $child ]] || kill -INT "$child" 2>/dev/null; wait 2>/dev/null; rm -f "$ROOT"/*/bin/*.tmp; exit 130' INT TERM
run_logged() { # run_logged <label> <logfile> <cmd...>
	local label=$1 logfile=$2 start=$SECONDS last=$SECONDS rc=0
	shift 2
	{ exec "$@"; } >"$logfile" 2>&1 &
	child=$!
	while kill -0 "$child" 2>/dev/null; do
		sleep 1
		if ((SECONDS - last >= HEARTBEAT_SECONDS)); then
			last=$SECONDS
			log "  ... still $label ($((SECONDS - start))s so far)"
		fi
	done
	wait "$child" || rc=$?
	child=
	if ((rc != 0)); then
		log "$label failed after $((SECONDS - start))s (exit $rc); last lines of $logfile:"
		tail -n 25 "$logfile" | sed 's/^/    /' >&2
		return "$rc"
	fi
	log "  $label done in $((SECONDS - start))s"
}

# One wrapper module requiring the three upstream modules at the pin: the build list is
# theirs (they are released together and require each other at the same version).
SRC=$ROOT/src
gomod="module homecloud.local/etcd-build

go 1.24

require (
	go.etcd.io/etcd/server/v3 $version
	go.etcd.io/etcd/etcdctl/v3 $version
	go.etcd.io/etcd/etcdutl/v3 $version
)"
if ! [[ -f $SRC/.tidy-ok && "$(cat "$SRC/go.mod.in" 2>/dev/null)" == "$gomod" ]]; then
	rm -rf "$SRC"
	mkdir -p "$SRC"
	printf '%s\n' "$gomod" >"$SRC/go.mod.in"
	cp "$SRC/go.mod.in" "$SRC/go.mod"
	printf '%s\n' '//go:build tools' '' '// Package tools pins the main packages this module builds.' 'package tools' '' 'import (' \
		'	_ "go.etcd.io/etcd/server/v3"' '	_ "go.etcd.io/etcd/etcdctl/v3"' '	_ "go.etcd.io/etcd/etcdutl/v3"' ')' >"$SRC/tools.go"
	log "etcd $version: resolving and downloading dependencies through $(go env GOPROXY)"
	run_logged "go mod tidy" "$ROOT/logs/tidy.log" nice -n "$NICE" go -C "$SRC" mod tidy ||
		die "go mod tidy failed for etcd $version" "see $ROOT/logs/tidy.log; check access to the Go module proxy, then rerun"
	# Upstream's server go.mod lists its whole build list; say if ours selects otherwise.
	upstream=$(go mod download -json "go.etcd.io/etcd/server/v3@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
	drift=$(LC_ALL=C join \
		<(awk '/^require \(/{b=1;next} b&&/^\)/{b=0} b&&NF>=2{print $1, $2}' "$upstream" | LC_ALL=C sort) \
		<(go -C "$SRC" list -m -f '{{.Path}} {{.Version}}' all | LC_ALL=C sort) | awk '$2 != $3')
	[[ -z $drift ]] && log "dependency versions match upstream server/v3 $version" ||
		{ log "note: versions differ from upstream server/v3 go.mod (path, upstream, ours):"; sed 's/^/    /' <<<"$drift" >&2; }
	touch "$SRC/.tidy-ok"
fi

verify() { # verify <arch> <name> <binary>: runs it on the host arch, checks the ELF machine otherwise
	local a=$1 n=$2 bin=$3 out machine
	if [[ $a == "$(host_arch)" ]]; then
		if [[ $n == etcd ]]; then out=$("$bin" --version 2>&1) || true; else out=$("$bin" version 2>&1) || true; fi
		[[ $out == *"${version#v}"* ]] || { log "$n --version printed: $out"; return 1; }
		log "  verified: $(tr '\n' ' ' <<<"$out" | cut -c1-70)"
	else
		machine=$(od -An -tx1 -j18 -N1 "$bin" | tr -d ' ') # ELF e_machine: 3e x86-64, b7 aarch64
		[[ ($a == arm64 && $machine == b7) || ($a == amd64 && $machine == 3e) ]] ||
			{ log "$n: ELF machine 0x$machine is not $a"; return 1; }
		log "  verified: ELF for $a (not run: cross-compiled)"
	fi
}

# Upstream release builds (scripts/build-binary.sh): static, trimmed paths, GitSHA stamped.
ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$version"
log "building etcd $version for ${todo[*]} with $GO_VERSION, -p $JOBS, nice $NICE (cold: a few minutes per arch on 2 cores)"
for a in "${todo[@]}"; do
	mkdir -p "$ROOT/$a/bin"
	arch_start=$SECONDS
	for n in "${NAMES[@]}"; do
		pkg=go.etcd.io/etcd/$n/v3
		[[ $n == etcd ]] && pkg=go.etcd.io/etcd/server/v3
		out=$ROOT/$a/bin/$n
		run_logged "building $a/$n" "$ROOT/logs/build-$a-$n.log" \
			env GOOS=linux GOARCH="$a" CGO_ENABLED=0 nice -n "$NICE" \
			go -C "$SRC" build -p "$JOBS" -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg" ||
			die "building $a/$n failed" "see $ROOT/logs/build-$a-$n.log; rerun with HOMECLOUD_BUILD_JOBS=1 if the linker ran out of memory"
		verify "$a" "$n" "$out.tmp" || die "$a/$n was built but does not look right" "delete $out.tmp and rerun with --force"
		mv -f "$out.tmp" "$out"
		record_stamp "$a" "$n" "$GO_VERSION"
		log "$a/$n: $(du -h "$out" | cut -f1) -> $out"
	done
	log "$a: etcd $version built in $((SECONDS - arch_start))s; $(du -sh "$ROOT/$a/bin" | cut -f1) in $ROOT/$a/bin"
done
for a in "${archs[@]}"; do echo "$ROOT/$a/bin"; done
