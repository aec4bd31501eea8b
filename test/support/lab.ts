import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import type { ClusterView } from '../../agent/api/cluster-schema.js'
import type { LabFile } from '../../lab/lab-file.js'
import { type LabUpOptions, labDown, labUp, nodeUrl } from '../../lab/launcher.js'
import { fetchClusterView, waitFor } from '../../lab/wait.js'

/**
 * Test lab directories start with this prefix; scripts/test.sh sets HOMECLOUD_TEST_RUN so
 * its reaper removes what this run left behind and nothing of another run.
 */
export function testLabPrefix(): string {
  return `hc-test-lab-${process.env.HOMECLOUD_TEST_RUN ?? 'adhoc'}-`
}

const cleanups = new Set<() => Promise<void>>()
let handlersInstalled = false

/** Runs every registered cleanup; also on SIGINT/SIGTERM so an interrupted run leaves nothing behind. */
export function onCleanup(fn: () => Promise<void>): void {
  cleanups.add(fn)
  if (!handlersInstalled) {
    handlersInstalled = true
    const run = async (signal: NodeJS.Signals) => {
      await runCleanups()
      process.kill(process.pid, signal)
    }
    process.once('SIGINT', run)
    process.once('SIGTERM', run)
  }
}

export async function runCleanups(): Promise<void> {
  for (const fn of [...cleanups].reverse()) {
    cleanups.delete(fn)
    await fn().catch(() => {})
  }
}

/** Test timings: the defaults (SWIM's own health score slows a starved agent's probing). */
export const TEST_MESH = {}
/**
 * Long enough for the mesh to have declared a silent member dead everywhere, however
 * loaded the machine: probe + suspicion at their stretched worst, and the news spread.
 */
export const TEST_DEAD_WAIT_MS = 12_000

/** A lab in a fresh temp dir, torn down (processes, namespaces, files) after the test file. */
export async function startLab(opts: Omit<LabUpOptions, 'dir'> & { keep?: boolean } = {}): Promise<LabFile> {
  const dir = await mkdtemp(join(tmpdir(), testLabPrefix()))
  const cleanup = async () => {
    await labDown(dir).catch(() => {})
    if (!process.env.HOMECLOUD_KEEP_LABS) await rm(dir, { recursive: true, force: true })
  }
  onCleanup(cleanup)
  after(runCleanups)
  return labUp({ agentConfig: { mesh: TEST_MESH }, ...opts, dir })
}

export async function view(node: { address: string }): Promise<ClusterView> {
  const v = await fetchClusterView(nodeUrl(node))
  if (!v) throw new Error(`${node.address} does not answer`)
  return v
}

/** Polls until `cond` holds on the view of every given node. */
export async function eventually(
  nodes: { address: string; name: string }[],
  cond: (v: ClusterView) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    async () => {
      const bad: string[] = []
      for (const n of nodes) {
        const v = await fetchClusterView(nodeUrl(n))
        if (!v || !cond(v)) bad.push(n.name)
      }
      return bad.length === 0 ? true : `${what}: not yet on ${bad.join(', ')}`
    },
    { timeoutMs, intervalMs: 200 },
  )
}

export function stateOf(v: ClusterView, name: string): string | undefined {
  return v.members.find((m) => m.name === name)?.state
}

/** A node's count of dropped peer messages for one reason, from its /metrics. */
export async function dropped(node: { address: string }, reason: string): Promise<number> {
  const res = await fetch(new URL('/metrics', nodeUrl(node)))
  const text = await res.text()
  const m = new RegExp(`^homecloud_mesh_messages_dropped_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(
    text,
  )
  return m ? Number(m[1]) : 0
}
