import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { type ClusterView, ClusterViewSchema } from '../../agent/api/cluster-schema.js'
import { readLocalState } from '../../agent/controlplane/local-state.js'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import { labCut, labHeal, nodeUrl } from '../../lab/launcher.js'
import { execInNetns, labNames } from '../../lab/netns/index.js'
import { waitFor } from '../../lab/wait.js'
import {
  CP_CONFIG,
  controlPlaneOf,
  healthyVoters,
  nodeIdOf,
  readPlacement,
  removedAndWiped,
} from '../support/controlplane.js'
import { startLabWriteLoad, startVoterLab } from '../support/voter-lab.js'
import { missingOn } from '../support/write-load.js'

// A network partition in namespaces: five ARM boards, three of them etcd voters. The
// coordinator's link is cut, so it is alone (a minority of one voter) while the other
// two voters and the spares stay together. The minority must do nothing: it cannot
// reach quorum, its lease runs out, and it never removes a member nor adds a learner.
// The majority elects a new coordinator, waits out the failover grace and replaces the
// cut-off voter. When the link comes back, the old voter finds it was removed, stops
// etcd and wipes its data: one cluster, the majority's, with every acknowledged write.

const root = process.getuid?.() === 0
const GRACE_MS = CP_CONFIG.controlPlane.failoverGraceMs
const prefix = '/test/partition/'
/** Coordinator actions, as its log names them (control/coordinator/reconciler.ts `event`). */
const COORDINATOR_ACTIONS = ['etcd-removed', 'etcd-learner-added', 'etcd-voter']

/** The status API of a node the host cannot reach: asked from inside its own namespace. */
async function viewFromInside(lab: LabFile, node: LabNode): Promise<ClusterView | null> {
  const url = new URL('/api/v1/cluster', nodeUrl(node)).href
  const script = `fetch(${JSON.stringify(url)},{signal:AbortSignal.timeout(3000)}).then(r=>r.text()).then(t=>process.stdout.write(t),()=>process.exit(1))`
  const r = await execInNetns(labNames(lab.index, node.slot).netns, process.execPath, ['-e', script], {
    reject: false,
    timeout: 15_000,
  })
  if (r.exitCode !== 0) return null
  try {
    return ClusterViewSchema.parse(JSON.parse(String(r.stdout)))
  } catch {
    return null
  }
}

/** Coordinator actions a node logged at or after `sinceMs` (pino lines carry `time`). */
async function actionsLogged(lab: LabFile, node: LabNode, sinceMs: number): Promise<string[]> {
  const text = await readFile(join(lab.dir, 'nodes', node.name, 'agent.log'), 'utf8')
  const out: string[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      const l = JSON.parse(line) as { time?: number; event?: string; msg?: string }
      if ((l.time ?? 0) >= sinceMs && l.event && COORDINATOR_ACTIONS.includes(l.event))
        out.push(`${l.event}: ${l.msg}`)
    } catch {}
  }
  return out
}

describe('control plane: a network partition', {
  skip: !root && 'needs root for ip netns',
  timeout: 360_000,
}, () => {
  it('the minority never changes membership; the majority replaces the cut-off voter; healing wipes it', async (t) => {
    const { lab, nodes, byId, client, voters } = await startVoterLab(t, {
      boards: 'pi5,rock5b,opi5,pi4-ssd,pi5',
      netns: true,
      agentConfig: CP_CONFIG,
      votersTimeoutMs: 120_000,
    })
    let minority: LabNode | undefined
    await waitFor(
      async () => {
        const cp = await controlPlaneOf(nodes[0]!)
        minority = voters.find((v) => v.name === cp?.coordinator)
        return minority ? true : 'no coordinator among the voters yet'
      },
      { timeoutMs: 30_000 },
    )
    const cutOff = minority!
    const majority = nodes.filter((n) => n !== cutOff)
    const majorityVoters = voters.filter((v) => v !== cutOff)
    const cutOffId = await nodeIdOf(cutOff)

    // Writers through the majority's members only (the host cannot reach the minority).
    const load = await startLabWriteLoad(
      t,
      lab,
      majorityVoters.map((v) => [v]),
      prefix,
      30,
    )

    const cutAt = Date.now()
    await labCut(lab.dir, cutOff.name)
    t.diagnostic(
      `cut ${cutOff.name} (voter, coordinator) off; majority: ${majority.map((n) => n.name).join(', ')}`,
    )

    // The minority soon knows it has no quorum and stops coordinating.
    await waitFor(
      async () => {
        const v = await viewFromInside(lab, cutOff)
        if (!v) return `${cutOff.name} does not answer from inside its namespace`
        const self = v.members.find((m) => m.id === v.self)
        if (v.controlPlane.quorum) return `${cutOff.name} still reports quorum`
        if (self?.roles.includes('coordinator')) return `${cutOff.name} still announces itself coordinator`
        return true
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )

    // The majority: a new coordinator, and after the grace three healthy voters without the cut-off one.
    let after: LabNode[] = []
    await waitFor(
      async () => {
        const list = await client.memberList().catch(() => undefined)
        if (!list) return 'no member list'
        after = list.members.filter((m) => !m.isLearner).map((m) => byId.get(m.name)!)
        if (after.includes(cutOff)) return `${cutOff.name} is still a voter`
        return after.length === 3 ? healthyVoters(client, after) : `${after.length} voters`
      },
      { timeoutMs: GRACE_MS + 90_000, intervalMs: 300 },
    )
    const replacedAt = Date.now()
    const placement = await readPlacement(client)
    assert.ok(placement, 'the majority wrote a placement record')
    assert.notEqual(placement.coordinator, cutOffId, 'the placement record is the majority coordinator’s')
    assert.ok(
      majority.some((n) => byId.get(placement.coordinator) === n),
      'written by a node of the majority',
    )
    assert.ok(replacedAt - cutAt >= GRACE_MS, 'nothing was replaced before the grace ended')
    t.diagnostic(
      `3 healthy voters again ${replacedAt - cutAt} ms after the cut (grace ${GRACE_MS} ms): ${after
        .map((n) => n.name)
        .join(', ')}; coordinator ${byId.get(placement.coordinator)?.name}`,
    )

    // Still cut off, the minority has acted on nothing and still believes it is a member.
    const minorityView = await viewFromInside(lab, cutOff)
    assert.ok(minorityView, `${cutOff.name} answers from inside`)
    assert.equal(minorityView.controlPlane.quorum, false)
    assert.deepEqual(await actionsLogged(lab, cutOff, cutAt), [], 'the minority took no coordinator action')
    assert.equal((await readLocalState(cutOff.stateDir))?.status, 'member', 'it has not wiped itself blindly')

    await waitFor(async () => (load.acked.length >= 100 ? true : 'writes stalled'), { timeoutMs: 30_000 })

    // Heal: the old voter learns it was removed and wipes itself; nothing else changes.
    const healAt = Date.now()
    await labHeal(lab.dir, cutOff.name)
    await waitFor(() => removedAndWiped(cutOff), { timeoutMs: 60_000, intervalMs: 500 })
    t.diagnostic(`${cutOff.name} wiped itself ${Date.now() - healAt} ms after the link came back`)

    await load.stop()
    // One cluster: the majority's voters, one coordinator seen alike by every node.
    assert.equal(await healthyVoters(client, after), true, 'the healed node disturbed nothing')
    const list = await client.memberList()
    assert.ok(!list.members.some((m) => m.name === cutOffId), 'the cut-off voter stays removed')
    await waitFor(
      async () => {
        const cps = await Promise.all(nodes.map((n) => controlPlaneOf(n)))
        const coords = new Set(cps.map((c) => c?.coordinator ?? 'none'))
        const quorum = cps.every((c) => c?.quorum === true)
        return coords.size === 1 && !coords.has('none') && quorum
          ? true
          : `coordinators seen: ${[...coords].join(', ')}, quorum everywhere: ${quorum}`
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
    assert.deepEqual(await actionsLogged(lab, cutOff, cutAt), [], 'and none after healing either')

    const acked = new Set(load.acked)
    for (const v of after) {
      const missing = await missingOn(client, v.address, prefix, acked)
      assert.equal(missing, 0, `${v.name} misses ${missing} acknowledged writes`)
    }
    t.diagnostic(`acknowledged writes: ${acked.size}, all on each voter; not acknowledged: ${load.failed()}`)
  })
})
