# Sourced by images/netboot/build.sh: what a program or a kernel module needs, found in
# unpacked Debian packages by reading ELF headers (readelf reads any architecture), so an
# arm64 image is assembled on an amd64 host without running a single arm64 program.

# elf_interpreter BIN → the loader's file name (ld-linux-x86-64.so.2, ld-linux-aarch64.so.1)
elf_interpreter() {
	readelf -l "$1" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p' | xargs -r basename
}

# elf_closure ROOT TRIPLET BIN... → every shared library the programs need, directly or
# through another library, as paths under ROOT (the packages unpacked there). Fails
# naming the library when one is missing.
elf_closure() {
	local root=$1 triplet=$2
	shift 2
	local -A seen=()
	local queue=("$@") f lib path dir
	while ((${#queue[@]})); do
		f=${queue[0]}
		queue=("${queue[@]:1}")
		# The loader is needed too, whether or not the program lists it.
		for lib in $(elf_interpreter "$f") $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			[[ -n ${seen[$lib]:-} ]] && continue
			path=''
			for dir in "$root/lib/$triplet" "$root/usr/lib/$triplet" "$root/lib" "$root/usr/lib"; do
				[[ -e $dir/$lib ]] && { path=$dir/$lib; break; }
			done
			[[ -n $path ]] || { echo "library $lib (needed by ${f##*/}) is in none of the unpacked packages" >&2; return 1; }
			seen[$lib]=$path
			queue+=("$path")
		done
	done
	for lib in "${!seen[@]}"; do echo "${seen[$lib]}"; done | sort
}

# module_load_order MODDIR NAME... → the .ko files to insmod, each after the modules it
# depends on (the `depends=` of its .modinfo). Names use _ or -, as modinfo does. A
# module the kernel has built in (modules.builtin) needs nothing; any other missing one
# is an error. Compressed modules (.ko.xz: Debian 13's kernels compress every module)
# are unpacked once into MODDIR/.plain/ and that .ko is printed: busybox's insmod and
# readelf both want the plain file.
module_load_order() {
	local moddir=$1
	shift
	local -A path=() done=() builtin=()
	local ko n
	while read -r ko; do
		n=${ko##*/}
		n=${n%.xz}
		n=${n%.ko}
		path[${n//-/_}]=$ko
	done < <(find "$moddir" -path "$moddir/.plain" -prune -o \( -name '*.ko' -o -name '*.ko.xz' \) -print)
	if [[ -f $moddir/modules.builtin ]]; then
		while read -r ko; do
			n=${ko##*/}
			n=${n%.ko}
			builtin[${n//-/_}]=1
		done <"$moddir/modules.builtin"
	fi
	_visit() {
		local m=${1//-/_} d f
		[[ -n ${done[$m]:-} || -n ${builtin[$m]:-} ]] && return 0
		[[ -n ${path[$m]:-} ]] || { echo "module $1 is not in $moddir (nor built in)" >&2; return 1; }
		done[$m]=1
		f=${path[$m]}
		if [[ $f == *.xz ]]; then
			mkdir -p "$moddir/.plain"
			n=${f##*/}
			xz -dc "$f" >"$moddir/.plain/${n%.xz}" || { echo "cannot unpack $f" >&2; return 1; }
			f=$moddir/.plain/${n%.xz}
		fi
		for d in $(readelf -p .modinfo "$f" | sed -n 's/.*depends=\(.*\)/\1/p' | tr ',' ' '); do
			_visit "$d" || return 1
		done
		echo "$f"
	}
	for n in "$@"; do _visit "$n" || return 1; done
}
