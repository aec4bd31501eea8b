import { readFile } from 'node:fs/promises'
import type { LabFile, LabVm } from '../../lab/lab-file.js'
import { nodeUrl } from '../../lab/launcher.js'
import { type AddVmOptions, labAddVm } from '../../lab/netboot/vm.js'

/** A test VM: generous waits (TCG on a loaded 2-core box), and it dies with its lab or after an hour. */
export function addTestVm(lab: LabFile, opts: AddVmOptions = {}): Promise<LabVm> {
  return labAddVm(lab.dir, { timeoutMs: 1_500_000, lifetimeSeconds: 3600, ...opts })
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
