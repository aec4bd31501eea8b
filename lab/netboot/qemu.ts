// qemu command line for a lab VM that netboots (pure). TCG, not KVM: /dev/kvm may exist
// but fails for these guests (field notes). No reboot, network boot only, the serial
// console in a file (tests and the benchmark read the guest's stage lines there), and
// always under `timeout` so a hung guest cannot outlive its lab.

export interface QemuVmSpec {
  mac: string
  tap: string
  uefi: boolean
  consoleLog: string
  /** UEFI only: this VM's writable copy of OVMF_VARS. */
  ovmfVars?: string
  memoryMB?: number
  lifetimeSeconds?: number
}

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd'
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd'
/** Node in the initramfs needs ≥ 512 MB (field notes); the agent and etcd want room too. */
export const vmMemoryMBDefault = 1024
/** A VM running a real kubelet + containerd from RAM (the unpacked bundle alone is ~400 MB). */
export const vmKubeMemoryMBDefault = 2048
export const vmLifetimeSecondsDefault = 4 * 3600

export function qemuCommand(spec: QemuVmSpec): { cmd: string; args: string[] } {
  const nic = [
    'virtio-net-pci',
    'netdev=n0',
    `mac=${spec.mac}`,
    // Without the NIC's iPXE ROM, OVMF uses its own PXE → TFTP → ipxe.efi, as real UEFI machines do.
    ...(spec.uefi ? ['romfile='] : []),
  ].join(',')
  const args = [
    '--signal=KILL',
    `${spec.lifetimeSeconds ?? vmLifetimeSecondsDefault}s`,
    'qemu-system-x86_64',
    '-machine',
    'q35,accel=tcg',
    '-m',
    String(spec.memoryMB ?? vmMemoryMBDefault),
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    `file:${spec.consoleLog}`,
    '-no-reboot',
    '-boot',
    'order=n,reboot-timeout=0',
    '-netdev',
    `tap,id=n0,ifname=${spec.tap},script=no,downscript=no`,
    '-device',
    nic,
  ]
  if (spec.uefi) {
    if (!spec.ovmfVars) throw new Error('assertion: a UEFI VM needs its own OVMF_VARS copy')
    args.push(
      '-drive',
      `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
      '-drive',
      `if=pflash,format=raw,unit=1,file=${spec.ovmfVars}`,
    )
  }
  return { cmd: 'timeout', args }
}
