// The mesh at a size the full mesh never reached on this machine: 50 agent processes on
// loopback (SWIM membership, at most 16 links each), and a stopped-not-dead agent among
// 20 that must not make anyone else look dead. Real processes, real hyperswarm.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { readLabFile } from '../../lab/lab-file.js'
import { labDown, labUnplug } from '../../lab/launcher.js'
import { eventually, onCleanup, runCleanups, startLab, stateOf, testLabPrefix, view } from '../support/lab.js'

const run = promisify(execFile)
after(runCleanups)

/** 50 agents on 2 cores start one by one and then converge: minutes, not seconds. */
const LAB_UP_MS_MAX = 600_000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('mesh at scale', () => {
  it('50 agents: `lab up --nodes 50 --no-kube --detach` returns with every node seeing all 50; an unplugged one is noticed by all', async () => {
    const dir = await mkdtemp(join(tmpdir(), testLabPrefix()))
    onCleanup(async () => {
      await labDown(dir).catch(() => {})
      await rm(dir, { recursive: true, force: true })
    })
    const { stdout } = await run(
      process.execPath,
      ['bin/homecloud.js', 'lab', 'up', '--nodes', '50', '--no-kube', '--detach', '--dir', dir],
      { timeout: LAB_UP_MS_MAX, maxBuffer: 16 * 1024 * 1024 },
    )
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as { nodes: { name: string }[] }
    assert.equal(summary.nodes.length, 50)
    const lab = await readLabFile(dir)
    for (const n of lab.nodes) {
      const v = await view(n)
      assert.equal(v.members.filter((m) => m.state === 'alive').length, 50, `${n.name} sees all 50 alive`)
    }
    const victim = lab.nodes[37]!
    await labUnplug(dir, victim.name)
    const others = lab.nodes.filter((n) => n !== victim)
    await eventually(
      others,
      (v) => stateOf(v, victim.name) === 'dead',
      `${victim.name} dead everywhere`,
      120_000,
    )
    for (const n of others) {
      const v = await view(n)
      assert.equal(v.members.filter((m) => m.state === 'alive').length, 49, `${n.name}: the other 49 alive`)
    }
  })

  it('20 agents: one stopped for 5 s (SIGSTOP) makes no other node look dead', async () => {
    const lab = await startLab({ nodes: 20, kube: false, timeoutMs: 300_000 })
    const stopped = lab.nodes[11]!
    assert.ok(stopped.pid, 'the agent has a pid')
    const since = Date.now()
    process.kill(stopped.pid, 'SIGSTOP')
    try {
      await sleep(5000)
    } finally {
      process.kill(stopped.pid, 'SIGCONT')
    }
    // Everyone, the stopped one included, sees all 20 alive again…
    await eventually(
      lab.nodes,
      (v) => v.members.filter((m) => m.state === 'alive').length === 20,
      'all 20 alive again',
      120_000,
    )
    // …and nobody but the stopped agent was ever declared dead (by anyone, the stopped one
    // included: waking up, it must not accuse the peers it could not hear).
    for (const n of lab.nodes) {
      const v = await view(n)
      const wrong = v.events.filter((e) => e.kind === 'dead' && e.atMs >= since && e.name !== stopped.name)
      assert.deepEqual(
        wrong.map((e) => `${e.name} at +${e.atMs - since} ms`),
        [],
        `${n.name} declared others dead`,
      )
    }
  })
})
