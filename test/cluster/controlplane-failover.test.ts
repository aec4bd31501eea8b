import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { LabNode } from '../../lab/lab-file.js'
import { labPlug, labUnplug } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, controlPlaneOf, healthyVoters, removedAndWiped } from '../support/controlplane.js'
import { view } from '../support/lab.js'
import { startLabWriteLoad, startVoterLab } from '../support/voter-lab.js'
import { missingOn } from '../support/write-load.js'

// Five ARM boards, three of them voters, under a continuous write load through etcd.
// A voter is unplugged: after the failover grace the coordinator removes it and
// promotes a spare; then the coordinator itself is unplugged and the next one does
// the same. No acknowledged write is lost, on any member. Finally the first victim
// comes back: it finds out it was removed, stops its etcd and wipes its data.

const GRACE_MS = CP_CONFIG.controlPlane.failoverGraceMs
const prefix = '/test/acked/'

describe('control plane: replacing dead voters under load', { timeout: 300_000 }, () => {
  it('a dead voter, then the dead coordinator, are replaced after the grace; no acknowledged write is lost', async (t) => {
    const first = await startVoterLab(t, {
      boards: 'pi5,rock5b,opi5,pi4-ssd,pi5',
      agentConfig: CP_CONFIG,
      votersTimeoutMs: 90_000,
    })
    const { lab, nodes, client, threeVoters } = first
    let voters = first.voters
    const unplugged = new Set<LabNode>()
    const observer = () => nodes.find((n) => !unplugged.has(n))!
    // Writers start on different boards, so some writes are in flight on each victim.
    const load = await startLabWriteLoad(
      t,
      lab,
      [0, 1, 2].map((i) => [...nodes.slice(i), ...nodes.slice(0, i)]),
      prefix,
      50,
    )

    /** Unplug `victim`, wait for three healthy voters again; ms from the end of the grace. */
    const replace = async (victim: LabNode, what: string) => {
      const ackedBefore = load.acked.length
      const unpluggedAt = Date.now()
      await labUnplug(lab.dir, victim.name)
      unplugged.add(victim)
      const after = await threeVoters(GRACE_MS + 60_000, unplugged)
      const doneAt = Date.now()
      const seen = (await view(observer())).members.find((m) => m.name === victim.name)
      assert.equal(seen?.state, 'dead')
      const graceEnd = seen!.stateSinceMs + GRACE_MS
      assert.ok(doneAt >= graceEnd, 'nothing is replaced before the grace ends')
      t.diagnostic(
        `${what} ${victim.name}: dead after ${seen!.stateSinceMs - unpluggedAt} ms; 3 healthy voters ${
          doneAt - graceEnd
        } ms after the grace (${GRACE_MS} ms); voters now ${after.map((v) => v.name).join(', ')}`,
      )
      await waitFor(async () => (load.acked.length >= ackedBefore + 50 ? true : 'writes stalled'), {
        timeoutMs: 20_000,
      })
      return after
    }

    // 1. A voter that is neither the coordinator nor etcd's leader.
    const cp = await controlPlaneOf(observer())
    assert.ok(cp?.coordinator, 'a coordinator')
    const plain = voters.find((v) => v.name !== cp.coordinator && v.name !== cp.leader)!
    const firstVictim = plain
    voters = await replace(plain, 'voter')

    // 2. The coordinator itself (the etcd leader too, when it is).
    let coordinator: LabNode | undefined
    await waitFor(
      async () => {
        const now = await controlPlaneOf(observer())
        coordinator = nodes.find((n) => n.name === now?.coordinator)
        return coordinator && voters.includes(coordinator) ? true : 'no coordinator yet'
      },
      { timeoutMs: 20_000 },
    )
    const wasLeader = (await controlPlaneOf(observer()))?.leader === coordinator!.name
    voters = await replace(coordinator!, wasLeader ? 'coordinator (and etcd leader)' : 'coordinator')
    await waitFor(
      async () => {
        const now = await controlPlaneOf(observer())
        return now?.coordinator && voters.some((v) => v.name === now.coordinator)
          ? true
          : 'no new coordinator'
      },
      { timeoutMs: 20_000 },
    )

    await load.stop()
    const acked = new Set(load.acked)
    for (const v of voters) {
      await waitFor(
        async () => {
          const missing = await missingOn(client, v.address, prefix, acked, { serializable: true })
          return missing === 0 ? true : `${v.name} misses ${missing} acknowledged keys`
        },
        { timeoutMs: 15_000 },
      )
    }
    t.diagnostic(
      `acknowledged writes: ${acked.size}, all on each of the 3 voters; not acknowledged: ${load.failed()}`,
    )

    // 3. The first victim comes back: removed while away, it stops its etcd and wipes it.
    await labPlug(lab.dir, firstVictim.name)
    unplugged.delete(firstVictim)
    await waitFor(() => removedAndWiped(firstVictim), { timeoutMs: 40_000 })
    assert.equal(await healthyVoters(client, voters), true, 'the returning board disturbed nothing')
  })
})
