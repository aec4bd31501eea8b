#!/usr/bin/env bash
# Packs a directory into an OCI image archive (oci-layout, index.json, blobs) that
# containerd imports with `ctr images import`: one gzip layer, reproducible (sorted
# entries, zero mtimes, root owner), named by the `io.containerd.image.name` annotation.
# No registry and no image builder are involved; the agent imports these at start.
#
#   images/oci/pack.sh --name REF --arch amd64|arm64 --rootfs DIR --out FILE.tar -- ENTRYPOINT...
set -euo pipefail

die() {
	printf 'oci-pack: ERROR: %s\n' "$1" >&2
	[[ -n ${2:-} ]] && printf 'oci-pack:   next: %s\n' "$2" >&2
	exit 1
}

name='' arch='' rootfs='' out=''
while (($#)); do
	case $1 in
	--name) name=$2; shift 2 ;;
	--arch) arch=$2; shift 2 ;;
	--rootfs) rootfs=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--) shift; break ;;
	*) die "unknown argument '$1'" "see the usage at the top of $0" ;;
	esac
done
[[ -n $name && -n $rootfs && -n $out ]] || die "--name, --rootfs and --out are required" "see the usage at the top of $0"
[[ $arch == amd64 || $arch == arm64 ]] || die "--arch must be amd64 or arm64 (got '$arch')"
[[ -d $rootfs ]] || die "no rootfs directory at $rootfs"
(($#)) || die "no entrypoint after --" "e.g. -- /pause"
[[ $name == *:* ]] || die "image name '$name' has no tag" "e.g. registry.k8s.io/pause:3.10.2"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
blobs=$work/blobs/sha256
mkdir -p "$blobs"
# add_blob FILE → prints "digest size", moves FILE into blobs/
add_blob() {
	local d s
	d=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(stat -c %s "$1")
	mv "$1" "$blobs/$d"
	echo "$d $s"
}
json_string() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -9 <"$work/layer.tar" >"$work/layer.tar.gz"
rm "$work/layer.tar"
read -r layer_digest layer_size < <(add_blob "$work/layer.tar.gz")

entry=''
for a in "$@"; do entry+="${entry:+,}$(json_string "$a")"; done
printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":[%s],"Env":["PATH=/usr/local/bin:/usr/bin:/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"homecloud images/oci/pack.sh"}]}' \
	"$arch" "$entry" "$diff_id" >"$work/config.json"
read -r config_digest config_size < <(add_blob "$work/config.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
	"$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
read -r manifest_digest manifest_size < <(add_blob "$work/manifest.json")

printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":%s,"org.opencontainers.image.ref.name":%s}}]}' \
	"$manifest_digest" "$manifest_size" "$arch" "$(json_string "$name")" "$(json_string "${name##*:}")" >"$work/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"

mkdir -p "$(dirname "$out")"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" -cf "$out.partial" oci-layout index.json blobs
mv "$out.partial" "$out"
