// A lab node's link at a chosen speed, like a machine on a home switch: a token bucket
// (tc tbf) on both ends of its veth — the host end limits what reaches the node, the
// node's eth0 what it sends. The benchmark uses it so that N nodes on one machine each
// have a link of their own instead of sharing loopback's unlimited one.
import { execa } from 'execa'
import { HomecloudError } from '../../agent/core/errors.js'
import { labNames, nodeIfname } from './names.js'

/** Queueing a tbf allows before it drops (a small switch buffer). */
const queueLatencyMs = 50

/** The `tc` argument lists that give node `node` of lab `labIndex` a link of `mbit` each way. */
export function shapePlan(labIndex: number, node: number, mbit: number): string[][] {
  if (!(mbit > 0 && mbit <= 100_000))
    throw new HomecloudError('LAB_INVALID', `link rate ${mbit} Mbit/s`, 'pass a rate in 0–100000 Mbit/s')
  const n = labNames(labIndex, node)
  // The bucket holds 10 ms of traffic (at least 64 KiB, so one offloaded segment fits).
  const burstBytes = Math.max(64 * 1024, Math.round((mbit * 1e6) / 8 / 100))
  const tbf = [
    'root',
    'tbf',
    'rate',
    `${mbit}mbit`,
    'burst',
    String(burstBytes),
    'latency',
    `${queueLatencyMs}ms`,
  ]
  return [
    ['qdisc', 'replace', 'dev', n.hostVeth, ...tbf],
    ['-n', n.netns, 'qdisc', 'replace', 'dev', nodeIfname, ...tbf],
  ]
}

/** Back to an unlimited link: the `tc` argument lists that remove both buckets. */
export function unshapePlan(labIndex: number, node: number): string[][] {
  const n = labNames(labIndex, node)
  return [
    ['qdisc', 'del', 'dev', n.hostVeth, 'root'],
    ['-n', n.netns, 'qdisc', 'del', 'dev', nodeIfname, 'root'],
  ]
}

export async function shapeLink(labIndex: number, node: number, mbit: number): Promise<void> {
  await runTc(shapePlan(labIndex, node, mbit))
}

export async function unshapeLink(labIndex: number, node: number): Promise<void> {
  await runTc(unshapePlan(labIndex, node))
}

async function runTc(plan: string[][]): Promise<void> {
  for (const args of plan) {
    const r = await execa('tc', args, { reject: false, timeout: 10_000, stdin: 'ignore' })
    if (r.exitCode !== 0)
      throw new HomecloudError(
        'NETNS_FAILED',
        `\`tc ${args.join(' ')}\` failed (exit ${r.exitCode}): ${String(r.stderr).trim()}`,
        'tc needs root and the sch_tbf module (iproute2); the node must exist',
      )
  }
}
