import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { after } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import { nodeUrl } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import { onCleanup } from './lab.js'
import type { JoinReply, RogueArgs, RogueLine, Scenario } from './rogue-peer.js'

// Runs test/support/rogue-peer.ts as its own process against one lab node and returns
// what it printed; every rogue is killed when the test file ends, even on failure.

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const roguePath = fileURLToPath(new URL('./rogue-peer.ts', import.meta.url))
const DHT_PORT = 49737

export interface RogueRun {
  code: number | null
  lines: RogueLine[]
  stderr: string
  report: string
  id: string
  replies: (JoinReply & { what: string; conn: string })[]
  done: RogueLine & { certs?: Record<string, string>; unasked?: JoinReply[] }
}

const rogues = new Set<ChildProcess>()
let registered = false
const killRogues = async () => {
  for (const c of rogues) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  rogues.clear()
}
let rogueSeq = 0

type Extra = Omit<Partial<RogueArgs>, 'clusterId' | 'targets' | 'dial' | 'host' | 'scenario'>

/** Runs one rogue to its end (or kills it after `runMsMax`) and returns what it printed, unchecked. */
export async function spawnRogue(
  lab: LabFile,
  victim: LabNode,
  scenario: Scenario,
  extra: Extra = {},
  runMsMax = 120_000,
): Promise<Pick<RogueRun, 'code' | 'lines' | 'stderr'>> {
  if (!registered) {
    registered = true
    onCleanup(killRogues)
    after(killRogues)
  }
  const args: RogueArgs = {
    clusterId: lab.clusterId,
    targets: lab.nodes.map((n) => ({ key: n.key, host: n.address, port: DHT_PORT })),
    dial: lab.nodes.indexOf(victim),
    // An address in this lab's own block (slots use .2 upwards), so parallel labs never collide.
    host: `127.0.${lab.index}.${200 + (rogueSeq++ % 50)}`,
    scenario,
    ...extra,
  }
  const child = spawn(process.execPath, ['--import', 'tsx', roguePath, JSON.stringify(args)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  rogues.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (b: Buffer) => {
    stdout += b
  })
  child.stderr!.on('data', (b: Buffer) => {
    stderr = (stderr + b).slice(-4000)
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), runMsMax)
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)))
  clearTimeout(timer)
  rogues.delete(child)
  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as RogueLine)
  return { code, lines, stderr }
}

/** spawnRogue, checked: it exited 0, said ready and done, and bootstrapped only from the lab. */
export async function runRogue(
  lab: LabFile,
  victim: LabNode,
  scenario: Scenario,
  extra: Extra = {},
  runMsMax = 120_000,
): Promise<RogueRun> {
  const { code, lines, stderr } = await spawnRogue(lab, victim, scenario, extra, runMsMax)
  const report = `${scenario} → ${victim.name}, rogue output:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${stderr}`
  assert.equal(code, 0, report)
  const ready = lines.find((l) => l.event === 'ready')
  const done = lines.find((l) => l.event === 'done')
  assert.ok(ready && done, report)
  const labDht = new Set(lab.nodes.map((n) => `${n.address}:${DHT_PORT}`))
  assert.ok(
    (ready.bootstrapNodes as string[]).every((b) => labDht.has(b)),
    'the rogue bootstraps only from the lab',
  )
  const replies = lines.filter((l) => l.event === 'reply') as unknown as RogueRun['replies']
  return { code, lines, stderr, report, id: String(ready.id), replies, done: done as RogueRun['done'] }
}

/** Sum of a counter on a node's /metrics over every label set matching `labels`. */
export async function counter(
  node: LabNode,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(new URL('/metrics', nodeUrl(node)), { signal: AbortSignal.timeout(5000) })
  const text = await res.text()
  let sum = 0
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\d+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]),
    )
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3])
  }
  return sum
}

/** Polls until the counter reached `want` (or `timeoutMs` passed), then returns its value. */
export async function counterReaches(
  node: LabNode,
  name: string,
  labels: Record<string, string>,
  want: number,
  timeoutMs = 15_000,
): Promise<number> {
  let last = 0
  await waitFor(
    async () => {
      last = await counter(node, name, labels)
      return last >= want ? true : `${name}${JSON.stringify(labels)} on ${node.name}: ${last} < ${want}`
    },
    { timeoutMs, intervalMs: 200 },
  ).catch(() => {})
  return last
}
