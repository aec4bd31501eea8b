# Sourced by images/netboot/build.sh: an apt configuration of the build's own for Debian 13
# (trixie): the arm64 kernel from trixie-backports (main) and raspi-firmware from trixie
# (non-free-firmware). The machine's apt sources stay as they are — nothing here can
# upgrade its packages: apt-cache and apt-get download read only DIR's lists, fetched
# and checked against Debian's archive keys like any apt source.

# debian13_apt_ready DIR ARCH → fills DEBIAN13_APT (apt options) and makes sure DIR's
# package lists are there and less than a day old (apt-get update otherwise).
debian13_apt_ready() {
	local dir=$1 arch=$2 mirror=${HOMECLOUD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
	local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/preferences.d"
	cat >"$dir/sources.list.new" <<-EOF
		deb [arch=$arch signed-by=$keyring] $mirror trixie-backports main
		deb [arch=$arch signed-by=$keyring] $mirror trixie non-free-firmware
	EOF
	# A changed mirror or architecture makes the old lists stale.
	if ! cmp -s "$dir/sources.list.new" "$dir/sources.list" 2>/dev/null; then
		rm -rf "$dir/lists" && mkdir -p "$dir/lists/partial"
		mv "$dir/sources.list.new" "$dir/sources.list"
	else
		rm -f "$dir/sources.list.new"
	fi
	DEBIAN13_APT=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o "Dir::Cache::pkgcache=$dir/cache/pkgcache.bin"
		-o Dir::Etc::preferences=/dev/null -o "Dir::Etc::preferencesparts=$dir/preferences.d")
	local lists='*trixie-backports*Packages*'
	_debian13_have() { [[ -n $(find "$dir/lists" -maxdepth 1 -name "$lists" 2>/dev/null) ]]; }
	# Refreshed at most once a day ($dir/updated: apt leaves unchanged lists' times alone).
	if ! _debian13_have || [[ -z $(find "$dir/updated" -mmin -1440 2>/dev/null) ]]; then
		log "reading Debian 13's package lists (trixie-backports main, trixie non-free-firmware; $arch)"
		# One build at a time updates the lists (concurrent builds share the cache). apt
		# keeps the lists it had when the mirror cannot be reached (and says so): lists
		# from an earlier day still name packages the mirror had.
		flock "$dir/.update.lock" apt-get "${DEBIAN13_APT[@]}" update -q >&2 || true
		touch "$dir/updated"
	fi
	_debian13_have
}
