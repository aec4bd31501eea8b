import assert from 'node:assert/strict'
import { access } from 'node:fs/promises'
import { after, describe, it } from 'node:test'
import { pkiPaths } from '../../agent/pki/store.js'
import { waitFor } from '../../lab/wait.js'
import {
  CP_CONFIG,
  controlPlaneOf,
  etcdClientFor,
  healthyVoters,
  nodeIdOf,
  readPlacement,
} from '../support/controlplane.js'
import { startLab, view } from '../support/lab.js'

// Four capable ARM boards, a Raspberry Pi 4 on an SD card and two x86 laptops: the
// agents pick three ARM boards for etcd by themselves. The x86 nodes, the SD card and
// the fourth ARM board (the spare) hold no vote, and /homecloud/placement says why.

describe('control plane: placement on a mixed lab', { timeout: 240_000 }, () => {
  const closers: (() => void)[] = []
  after(() => {
    for (const c of closers) c()
  })

  it('elects exactly three ARM voters; x86, the SD card and the spare are not voters', async (t) => {
    const started = performance.now()
    const lab = await startLab({ boards: 'pi5,rock5b,pi4-ssd,opi5,pi4,x86,x86', agentConfig: CP_CONFIG })
    const byName = (n: string) => lab.nodes.find((x) => x.name === n)!
    const arm = ['pi5-1', 'rock5b-2', 'pi4-ssd-3', 'opi5-4']
    const client = await etcdClientFor(lab, arm.map(byName))
    closers.push(() => client.close())

    let voters: string[] = []
    await waitFor(
      async () => {
        const cp = await controlPlaneOf(lab.nodes[0]!)
        if (cp?.source !== 'etcd') return 'no etcd view yet'
        voters = cp.voters
        if (cp.voters.length !== 3 || cp.learners.length > 0) return `voters: ${cp.voters.join(', ')}`
        return healthyVoters(
          client,
          cp.voters.map((v) => byName(v)),
        )
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    )
    const formedMs = performance.now() - started
    assert.ok(
      voters.every((v) => arm.includes(v)),
      `voters are ARM boards: ${voters.join(', ')}`,
    )
    const spare = arm.find((n) => !voters.includes(n))!
    assert.ok(spare, 'one ARM board is the spare')

    // Every node shows the same control plane; roles in the records say the same.
    const ids = new Map<string, string>()
    for (const n of lab.nodes) ids.set(await nodeIdOf(n), n.name)
    await waitFor(
      async () => {
        for (const n of lab.nodes) {
          const v = await view(n)
          const withRole = v.members.filter((m) => m.roles.includes('etcd-voter')).map((m) => m.name)
          if (withRole.sort().join() !== [...voters].sort().join())
            return `${n.name} sees roles on ${withRole}`
          const coordinators = v.members.filter((m) => m.roles.includes('coordinator'))
          if (coordinators.length !== 1) return `${n.name} sees ${coordinators.length} coordinators`
          if (!voters.includes(coordinators[0]!.name)) return 'the coordinator is not a voter'
        }
        return true
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    )
    const coordinatorView = await controlPlaneOf(lab.nodes[0]!)
    assert.ok(coordinatorView?.coordinator && voters.includes(coordinatorView.coordinator))
    assert.equal(coordinatorView?.quorum, true)

    // The decision and its reasons, as the coordinator wrote them.
    const placement = await readPlacement(client)
    assert.ok(placement, '/homecloud/placement exists')
    assert.deepEqual(placement.target.map((id) => ids.get(id)).sort(), [...voters].sort())
    const reasonOf = (name: string) => {
      const id = [...ids].find(([, n]) => n === name)![0]
      return placement.reasons[id]!
    }
    assert.match(reasonOf('pi4-5').why, /SD card fsync p99 40 ms > 10 ms/)
    assert.equal(reasonOf('pi4-5').eligible, false)
    // Four ARM boards can hold etcd: the x86 machines, etcd's fallback, are not needed.
    for (const x of ['x86-6', 'x86-7']) {
      assert.equal(reasonOf(x).why, 'spare (fallback amd64): not needed, 4 arm64/arm boards can hold etcd')
      assert.equal(reasonOf(x).chosen, false)
    }
    assert.equal(reasonOf(spare).eligible, true)
    assert.equal(reasonOf(spare).chosen, false)
    assert.equal(placement.next.kind, 'none')

    // Signers: the CA key went to the voters, never to the others.
    for (const n of lab.nodes) {
      const has = await access(pkiPaths(n.stateDir).caKey).then(
        () => true,
        () => false,
      )
      assert.equal(has, voters.includes(n.name), `${n.name} ${has ? 'holds' : 'lacks'} the CA key`)
    }
    t.diagnostic(
      `7-node lab up → 3 healthy voters: ${formedMs.toFixed(0)} ms (voters ${voters.join(', ')}; spare ${spare})`,
    )
    for (const r of Object.values(placement.reasons)) t.diagnostic(`${r.name}: ${r.why}`)
  })
})
