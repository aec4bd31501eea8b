import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'

// What this machine's kernel lets a kubelet and containerd do, read once at start. The
// decisions are pure (below); reading /proc and /sys is the only effect.

export interface HostRuntimeFacts {
  /** The unified hierarchy alone (cgroup v2) at /sys/fs/cgroup. */
  cgroupV2: boolean
  /**
   * Whether this process may lower an oom_score_adj (CAP_SYS_RESOURCE). Without it, runc
   * fails every pod sandbox (the kubelet asks for -998), so containerd must be told to
   * keep scores at or above its own.
   */
  canLowerOomScore: boolean
  /** /etc/resolv.conf exists (a netbooted initramfs may have none). */
  resolvConf: string | null
  /**
   * `/` is the initial rootfs (a netbooted machine runs from its initramfs): pivot_root
   * is impossible there, so runc must start containers without it.
   */
  rootIsInitramfs: boolean
}

const CAP_SYS_RESOURCE = 24n

/** CapEff from /proc/self/status → whether CAP_SYS_RESOURCE is effective. */
export function hasCapSysResource(statusText: string): boolean {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(statusText)
  if (!m) return false
  return ((BigInt(`0x${m[1]}`) >> CAP_SYS_RESOURCE) & 1n) === 1n
}

/** The filesystem type of the mount at `/` (the last one: later mounts hide earlier ones). */
export function rootFsType(mountinfo: string): string | null {
  let type: string | null = null
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ')
    const sep = f.indexOf('-')
    if (f[4] === '/' && sep > 0) type = f[sep + 1] ?? null
  }
  return type
}

export async function readHostRuntimeFacts(): Promise<HostRuntimeFacts> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '')
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '')
  return {
    rootIsInitramfs: rootFsType(mountinfo) === 'rootfs',
    cgroupV2: existsSync('/sys/fs/cgroup/cgroup.controllers'),
    canLowerOomScore: hasCapSysResource(status),
    resolvConf: existsSync('/etc/resolv.conf') ? '/etc/resolv.conf' : null,
  }
}
