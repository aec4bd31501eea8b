import { readFile, stat } from 'node:fs/promises'
import type { LabFile, LabVm } from '../../lab/lab-file.js'
import { nodeUrl } from '../../lab/launcher.js'
import { type AddVmOptions, labAddVm, labVmPowerOff } from '../../lab/netboot/vm.js'
import { fetchClusterView } from '../../lab/wait.js'

/** A test VM: generous waits (TCG on a loaded 2-core box), and it dies with its lab or after an hour. */
export function addTestVm(lab: LabFile, opts: AddVmOptions = {}): Promise<LabVm> {
  return labAddVm(lab.dir, { timeoutMs: 1_500_000, lifetimeSeconds: 3600, ...opts })
}

/**
 * Powers off VMs whose checks are done (by name: a power-cycled VM's current qemu). Each idle
 * TCG VM with its agent keeps ~0.45 core busy here, which slows every later boot of the lab.
 */
export async function powerOff(lab: LabFile, ...vms: LabVm[]): Promise<void> {
  for (const vm of vms) await labVmPowerOff(lab.dir, vm.name)
}

export interface MachineInfo {
  mac: string
  servedMs: number | null
  stages: Record<string, number>
  failure: string | null
}

export async function machines(node: { address: string }): Promise<MachineInfo[]> {
  const res = await fetch(new URL('/netboot/machines', nodeUrl(node)))
  return ((await res.json()) as { machines: MachineInfo[] }).machines
}

/** Names of the nodes that served this MAC's boot script. */
export async function servedBy(lab: LabFile, mac: string, nodes = lab.nodes): Promise<string[]> {
  const out: string[] = []
  for (const n of nodes) {
    const m = (await machines(n).catch(() => [])).find((x) => x.mac === mac)
    if (m?.servedMs) out.push(n.name)
  }
  return out
}

export async function consoleText(vm: LabVm): Promise<string> {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the serial console carries ANSI escapes
  return (await readFile(vm.consoleLog, 'utf8').catch(() => '')).replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '')
}

/**
 * Waits until the VM's agent is alive on every node, for as long as the boot makes
 * progress: the serial console grows or a node records a new stage for it. A boot that
 * shows neither for `stallMs` fails at once with the console's tail and the stages, so a
 * slow machine (TCG arm64 on 2 busy cores) waits longer, a stuck one does not.
 */
export async function waitVmAliveWhileProgressing(
  lab: LabFile,
  vm: LabVm,
  opts: { stallMs: number; pollMs?: number; log?: (line: string) => void },
): Promise<void> {
  let last = ''
  let lastChangeMs = Date.now()
  for (;;) {
    const missing: string[] = []
    for (const n of lab.nodes) {
      const m = (await fetchClusterView(nodeUrl(n)))?.members.find((x) => x.name === vm.name)
      if (m?.state !== 'alive') missing.push(n.name)
    }
    if (missing.length === 0) return
    const consoleBytes = (await stat(vm.consoleLog).catch(() => null))?.size ?? 0
    const stages = (
      await Promise.all(
        lab.nodes.map(async (n) => {
          const m = (await machines(n).catch(() => [])).find((x) => x.mac === vm.mac)
          return m ? `${n.name}:${Object.keys(m.stages).join('+')}` : ''
        }),
      )
    ).join(' ')
    const now = `${consoleBytes} ${stages}`
    if (now !== last) {
      last = now
      lastChangeMs = Date.now()
      opts.log?.(
        `${vm.name}: console ${consoleBytes} B; stages ${stages.trim() || 'none'}; not alive on ${missing.join(', ')}`,
      )
    } else if (Date.now() - lastChangeMs > opts.stallMs) {
      const tail = (await consoleText(vm)).split('\n').slice(-25).join('\n')
      throw new Error(
        `${vm.name} made no progress for ${opts.stallMs / 1000} s (stages: ${stages.trim() || 'none'}; not alive on ${missing.join(', ')}); console tail:\n${tail}`,
      )
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 2000))
  }
}
