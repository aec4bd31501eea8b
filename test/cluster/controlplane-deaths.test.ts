import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { LabNode } from '../../lab/lab-file.js'
import { labPlug, labUnplug } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, controlPlaneOf, healthyVoters, nodeIdOf, readPlacement } from '../support/controlplane.js'
import { startVoterLab } from '../support/voter-lab.js'

// The time of death outlives the coordinator. Four ARM boards, three voters: a voter is
// unplugged, and while it is dead (within the grace) both surviving voters are
// restarted, so no mesh left in the cluster ever saw it die and the coordinator is a
// new one. The time of death recorded in etcd (the placement record) is carried over
// unchanged, and the dead voter is replaced counting from it, not from the restart.

const GRACE_MS = 25_000
const config = { ...CP_CONFIG, controlPlane: { ...CP_CONFIG.controlPlane, failoverGraceMs: GRACE_MS } }

describe('control plane: the time of death is kept in etcd', { timeout: 300_000 }, () => {
  it('a new coordinator whose mesh never saw the voter die keeps its recorded time of death', async (t) => {
    const { lab, nodes, byId, client, voters } = await startVoterLab(t, {
      boards: 'pi5,rock5b,opi5,pi4-ssd',
      agentConfig: config,
      votersTimeoutMs: 90_000,
    })
    const cp = await controlPlaneOf(nodes[0]!)
    const victim = voters.find((v) => v.name !== cp?.coordinator)!
    const victimId = await nodeIdOf(victim)
    const survivors = voters.filter((v) => v !== victim)
    const spare = nodes.find((n) => !voters.includes(n))!

    await labUnplug(lab.dir, victim.name)
    let recorded = 0
    await waitFor(
      async () => {
        const p = await readPlacement(client).catch(() => undefined)
        recorded = p?.deadSince[victimId] ?? 0
        return recorded > 0 ? true : 'the death is not recorded yet'
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    )
    const firstCoordinator = (await readPlacement(client))!.coordinator
    // Part of the grace passes before the restart, so "from the record" and "from the restart" differ.
    await new Promise((r) => setTimeout(r, GRACE_MS / 2))

    // Within the grace, restart every surviving voter: fresh meshes that never saw it die.
    for (const s of survivors) await labUnplug(lab.dir, s.name)
    for (const s of survivors) await labPlug(lab.dir, s.name)
    const restartedAt = Date.now()
    assert.ok(restartedAt < recorded + GRACE_MS, 'restarted within the grace')

    // A new term writes its record; it carries the recorded time unchanged.
    const seen = new Set<number>()
    let newTerm = false
    await waitFor(
      async () => {
        const p = await readPlacement(client).catch(() => undefined)
        if (!p) return 'no placement readable'
        const d = p.deadSince[victimId]
        if (d !== undefined) seen.add(d)
        newTerm ||= p.atMs > restartedAt
        const list = await client.memberList().catch(() => undefined)
        const now = list?.members.filter((m) => !m.isLearner).map((m) => byId.get(m.name)) ?? []
        if (now.includes(victim) || now.length !== 3 || !now.includes(spare)) return `voters: ${now.length}`
        return healthyVoters(client, now as LabNode[])
      },
      { timeoutMs: GRACE_MS + 120_000, intervalMs: 200 },
    )
    const replacedAt = Date.now()
    assert.ok(newTerm, 'a coordinator after the restart wrote the placement')
    assert.deepEqual([...seen], [recorded], 'the time of death never moved')
    const p = await readPlacement(client)
    t.diagnostic(
      `death recorded by ${byId.get(firstCoordinator)?.name}; restart ${restartedAt - recorded} ms after it; ` +
        `replaced ${replacedAt - recorded} ms after the recorded death (grace ${GRACE_MS} ms), ` +
        `${replacedAt - restartedAt} ms after the restart; coordinator now ${byId.get(p!.coordinator)?.name}`,
    )
    assert.ok(replacedAt >= recorded + GRACE_MS, 'not before the grace ended')
  })
})
