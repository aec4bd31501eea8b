#!/usr/bin/env bash
# Installs everything homecloud needs on a fresh Debian machine, idempotently
# (HOMECLOUD_SETUP_BROWSER=1 adds Chromium for the browser tests):
# Debian packages (only the missing ones), npm packages, and the compiled agent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_debs=()
command -v ip >/dev/null || need_debs+=(iproute2)
command -v openssl >/dev/null || need_debs+=(openssl)
# Debian's Chromium drives the status-page tests in test/browser (through playwright-core);
# the lab alone does not need it (scripts/test.sh asks for it).
# certutil puts the test cluster's CA into the browser's own trust store (NSS), as a user would.
if [ "${HOMECLOUD_SETUP_BROWSER:-0}" = 1 ]; then
  [ -x /usr/bin/chromium ] || need_debs+=(chromium)
  command -v certutil >/dev/null || need_debs+=(libnss3-tools)
fi
# Netboot (agent/netboot, images/netboot, lab add --vm): dnsmasq without its service,
# iPXE for TFTP, qemu (TCG) with the NIC ROMs and OVMF for the VMs, and the image build's tools.
command -v dnsmasq >/dev/null || need_debs+=(dnsmasq-base)
[ -f /usr/lib/ipxe/undionly.kpxe ] || need_debs+=(ipxe)
command -v qemu-system-x86_64 >/dev/null || need_debs+=(qemu-system-x86)
[ -f /usr/lib/ipxe/qemu/efi-virtio.rom ] || need_debs+=(ipxe-qemu)
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || need_debs+=(ovmf)
command -v cpio >/dev/null || need_debs+=(cpio)
command -v zstd >/dev/null || need_debs+=(zstd)
command -v strip >/dev/null || need_debs+=(binutils)
# Kubernetes nodes with a real kubelet (kube.kubelet: kubelet; `lab add --kubelet`, its
# test): containerd with runc, the CNI reference plugins, and busybox for the test's image.
command -v containerd >/dev/null || need_debs+=(containerd)
command -v runc >/dev/null || need_debs+=(runc)
[ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || need_debs+=(containernetworking-plugins)
[ -x /bin/busybox ] || need_debs+=(busybox-static)
# The pod network and kube-proxy on kubelet nodes (masquerade, Service rules), and the
# capture check of its test (no pod payload in clear on the wire).
command -v iptables >/dev/null || need_debs+=(iptables)
command -v tcpdump >/dev/null || need_debs+=(tcpdump)
# Disk boot slots (agent/slots): GRUB's own envblk reader/writer and script checker, and
# sfdisk and mkfs.vfat check the grubenv, grub.cfg, partition table and slot files the unit
# tests generate.
command -v grub-editenv >/dev/null || need_debs+=(grub-common)
command -v sfdisk >/dev/null || need_debs+=(fdisk)
command -v mkfs.vfat >/dev/null || need_debs+=(dosfstools)
# `homecloud image disk` and its qemu test: files into FAT partitions of an image file (no loop devices).
command -v mcopy >/dev/null || need_debs+=(mtools)
# `homecloud install` under a real systemd (test/cluster/install.test.ts): systemd-nspawn
# boots a Debian root with systemd as PID 1 that mmdebstrap builds (images/systemd-root/build.sh).
command -v systemd-nspawn >/dev/null || need_debs+=(systemd-container)
command -v mmdebstrap >/dev/null || need_debs+=(mmdebstrap)
# The arm64 netboot image (images/netboot/build.sh --arch arm64) and its tests: Debian's
# arm64 packages (a foreign architecture), the Raspberry Pi firmware (raspi-firmware, in
# the non-free-firmware component), an aarch64 strip, grub-mkimage (grub-common, above),
# and qemu-system-aarch64 with its UEFI firmware for the arm64 VM.
apt_sources_changed=0
if [ "$(id -u)" -eq 0 ] && [ "$(dpkg --print-architecture)" = amd64 ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "» adding Debian's arm64 packages (dpkg --add-architecture arm64)"
    dpkg --add-architecture arm64
    apt_sources_changed=1
  fi
  src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ] && grep -q '^Components: main$' "$src"; then
    echo "» adding the non-free-firmware component to $src (Raspberry Pi firmware)"
    sed -i 's/^Components: main$/Components: main non-free-firmware/' "$src"
    apt_sources_changed=1
  fi
fi
command -v aarch64-linux-gnu-strip >/dev/null || need_debs+=(binutils-aarch64-linux-gnu)
command -v qemu-system-aarch64 >/dev/null || need_debs+=(qemu-system-arm)
[ -f /usr/share/AAVMF/AAVMF_CODE.fd ] || need_debs+=(qemu-efi-aarch64)
if [ "$apt_sources_changed" = 1 ] && [ "${#need_debs[@]}" -eq 0 ]; then apt-get update -qq; fi
if [ "${#need_debs[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${need_debs[*]} — run as root, or: sudo apt-get install ${need_debs[*]}" >&2
    exit 1
  fi
  echo "» installing Debian packages: ${need_debs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >/dev/null
  # The containerd package enables its own systemd unit; the agent runs its own containerd.
  if [ -d /run/systemd/system ]; then systemctl disable --now containerd 2>/dev/null || true; fi
fi

# The pinned Node.js LTS (scripts/node.sh), fetched once from the npm registry with the
# machine's own npm (any Node.js with npm will do to fetch it; Debian's is enough).
if ! command -v npm >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "no npm to fetch Node.js with — run as root, or: sudo apt-get install npm" >&2; exit 1; }
  echo "» installing Debian's npm (only to fetch the pinned Node.js)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
. scripts/node.sh
homecloud_use_node
echo "» Node.js $(node -v) ($(command -v node))"

# Skipped when the lock file has not changed since the last install. `npm install
# --no-save` installs the locked versions; `npm ci` would be stricter, but npm 11
# drops other platforms' optional packages (biome's) from the lock and then refuses it.
stamp=node_modules/.homecloud-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "» installing npm packages"
  npm install --no-save --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

echo "» building"
npx tsc -p tsconfig.json

# etcd, etcdctl and etcdutl at the pinned 3.6 release, built from source through the Go
# module proxy (about a minute the first time on 2 cores, cached after): every node runs it.
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
echo "» etcd (cached after the first build)"
bash images/etcd/build.sh >/dev/null

# The pinned upstream Kubernetes components for this machine's architecture, built from
# source through the Go module proxy: ~11 minutes the first time on 2 cores, cached after.
if [ "${HOMECLOUD_SETUP_KUBERNETES:-1}" = 1 ]; then
  command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
  echo "» Kubernetes components (cached after the first build)"
  bash images/kubernetes/build.sh >/dev/null
  # The pod sandbox image, compiled from the same Kubernetes source (seconds; cached).
  bash images/pause/build.sh >/dev/null
  # The cluster's own add-ons (CoreDNS, local-path, MetalLB, busybox for volume helpers)
  # and the pod network's wireguard-go, from source: ~8 minutes the first time, cached.
  echo "» add-on images and wireguard-go (cached after the first build)"
  bash images/addons/build.sh >/dev/null
fi
