// qemu command line for a lab VM that netboots (pure). TCG, not KVM: /dev/kvm may exist
// but fails for these guests (field notes), and an arm64 guest on an x86 host has no other
// way. No reboot, network boot only, the serial console in a file (tests and the
// benchmark read the guest's stage lines there), and always under `timeout` so a hung
// guest cannot outlive its lab. A VM asked to (`reboots`) may reboot: the firmware then
// netboots again, as a real machine does.

export interface QemuVmSpec {
  mac: string
  tap: string
  /** amd64 (default): q35 with BIOS or OVMF; arm64: `virt` with AAVMF, always UEFI. */
  arch?: 'amd64' | 'arm64'
  uefi: boolean
  consoleLog: string
  /** UEFI only: this VM's writable copy of the firmware's variable store. */
  ovmfVars?: string
  memoryMB?: number
  lifetimeSeconds?: number
  /**
   * Let the guest reboot (a netbooted machine upgraded by rebooting: the firmware netboots
   * again). Default false: a reboot ends qemu, so a test sees a panic or a refusal at once.
   */
  reboots?: boolean
  /** Local disks: raw image files on virtio (vda, vdb… in this order); the firmware still boots from the network. */
  disks?: readonly { file: string; readonly?: boolean }[]
}

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd'
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd'
/** Debian's qemu-efi-aarch64: EDK2 for qemu's `virt` machine. */
export const AAVMF_CODE = '/usr/share/AAVMF/AAVMF_CODE.fd'
export const AAVMF_VARS = '/usr/share/AAVMF/AAVMF_VARS.fd'
/** Node in the initramfs needs ≥ 512 MB (field notes); the agent and etcd want room too. */
export const vmMemoryMBDefault = 1024
/** A VM running a real kubelet + containerd from RAM (the unpacked bundle alone is ~400 MB). */
export const vmKubeMemoryMBDefault = 2048
export const vmLifetimeSecondsDefault = 4 * 3600

/** The firmware variable store a UEFI VM starts from (each VM writes its own copy). */
export function firmwareVarsTemplate(arch: 'amd64' | 'arm64'): string {
  return arch === 'arm64' ? AAVMF_VARS : OVMF_VARS
}

export function qemuCommand(spec: QemuVmSpec): { cmd: string; args: string[] } {
  const nic = [
    'virtio-net-pci',
    'netdev=n0',
    `mac=${spec.mac}`,
    // Without the NIC's iPXE ROM, OVMF uses its own PXE → TFTP → ipxe.efi, as real UEFI
    // machines do (an arm64 machine: → GRUB; the x86 ROM would be ignored there anyway).
    ...(spec.uefi || spec.arch === 'arm64' ? ['romfile='] : []),
  ].join(',')
  const arm64 = spec.arch === 'arm64'
  const machine = arm64
    ? // cortex-a72 is the Raspberry Pi 4's core; `max` would make TCG emulate pointer authentication.
      ['qemu-system-aarch64', '-machine', 'virt,accel=tcg', '-cpu', 'cortex-a72', '-smp', '2']
    : ['qemu-system-x86_64', '-machine', 'q35,accel=tcg']
  const args = [
    '--signal=KILL',
    `${spec.lifetimeSeconds ?? vmLifetimeSecondsDefault}s`,
    ...machine,
    '-m',
    String(spec.memoryMB ?? vmMemoryMBDefault),
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    `file:${spec.consoleLog}`,
    ...(spec.reboots ? [] : ['-no-reboot']),
    // x86 firmware: network only, and no retry loop (AAVMF tries the NIC by itself: no disks).
    ...(arm64 ? [] : ['-boot', 'order=n,reboot-timeout=0']),
    '-netdev',
    `tap,id=n0,ifname=${spec.tap},script=no,downscript=no`,
    '-device',
    nic,
  ]
  for (const d of spec.disks ?? []) {
    // qemu's option syntax splits on commas.
    if (d.file.includes(',')) throw new Error(`assertion: a VM disk path without commas, not ${d.file}`)
    args.push('-drive', `file=${d.file},format=raw,if=virtio${d.readonly ? ',readonly=on' : ''}`)
  }
  // The kernel's random pool fills at once (virtio-rng is in the arm64 initramfs).
  if (arm64) args.push('-device', 'virtio-rng-pci')
  if (spec.uefi || arm64) {
    if (!spec.ovmfVars) throw new Error('assertion: a UEFI VM needs its own copy of the firmware variables')
    args.push(
      '-drive',
      `if=pflash,format=raw,unit=0,readonly=on,file=${arm64 ? AAVMF_CODE : OVMF_CODE}`,
      '-drive',
      `if=pflash,format=raw,unit=1,file=${spec.ovmfVars}`,
    )
  }
  return { cmd: 'timeout', args }
}
