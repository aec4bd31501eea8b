// Lab networks on the host: a bridge per lab, a namespace + veth per node. Everything
// is found again by name, so teardown works after a crash as well as after a clean run.

import { systemClock } from '../../agent/core/clock.js'
import { HomecloudError } from '../../agent/core/errors.js'
import type { Logger } from '../../agent/core/log.js'
import type { IpRunner, IpRunnerSync } from './ip.js'
import { execaIpRunner, readHostState, readHostStateSync, runAll, runAllSync, runIp } from './ip.js'
import type { LabBridgeNames, LabNodeNames } from './names.js'
import { assertLabIndex, assertNodeIndex, labBridgeNames, labNames, parseLabName } from './names.js'
import {
  createPlan,
  destroyPlan,
  labIndexesPresent,
  linkStatePlan,
  nodePlan,
  removeNodePlan,
} from './plan.js'

const labClock = systemClock()

export interface LabNetworkInit {
  labIndex: number
  /** Nodes 1..nodes are created; more can be added later with addNode. */
  nodes: number
  logger?: Logger
  /** Injected for tests; defaults to running `ip` with execa. */
  run?: IpRunner
}

export interface LabNetwork extends LabBridgeNames {
  nodes: LabNodeNames[]
}

export interface LabNetworkOptions {
  logger?: Logger
  run?: IpRunner
}

/**
 * Creates the bridge and nodes 1..nodes. Refuses (NETNS_FAILED) if anything named for
 * this lab index already exists, so it never adopts or clobbers a stranger's leftovers;
 * on a failure half-way it removes what it created.
 */
export async function createLabNetwork(init: LabNetworkInit): Promise<LabNetwork> {
  const { labIndex, nodes } = init
  const run = init.run ?? execaIpRunner
  assertLabIndex(labIndex)
  if (nodes !== 0) assertNodeIndex(nodes)
  const existing = await readHostState(run)
  const leftovers = destroyPlan(labIndex, existing)
  if (leftovers.length > 0) {
    throw new HomecloudError(
      'NETNS_FAILED',
      `lab network ${labIndex} already exists (${leftovers.map((c) => c.args.at(-1)).join(', ')})`,
      `destroy it first (destroyLabNetwork(${labIndex})) or sweep stale lab networks`,
    )
  }
  const started = labClock.monoMs()
  try {
    await runAll(createPlan(labIndex, nodes), run)
  } catch (err) {
    await destroyLabNetwork(labIndex, { run }).catch(() => {})
    throw err
  }
  init.logger?.info({ labIndex, nodes, ms: Math.round(labClock.monoMs() - started) }, 'lab network created')
  return {
    ...labBridgeNames(labIndex),
    nodes: Array.from({ length: nodes }, (_, k) => labNames(labIndex, k + 1)),
  }
}

/** Adds one node to an existing lab network; on failure removes that node's pieces. */
export async function addNode(
  labIndex: number,
  node: number,
  opts: LabNetworkOptions = {},
): Promise<LabNodeNames> {
  const run = opts.run ?? execaIpRunner
  const names = labNames(labIndex, node)
  const steps = nodePlan(labIndex, node)
  for (const [k, step] of steps.entries()) {
    try {
      await runIp(step, run)
    } catch (err) {
      // The first step creates the namespace; if that failed, nothing here is ours to undo.
      if (k > 0) await runAll(removeNodePlan(labIndex, node), run).catch(() => {})
      throw err
    }
  }
  opts.logger?.info({ labIndex, node, netns: names.netns }, 'lab node added')
  return names
}

/** Removes one node; idempotent. */
export async function removeNode(
  labIndex: number,
  node: number,
  opts: LabNetworkOptions = {},
): Promise<void> {
  await runAll(removeNodePlan(labIndex, node), opts.run ?? execaIpRunner)
  opts.logger?.info({ labIndex, node }, 'lab node removed')
}

/**
 * Removes every veth, namespace and bridge named for labIndex; idempotent, and items
 * that vanish meanwhile are not errors. Returns the names it removed.
 */
export async function destroyLabNetwork(labIndex: number, opts: LabNetworkOptions = {}): Promise<string[]> {
  assertLabIndex(labIndex)
  const run = opts.run ?? execaIpRunner
  const plan = destroyPlan(labIndex, await readHostState(run))
  await runAll(plan, run)
  const removed = plan.map((c) => c.args.at(-1) ?? '')
  if (removed.length > 0) opts.logger?.info({ labIndex, removed }, 'lab network destroyed')
  return removed
}

/**
 * destroyLabNetwork for process 'exit' handlers and signal paths, where the event loop
 * no longer runs. Same order and tolerance; blocks for ~100–300 ms.
 */
export function destroyLabNetworkSync(labIndex: number, opts: { run?: IpRunnerSync } = {}): string[] {
  assertLabIndex(labIndex)
  const plan = destroyPlan(labIndex, readHostStateSync(opts.run))
  runAllSync(plan, opts.run)
  return plan.map((c) => c.args.at(-1) ?? '')
}

export interface LabNamespace {
  name: string
  labIndex: number
  node: number
}

/** Namespaces on this host that a lab network created. */
export async function listLabNamespaces(opts: LabNetworkOptions = {}): Promise<LabNamespace[]> {
  const state = await readHostState(opts.run ?? execaIpRunner)
  const found: LabNamespace[] = []
  for (const name of state.namespaces) {
    const p = parseLabName(name)
    if (p?.kind === 'netns' && p.node !== undefined) found.push({ name, labIndex: p.labIndex, node: p.node })
  }
  return found.sort((a, b) => a.labIndex - b.labIndex || a.node - b.node)
}

/**
 * Destroys every lab network present on the host for which shouldSweep(labIndex) is
 * true (e.g. "its lab directory is gone"). Returns the lab indexes destroyed.
 */
export async function sweepStaleLabNetworks(
  shouldSweep: (labIndex: number) => boolean | Promise<boolean>,
  opts: LabNetworkOptions = {},
): Promise<number[]> {
  const run = opts.run ?? execaIpRunner
  const swept: number[] = []
  for (const labIndex of labIndexesPresent(await readHostState(run))) {
    if (!(await shouldSweep(labIndex))) continue
    await destroyLabNetwork(labIndex, { ...opts, run })
    swept.push(labIndex)
  }
  return swept
}

/** Partition a node: its host-side veth goes down, so its eth0 loses carrier. */
export async function cutLink(labIndex: number, node: number, opts: LabNetworkOptions = {}): Promise<void> {
  await runAll(linkStatePlan(labIndex, node, false), opts.run ?? execaIpRunner)
  opts.logger?.info({ labIndex, node }, 'lab link cut')
}

export async function restoreLink(
  labIndex: number,
  node: number,
  opts: LabNetworkOptions = {},
): Promise<void> {
  await runAll(linkStatePlan(labIndex, node, true), opts.run ?? execaIpRunner)
  opts.logger?.info({ labIndex, node }, 'lab link restored')
}
