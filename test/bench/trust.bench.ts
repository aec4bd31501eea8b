// Founding and joining: `init` time, join time (agent start → holds its certificate,
// from each joiner's own log), and certificates signed per second on one core.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { systemClock } from '../../agent/core/clock.js'
import { createCa } from '../../agent/pki/ca.js'
import { createCsr } from '../../agent/pki/csr.js'
import { signCertificate } from '../../agent/pki/sign.js'
import { foundCluster } from '../../agent/trust/founding.js'
import { benchLab } from './lab.js'
import { max, median, runsNote } from './stats.js'
import type { BenchContext, Row } from './types.js'

export const name = 'trust'

const JOIN_GOAL_MS = 2000

/** Milliseconds from "agent starting" to "joined: certificate received" in one agent log. */
async function joinMs(logPath: string): Promise<number | null> {
  let start: number | null = null
  for (const line of (await readFile(logPath, 'utf8')).split('\n')) {
    if (!line.startsWith('{')) continue
    const rec = JSON.parse(line) as { time?: string; msg?: string }
    if (!rec.time) continue
    if (rec.msg === 'agent starting' && start === null) start = Date.parse(rec.time)
    if (rec.msg === 'joined: certificate received' && start !== null) return Date.parse(rec.time) - start
  }
  return null
}

export async function run(ctx: BenchContext): Promise<Row[]> {
  const clock = systemClock()
  const rows: Row[] = []

  const initMs: number[] = []
  for (let i = 0; i < (ctx.quick ? 1 : 3); i++) {
    const dir = await mkdtemp(join(tmpdir(), 'hc-bench-init-'))
    const t0 = performance.now()
    await foundCluster({
      stateDir: dir,
      clusterName: 'bench',
      nodeName: 'n1',
      host: '127.0.0.1',
      joinPolicy: 'auto',
      uiPassword: 'x',
      clock,
    })
    initMs.push(performance.now() - t0)
    await rm(dir, { recursive: true, force: true })
  }
  rows.push({
    metric: 'init (CA, certificates, secret, password hash), median',
    value: median(initMs),
    unit: 'ms',
    note: runsNote(initMs, 'ms'),
  })

  const ca = createCa({ clusterId: '0123456789abcdef', clusterName: 'bench', clock })
  const csrs = Array.from({ length: ctx.quick ? 10 : 40 }, (_, i) => ({
    id: `${i}`.padStart(20, '0'),
    ...createCsr({ commonName: `${i}`.padStart(20, '0') }),
  }))
  const t0 = performance.now()
  for (const c of csrs) {
    signCertificate({
      profile: 'agent',
      identity: { nodeId: c.id, nodeName: `n${c.id}` },
      csrPem: c.csrPem,
      ca,
      clock,
    })
  }
  const perSecond = csrs.length / ((performance.now() - t0) / 1000)
  rows.push({
    metric: 'certificates signed per second (one core)',
    value: Math.round(perSecond),
    unit: 'certs/s',
    note: 'CSR parse + policy check + RSA-2048 signature with the 3072-bit CA key',
  })

  const lab = await benchLab(ctx, 'join', { nodes: 5 })
  try {
    const times = await Promise.all(
      lab.lab.nodes.slice(1).map((n) => joinMs(join(lab.dir, 'nodes', n.name, 'agent.log'))),
    )
    rows.push({
      metric: 'join: agent start → holds its certificate, median',
      value: median(times),
      unit: 'ms',
      goal: { max: JOIN_GOAL_MS },
      note: runsNote(times, 'ms'),
    })
    rows.push({
      metric: 'join: agent start → holds its certificate, max',
      value: max(times),
      unit: 'ms',
      goal: { max: JOIN_GOAL_MS },
    })
  } finally {
    await lab.close()
  }
  return rows
}
