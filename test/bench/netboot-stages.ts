// Netboot stage timings shared by the amd64 and arm64 benchmarks (not a benchmark module:
// no `.bench.ts`). Stage times come from the serving node's clock (its dnsmasq lines, its
// HTTP routes, the guest's reports to it); agent start → joined from the guest's own
// agent log on its serial console.
import { readFile } from 'node:fs/promises'
import type { LabFile, LabVm } from '../../lab/lab-file.js'
import { nodeUrl } from '../../lab/launcher.js'
import type { Row } from './types.js'

export const JOIN_GOAL_MS = 2000

interface Machine {
  mac: string
  servedMs: number | null
  stages: Record<string, number>
}

/** The serving node's record of a machine's boot. */
export async function servingTimeline(lab: LabFile, mac: string): Promise<Machine | null> {
  for (const n of lab.nodes) {
    const res = await fetch(new URL('/netboot/machines', nodeUrl(n))).catch(() => null)
    const m = ((await res?.json()) as { machines: Machine[] } | undefined)?.machines.find(
      (x) => x.mac === mac,
    )
    if (m?.servedMs) return m
  }
  return null
}

/** agent starting → joined, from the guest agent's JSON lines on its serial console. */
export async function guestJoinMs(vm: LabVm): Promise<number | null> {
  let start: number | null = null
  for (const line of (await readFile(vm.consoleLog, 'utf8').catch(() => '')).split('\n')) {
    const i = line.indexOf('{"level"')
    if (i < 0) continue
    try {
      const rec = JSON.parse(line.slice(i)) as { time?: string; msg?: string }
      if (!rec.time) continue
      if (rec.msg === 'agent starting') start = Date.parse(rec.time)
      if (rec.msg === 'joined: certificate received' && start !== null) return Date.parse(rec.time) - start
    } catch {}
  }
  return null
}

/**
 * One row per stage of a VM's boot, power-on (qemu started) to alive on every node.
 * `loader` is the stage that served the boot script: iPXE (x86) or GRUB (arm64).
 */
export async function stageRows(
  label: string,
  loader: { stage: 'ipxe' | 'grub'; what: string },
  lab: LabFile,
  vm: LabVm,
  aliveMs: number,
): Promise<Row[]> {
  const s = (await servingTimeline(lab, vm.mac))?.stages ?? {}
  const t0 = vm.startedAtMs
  const span = (from: number | undefined, to: number | undefined) =>
    from !== undefined && to !== undefined ? to - from : null
  const via = loader.stage === 'ipxe' ? 'iPXE' : 'GRUB'
  return [
    { metric: `${label}: power-on → member alive on every node`, value: aliveMs - t0, unit: 'ms' },
    {
      metric: `${label}: firmware + DHCP (power-on → first PXE answer)`,
      value: span(t0, s.dhcp),
      unit: 'ms',
    },
    {
      metric: `${label}: ${loader.what} (PXE answer → boot script served)`,
      value: span(s.dhcp, s[loader.stage]),
      unit: 'ms',
    },
    {
      metric: `${label}: download kernel + initramfs (${via})`,
      value: span(s[loader.stage], s['initrd-download']),
      unit: 'ms',
    },
    {
      metric: `${label}: kernel (boot, modules, DHCP lease)`,
      value: span(s['initrd-download'], s.kernel),
      unit: 'ms',
    },
    { metric: `${label}: download + verify the image`, value: span(s.kernel, s.verified), unit: 'ms' },
    {
      metric: `${label}: unpack agent, fetch join material`,
      value: span(s.verified, s['agent-start']),
      unit: 'ms',
    },
    {
      metric: `${label}: agent start → member alive on every node`,
      value: span(s['agent-start'], aliveMs),
      unit: 'ms',
      goal: { max: JOIN_GOAL_MS },
    },
    {
      metric: `${label}: agent start → joined (guest log)`,
      value: await guestJoinMs(vm),
      unit: 'ms',
      goal: { max: JOIN_GOAL_MS },
      note: 'TCG: node runs ~10× slower than on hardware',
    },
  ]
}
