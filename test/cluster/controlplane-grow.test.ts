import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { labAdd } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import {
  CP_CONFIG,
  controlPlaneOf,
  etcdClientFor,
  healthyVoters,
  readPlacement,
} from '../support/controlplane.js'
import { startLab } from '../support/lab.js'

// Boards arrive one at a time: the founder alone is the single voter; a second board
// changes nothing (two voters tolerate no failure, so there are never two); the third
// makes three.

/** Milliseconds between the first log lines with these messages. */
async function logSpanMs(logPath: string, from: string, to: string): Promise<number | undefined> {
  const lines = (await readFile(logPath, 'utf8')).split('\n')
  const at = (msg: string) => {
    for (const l of lines) {
      try {
        const j = JSON.parse(l) as { msg?: string; time?: string }
        if (j.msg === msg && j.time) return Date.parse(j.time)
      } catch {}
    }
    return undefined
  }
  const a = at(from)
  const b = at(to)
  return a !== undefined && b !== undefined ? b - a : undefined
}

describe('control plane: growing one board at a time', { timeout: 240_000 }, () => {
  const closers: (() => void)[] = []
  after(() => {
    for (const c of closers) c()
  })

  it('1 board: 1 voter; 2 boards: still 1; 3 boards: 3', async (t) => {
    const started = performance.now()
    const lab = await startLab({ boards: 'pi5', agentConfig: CP_CONFIG })
    const founder = lab.nodes[0]!
    await waitFor(
      async () => {
        const cp = await controlPlaneOf(founder)
        return cp?.source === 'etcd' && cp.quorum && cp.voters.length === 1 && cp.coordinator === founder.name
          ? true
          : `founder: ${JSON.stringify(cp)}`
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    const firstQuorumMs = performance.now() - started
    const log = join(lab.dir, 'nodes', founder.name, 'agent.log')
    const agentToEtcd = await logSpanMs(
      log,
      'agent starting',
      'founded etcd: the first member of the cluster',
    )
    const agentToCoordinator = await logSpanMs(log, 'agent starting', 'this node is the coordinator')
    const client = await etcdClientFor(lab, [founder])
    closers.push(() => client.close())
    assert.equal(await healthyVoters(client, [founder]), true)

    const second = await labAdd(lab.dir, 'rock5b', { agentConfig: CP_CONFIG })
    // Long enough for several reconcile steps: nothing may change.
    const holdUntil = Date.now() + 8000
    while (Date.now() < holdUntil) {
      const list = await client.memberList()
      assert.equal(list.members.length, 1, 'no second member with two boards')
      const cp = await controlPlaneOf(second)
      assert.ok(!cp || cp.voters.length <= 1, `${second.name} sees ${cp?.voters}`)
      await new Promise((r) => setTimeout(r, 500))
    }
    const placement = await readPlacement(client)
    assert.equal(placement?.target.length, 1)
    assert.equal(placement?.next.kind, 'none')

    const grownFrom = performance.now()
    const third = await labAdd(lab.dir, 'pi4-ssd', { agentConfig: CP_CONFIG })
    await waitFor(() => healthyVoters(client, [founder, second, third]), {
      timeoutMs: 60_000,
      intervalMs: 250,
    })
    const grownMs = performance.now() - grownFrom
    await waitFor(
      async () => {
        const cp = await controlPlaneOf(third)
        return cp?.source === 'etcd' && cp.voters.length === 3 ? true : `${third.name}: ${JSON.stringify(cp)}`
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    )
    t.diagnostic(
      `lab up → founder's etcd quorum and coordinator (status API): ${firstQuorumMs.toFixed(0)} ms`,
    )
    t.diagnostic(
      `founder agent start → etcd founded: ${agentToEtcd} ms; → coordinator: ${agentToCoordinator} ms`,
    )
    t.diagnostic(`third board added → 3 healthy voters: ${grownMs.toFixed(0)} ms`)
  })
})
