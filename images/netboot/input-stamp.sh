# Sourced by images/netboot/build.sh: a cheap first look at the image's inputs. The full
# input hash asks apt for the candidate version of every package (one apt-cache run takes
# 0.3–1.8 s here: Debian's container images keep no package cache, so apt parses every
# list each time), and hashes node, etcd and the Kubernetes binaries (hundreds of MB). The
# fast key stands for the same inputs without reading them: each big file by its name, size,
# inode and modification and change times (the change time moves on every write and cannot
# be set back), apt's state by the same of its lists, sources, preferences and dpkg status,
# and the small files by content. Equal fast keys mean equal inputs, so the version the full
# hash gave last time still holds; any change, even a file written back byte for byte, makes
# a new key and the full hash runs again (it may then find the same version).

# file_stats FILE... → one line per file: name, size, inode, mtime and ctime in ns. Fails
# when a file is missing (the caller then takes the full path, which says what is missing).
file_stats() {
	(($# == 0)) || stat -L -c '%n %s %i %.9Y %.9Z' -- "$@"
}

# apt_state [APT-OPTION...] → file_stats of everything apt-cache reads for a candidate
# version under these options: the lists, the sources and preferences (all of Dir::Etc),
# dpkg's status and its foreign architectures, and $APT_CONFIG.
apt_state() {
	local LISTS='' ETC='' STATUS='' SOURCES='' PARTS='' PREFS='' files
	eval "$(apt-config "$@" shell LISTS Dir::State::lists/d ETC Dir::Etc/d STATUS Dir::State::status/f \
		SOURCES Dir::Etc::sourcelist/f PARTS Dir::Etc::sourceparts/d PREFS Dir::Etc::preferencesparts/d)"
	[[ -n $LISTS && -n $ETC && -n $STATUS ]] || return 1
	mapfile -t files < <({
		find "$LISTS" -maxdepth 1 -type f ! -name lock
		# Dir::Etc and whatever the options point elsewhere (Debian 13's own sources list).
		find "$ETC" ${PARTS:+"$PARTS"} ${PREFS:+"$PREFS"} -type f 2>/dev/null | LC_ALL=C sort -u
		[[ ! -f $SOURCES ]] || echo "$SOURCES"
		echo "$STATUS"
		[[ ! -f ${STATUS%/*}/arch ]] || echo "${STATUS%/*}/arch"
		[[ -z ${APT_CONFIG:-} ]] || echo "$APT_CONFIG"
	} | LC_ALL=C sort)
	printf 'apt %s\n' "$*"
	file_stats "${files[@]}"
}

# stamp_lookup DIR KEY → the version recorded for KEY, if any.
stamp_lookup() {
	[[ -f $1/$2 ]] && cat "$1/$2"
}

# stamp_record DIR KEY VERSION: written whole or not at all; keeps the newest 100 keys.
stamp_record() {
	local dir=$1 key=$2 version=$3 tmp
	mkdir -p "$dir"
	tmp=$(mktemp "$dir/.tmp.XXXXXX")
	echo "$version" >"$tmp" && mv -f "$tmp" "$dir/$key"
	ls -1t "$dir" | tail -n +101 | while read -r old; do rm -f "$dir/$old"; done
}

# elapsed START → seconds since START ($EPOCHREALTIME), two decimals.
elapsed() {
	local now=$EPOCHREALTIME
	awk -v a="$1" -v b="$now" 'BEGIN { printf "%.2f", b - a }'
}
