#!/usr/bin/env bash
# Builds the upstream Kubernetes components homecloud runs itself (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl) and kwok from source,
# through the Go module proxy only: no git clone, no dl.k8s.io, no container registry.
#
#   images/kubernetes/build.sh [--arch amd64|arm64|all] [--only name,name] [--force]
#   images/kubernetes/build.sh --print-dir [--arch ...]
#
# Output: ${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}/kubernetes/<k8s-version>/<arch>/bin/<name>
# Progress goes to stderr; the bin directory (one line per arch) goes to stdout.
# See docs/kubernetes-build.md for timings and disk usage.
set -euo pipefail

# ---- pins (change here, nowhere else) ---------------------------------------------
K8S_VERSION=v1.37.1 # k8s.io/kubernetes; staging modules k8s.io/* are at v0.37.1
KWOK_VERSION=v0.8.0 # sigs.k8s.io/kwok, built in its own module with its own pinned deps
# Bump when build flags change, so cached binaries built the old way are rebuilt.
RECIPE=1

ALL_NAMES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl kwok)
# Same tags as upstream release builds (hack/lib/golang.sh): selinux support compiled in,
# test-only code out, grpc's x/net/trace dropped so the linker can prune it.
K8S_TAGS=selinux,notest,grpcnotrace

# Modest defaults: build machines are shared and small.
JOBS=${HOMECLOUD_BUILD_JOBS:-2}
NICE=${HOMECLOUD_BUILD_NICE:-19}
HEARTBEAT_SECONDS=60

# ---- helpers -------------------------------------------------------------------------
log() { printf '[k8s-build %5ss] %s\n' "$SECONDS" "$*" >&2; }
die() { # die "what went wrong" "what to do next"
	printf '[k8s-build %5ss] ERROR: %s\n' "$SECONDS" "$1" >&2
	[[ -n ${2:-} ]] && printf '[k8s-build %5ss]   next: %s\n' "$SECONDS" "$2" >&2
	exit 1
}
usage() {
	sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
	cat <<EOF

Options:
  --arch amd64|arm64|all   target architecture (default: host, $(host_arch 2>/dev/null || echo '?'))
  --only a,b               build only these of: ${ALL_NAMES[*]}
  --print-dir              print the bin directory for each arch and exit (no build)
  --force                  rebuild even if the cache has the binaries
Environment:
  HOMECLOUD_CACHE          cache root (default \$HOME/.cache/homecloud)
  HOMECLOUD_BUILD_JOBS     go build -p (default 2)
  HOMECLOUD_BUILD_NICE     nice level for go (default 19)
Pinned: Kubernetes $K8S_VERSION, kwok $KWOK_VERSION. A cold build takes ~10-20 min per arch on 2 cores.
EOF
}
host_arch() {
	case "$(uname -m)" in
	x86_64 | amd64) echo amd64 ;;
	aarch64 | arm64) echo arm64 ;;
	*) return 1 ;;
	esac
}

# Runs a long command with its output in a log file, printing a heartbeat so a silent
# 20-minute compile does not look hung. On failure shows the log tail.
child=
partial= # output being written, removed if the build is interrupted
stop_child() {
	[[ -n $child ]] || return 0
	# SIGINT makes go stop starting actions and clean its work dir; its compile/link
	# children inherit an ignored SIGINT from this non-interactive shell, so they get TERM.
	kill -INT "$child" 2>/dev/null || true
	command -v pkill >/dev/null && pkill -TERM -P "$child" 2>/dev/null
	wait "$child" 2>/dev/null || true
}
trap 'log "interrupted; stopping the build"; stop_child; [[ -z $partial ]] || rm -f "$partial"; exit 130' INT TERM
run_logged() { # run_logged <label> <logfile> <cmd...>
	local label=$1 logfile=$2
	shift 2
	local start=$SECONDS last=$SECONDS rc=0
	# exec, so $! is the command itself (env and nice exec too) and signals reach go.
	{ exec "$@"; } >"$logfile" 2>&1 &
	child=$!
	while kill -0 "$child" 2>/dev/null; do
		sleep 2
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

# ---- arguments -------------------------------------------------------------------------
arch_arg=
only_arg=
print_dir=0
force=0
while (($#)); do
	case "$1" in
	--arch) arch_arg=${2:?--arch needs amd64, arm64 or all}; shift 2 ;;
	--arch=*) arch_arg=${1#*=}; shift ;;
	--only) only_arg=${2:?--only needs a comma-separated list}; shift 2 ;;
	--only=*) only_arg=${1#*=}; shift ;;
	--print-dir) print_dir=1; shift ;;
	--force) force=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown argument: $1" "run $0 --help" ;;
	esac
done

case "${arch_arg:-host}" in
host) archs=("$(host_arch)") || die "unsupported host architecture $(uname -m)" "pass --arch amd64 or --arch arm64" ;;
amd64 | arm64) archs=("$arch_arg") ;;
all) archs=(amd64 arm64) ;;
*) die "unknown --arch '$arch_arg'" "use amd64, arm64 or all" ;;
esac

names=()
if [[ -n $only_arg ]]; then
	IFS=, read -ra wanted <<<"$only_arg"
	for n in "${wanted[@]}"; do
		[[ " ${ALL_NAMES[*]} " == *" $n "* ]] || die "unknown component '$n' in --only" "choose from: ${ALL_NAMES[*]}"
		names+=("$n")
	done
else
	names=("${ALL_NAMES[@]}")
fi

CACHE_ROOT=${HOMECLOUD_CACHE:-$HOME/.cache/homecloud}
ROOT=$CACHE_ROOT/kubernetes/$K8S_VERSION

if ((print_dir)); then
	for a in "${archs[@]}"; do echo "$ROOT/$a/bin"; done
	exit 0
fi

# ---- cache check (no Go needed when everything is cached) ------------------------------
pin_of() { [[ $1 == kwok ]] && echo "$KWOK_VERSION" || echo "$K8S_VERSION"; }
is_cached() { # is_cached <arch> <name>
	local stamp=$ROOT/$1/stamp
	((force == 0)) && [[ -x $ROOT/$1/bin/$2 && -f $stamp ]] &&
		grep -q "^$2 $(pin_of "$2") recipe=$RECIPE " "$stamp"
}
todo=()
for a in "${archs[@]}"; do
	missing=()
	for n in "${names[@]}"; do is_cached "$a" "$n" || missing+=("$n"); done
	if ((${#missing[@]} == 0)); then
		log "$a: cached (Kubernetes $K8S_VERSION, kwok $KWOK_VERSION) in $ROOT/$a/bin"
	else
		todo+=("$a")
	fi
done
if ((${#todo[@]} == 0)); then
	for a in "${archs[@]}"; do echo "$ROOT/$a/bin"; done
	exit 0
fi

# ---- toolchain -------------------------------------------------------------------------
command -v go >/dev/null || die "go not found on PATH" "install Go >= 1.26 (e.g. /usr/local/go/bin) and rerun"
# Never fetch another toolchain, never bypass the configured proxy, build from module zips.
export GOTOOLCHAIN=local GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"
GO_VERSION=$(go env GOVERSION)

mkdir -p "$ROOT/src" "$ROOT/logs"
exec 9>"$ROOT/.lock"
if ! flock -n 9; then
	log "another build of $K8S_VERSION is running; waiting for it (lock $ROOT/.lock)"
	flock 9
fi

go_at_least() { # go_at_least <required like 1.26.0>: compares against $GO_VERSION
	local have=${GO_VERSION#go} need=$1
	have=${have%%[a-z]*} # go1.27rc1 -> 1.27
	[[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" == "$need" ]]
}

# Downloads module@version via the proxy and prints its cached go.mod path.
download_gomod() {
	local json
	json=$(go mod download -json "$1@$2" 2>&1) || true
	if grep -q '"Error"' <<<"$json" || ! grep -q '"GoMod"' <<<"$json"; then
		printf '%s\n' "$json" | sed 's/^/    /' >&2
		die "cannot download $1@$2 from the Go module proxy ($(go env GOPROXY))" \
			"check network access to the proxy; if this version was withdrawn, pin another one at the top of $0"
	fi
	sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$json"
}

# Copies the go directive and any godebug lines from an upstream go.mod, so our wrapper
# module gets the same default GODEBUG settings as the upstream binaries.
go_and_godebug() {
	awk '/^go [0-9]/ {print; next}
	     /^godebug \(/ {inblk=1; print; next}
	     inblk {print; if ($0 ~ /^\)/) inblk=0; next}
	     /^godebug / {print}' "$1"
}

# Prepares a wrapper module <dir> whose go.mod is <gomod-content> and whose tools.go
# blank-imports <pkgs>; runs go mod tidy only when the generated go.mod changed.
prepare_module() { # prepare_module <label> <dir> <gomod-content> <pkg...>
	local label=$1 dir=$2 gomod=$3
	shift 3
	mkdir -p "$dir"
	if [[ -f $dir/go.mod.in && -f $dir/go.sum && -f $dir/.tidy-ok ]] &&
		[[ "$(cat "$dir/go.mod.in")" == "$gomod" ]]; then
		log "$label: module already resolved ($dir)"
		return 0
	fi
	rm -f "$dir/.tidy-ok" "$dir/go.sum"
	printf '%s\n' "$gomod" >"$dir/go.mod.in"
	cp "$dir/go.mod.in" "$dir/go.mod"
	{
		echo '//go:build tools'
		echo
		echo '// Package tools pins the main packages this wrapper module builds.'
		echo 'package tools'
		echo
		echo 'import ('
		for p in "$@"; do echo "	_ \"$p\""; done
		echo ')'
	} >"$dir/tools.go"
	log "$label: resolving and downloading dependencies (go mod tidy; first time fetches a few hundred MB)"
	run_logged "go mod tidy ($label)" "$ROOT/logs/tidy-$label.log" nice -n "$NICE" go -C "$dir" mod tidy ||
		die "go mod tidy failed for $label" "see $ROOT/logs/tidy-$label.log; check proxy access, then rerun (the module is regenerated)"
	touch "$dir/.tidy-ok"
}

# ---- Kubernetes wrapper module ---------------------------------------------------------
STAGING_VERSION=v0.${K8S_VERSION#v1.} # v1.37.1 -> v0.37.1
K8S_DIR=$ROOT/src/k8s
KWOK_DIR=$ROOT/src/kwok

need_k8s=0 need_kwok=0
for n in "${names[@]}"; do [[ $n == kwok ]] && need_kwok=1 || need_k8s=1; done

if ((need_k8s)); then
	log "k8s.io/kubernetes@$K8S_VERSION: fetching module metadata"
	k8s_gomod=$(download_gomod k8s.io/kubernetes "$K8S_VERSION")
	need_go=$(awk '/^go [0-9]/ {print $2; exit}' "$k8s_gomod")
	go_at_least "$need_go" || die "Kubernetes $K8S_VERSION needs Go >= $need_go, found $GO_VERSION" \
		"install a newer Go (GOTOOLCHAIN=local is set on purpose: no toolchain downloads)"
	# Every staging replace (k8s.io/x => ./staging/src/k8s.io/x) becomes a replace to the
	# published module at the matching v0 version; the upstream go.mod requires them at
	# v0.0.0, which does not exist. Non-local replaces are copied as they are.
	replaces=$(awk -v sv="$STAGING_VERSION" '
		function emit(l,   f) {
			n = split(l, f, /[[:space:]]+/)
			# fields: lhs [lhsver] => rhs [rhsver]
			for (i = 1; i <= n; i++) if (f[i] == "=>") arrow = i
			lhs = f[1]; rhs = f[arrow + 1]
			if (rhs ~ "^\\./staging/src/") { printf "\t%s => %s %s\n", lhs, lhs, sv }
			else if (rhs ~ /^\.\.?\//) { printf "LOCAL %s\n", l }
			else { printf "\t%s\n", l }
		}
		/^replace \(/ { blk = 1; next }
		blk && /^\)/ { blk = 0; next }
		blk && /=>/ { sub(/^[[:space:]]+/, ""); sub(/[[:space:]]*\/\/.*/, ""); emit($0); next }
		/^replace [^(]/ { l = $0; sub(/^replace[[:space:]]+/, "", l); sub(/[[:space:]]*\/\/.*/, "", l); emit(l) }
	' "$k8s_gomod")
	if grep -q '^LOCAL' <<<"$replaces"; then
		die "k8s.io/kubernetes $K8S_VERSION has a local replace this script cannot map: $(grep '^LOCAL' <<<"$replaces" | head -n1)" \
			"extend the replace mapping in $0"
	fi
	log "k8s.io/kubernetes@$K8S_VERSION: $(grep -c '=>' <<<"$replaces") staging replaces -> $STAGING_VERSION"
	k8s_gomod_content="module homecloud.local/kubernetes-build

$(go_and_godebug "$k8s_gomod")

require k8s.io/kubernetes $K8S_VERSION

replace (
$replaces
)"
	prepare_module k8s "$K8S_DIR" "$k8s_gomod_content" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy \
		k8s.io/kubernetes/cmd/kubectl
	# Upstream's go.mod lists its whole build list; ours should select the same versions.
	if [[ ! -f $K8S_DIR/.versions-checked ]]; then
		drift=$(LC_ALL=C join \
			<(awk '/^require \(/{b=1;next} b&&/^\)/{b=0} b&&NF>=2&&$2!="v0.0.0"{print $1, $2}' "$k8s_gomod" | LC_ALL=C sort) \
			<(go -C "$K8S_DIR" list -m -f '{{.Path}} {{.Version}}' all | LC_ALL=C sort) | awk '$2 != $3')
		if [[ -n $drift ]]; then
			log "warning: dependency versions differ from upstream $K8S_VERSION (module path, upstream, ours):"
			printf '%s\n' "$drift" | sed 's/^/    /' >&2
		else
			log "k8s: dependency versions match upstream go.mod"
		fi
		touch "$K8S_DIR/.versions-checked"
	fi
fi

if ((need_kwok)); then
	log "sigs.k8s.io/kwok@$KWOK_VERSION: fetching module metadata"
	kwok_gomod=$(download_gomod sigs.k8s.io/kwok "$KWOK_VERSION")
	need_go=$(awk '/^go [0-9]/ {print $2; exit}' "$kwok_gomod")
	go_at_least "$need_go" || die "kwok $KWOK_VERSION needs Go >= $need_go, found $GO_VERSION" "install a newer Go"
	kwok_gomod_content="module homecloud.local/kwok-build

$(go_and_godebug "$kwok_gomod")

require sigs.k8s.io/kwok $KWOK_VERSION"
	prepare_module kwok "$KWOK_DIR" "$kwok_gomod_content" sigs.k8s.io/kwok/cmd/kwok
fi

# ---- build -----------------------------------------------------------------------------
# Version stamping as upstream's hack/lib/version.sh does; buildDate is the release's
# publication time on the proxy, so rebuilding gives the same bytes.
k8s_minor=${K8S_VERSION#v1.}
k8s_minor=${k8s_minor%%.*}
build_date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.info" 2>/dev/null || true)
k8s_ldflags="-s -w"
for kv in gitVersion="$K8S_VERSION" gitMajor=1 gitMinor="$k8s_minor" gitTreeState=archive gitCommit= buildDate="${build_date:-1970-01-01T00:00:00Z}"; do
	k8s_ldflags+=" -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
done

verify() { # verify <arch> <name> <binary>
	local a=$1 n=$2 bin=$3 out want
	if [[ $a == "$(host_arch)" ]]; then
		want=$(pin_of "$n")
		[[ $n == kwok ]] && want=${want#v}
		if [[ $n == kubectl ]]; then out=$("$bin" version --client 2>&1) || true; else out=$("$bin" --version 2>&1) || true; fi
		[[ $out == *"$want"* ]] || { log "$n --version printed: $out"; return 1; }
		log "  verified: $(head -n1 <<<"$out")"
	else
		local machine
		if command -v file >/dev/null; then
			out=$(file -b "$bin")
		else # ELF e_machine at offset 18: 0x3e x86-64, 0xb7 aarch64
			machine=$(od -An -tx1 -j18 -N1 "$bin" | tr -d ' ')
			out=$([[ $machine == b7 ]] && echo "ELF ARM aarch64" || echo "ELF machine 0x$machine")
			[[ $machine == 3e ]] && out="ELF x86-64"
		fi
		case $a in
		arm64) [[ $out == *"ARM aarch64"* ]] ;;
		amd64) [[ $out == *"x86-64"* ]] ;;
		esac || { log "$n: file says: $out"; return 1; }
		log "  verified: ${out%%,*}, $(cut -d, -f2 <<<"$out" | sed 's/^ //')"
	fi
}

record_stamp() { # record_stamp <arch> <name> <binary>
	local stamp=$ROOT/$1/stamp sum
	sum=$(sha256sum "$3" | cut -d' ' -f1)
	{
		[[ -f $stamp ]] && grep -v "^$2 " "$stamp"
		echo "$2 $(pin_of "$2") recipe=$RECIPE $GO_VERSION sha256=$sum built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	} >"$stamp.tmp" || true
	mv "$stamp.tmp" "$stamp"
}

log "building for ${todo[*]} with $GO_VERSION, -p $JOBS, nice $NICE (a cold build takes ~10-20 min per arch on 2 cores; the first binary is the slowest)"
for a in "${todo[@]}"; do
	mkdir -p "$ROOT/$a/bin"
	arch_start=$SECONDS
	for n in "${names[@]}"; do
		if is_cached "$a" "$n"; then
			log "$a/$n: cached"
			continue
		fi
		out=$ROOT/$a/bin/$n
		if [[ $n == kwok ]]; then
			dir=$KWOK_DIR pkg=sigs.k8s.io/kwok/cmd/kwok tags= ldflags="-s -w"
		else
			dir=$K8S_DIR pkg=k8s.io/kubernetes/cmd/$n tags=$K8S_TAGS ldflags=$k8s_ldflags
		fi
		log "$a/$n: go build $pkg"
		partial=$out.tmp
		run_logged "building $a/$n" "$ROOT/logs/build-$a-$n.log" \
			env GOOS=linux GOARCH="$a" CGO_ENABLED=0 nice -n "$NICE" \
			go -C "$dir" build -p "$JOBS" -trimpath -tags "$tags" -ldflags "$ldflags" -o "$out.tmp" "$pkg" ||
			die "building $a/$n failed" "see $ROOT/logs/build-$a-$n.log; if the log ends abruptly the linker was probably killed for memory (needs ~2 GB free: check dmesg), rerun with HOMECLOUD_BUILD_JOBS=1"
		verify "$a" "$n" "$out.tmp" ||
			die "$a/$n was built but does not look right" "see above; delete $out.tmp and rerun with --force"
		mv -f "$out.tmp" "$out"
		partial=
		record_stamp "$a" "$n" "$out"
		log "$a/$n: $(du -h "$out" | cut -f1) -> $out"
	done
	log "$a: done in $((SECONDS - arch_start))s; $(du -sh "$ROOT/$a/bin" | cut -f1) in $ROOT/$a/bin"
done
for a in "${archs[@]}"; do echo "$ROOT/$a/bin"; done
