import assert from 'node:assert/strict'
import { access } from 'node:fs/promises'
import { after, describe, it } from 'node:test'
import { readLocalState } from '../../agent/controlplane/local-state.js'
import { clientUrlOf, etcdFiles } from '../../agent/etcd/spec.js'
import type { LabNode } from '../../lab/lab-file.js'
import { labPlug, labUnplug } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, controlPlaneOf, etcdClientFor, healthyVoters } from '../support/controlplane.js'
import { startLab } from '../support/lab.js'

// Two of three voters gone: no quorum, so nobody coordinates and nothing destructive
// happens, however long past the grace; the survivor's status says quorum is lost.
// When the two come back, the same three members form a quorum again.

describe('control plane: quorum lost', { timeout: 240_000 }, () => {
  const closers: (() => void)[] = []
  after(() => {
    for (const c of closers) c()
  })

  it('removes nobody without quorum, says so, and recovers when the boards return', async () => {
    const lab = await startLab({ boards: 'pi5,rock5b,pi4-ssd', agentConfig: CP_CONFIG })
    const [a, b, c] = lab.nodes as [LabNode, LabNode, LabNode]
    const client = await etcdClientFor(lab, lab.nodes)
    closers.push(() => client.close())
    await waitFor(() => healthyVoters(client, [a, b, c]), { timeoutMs: 90_000, intervalMs: 250 })
    const before = (await client.memberList()).members.map((m) => m.id).sort()

    await labUnplug(lab.dir, b.name)
    await labUnplug(lab.dir, c.name)
    // Well past death (~4 s) plus the grace: a coordinator with quorum would have acted.
    await new Promise((r) => setTimeout(r, 4000 + CP_CONFIG.controlPlane.failoverGraceMs + 8000))

    const cp = await controlPlaneOf(a)
    assert.equal(cp?.quorum, false, `the survivor says quorum is lost: ${JSON.stringify(cp)}`)
    assert.equal(cp?.coordinator, null, 'nobody coordinates without quorum')
    const survivor = await etcdClientFor(lab, [a])
    closers.push(() => survivor.close())
    const list = await survivor.memberList()
    assert.deepEqual(list.members.map((m) => m.id).sort(), before, 'no member removed')
    assert.equal((await survivor.health(clientUrlOf(a.address), 2000)).healthy, false)
    assert.equal((await readLocalState(a.stateDir))?.status, 'member')
    await access(etcdFiles(a.stateDir).dataDir)

    await labPlug(lab.dir, b.name)
    await labPlug(lab.dir, c.name)
    await waitFor(() => healthyVoters(client, [a, b, c]), { timeoutMs: 60_000, intervalMs: 250 })
    assert.deepEqual((await client.memberList()).members.map((m) => m.id).sort(), before, 'the same members')
    await waitFor(
      async () => {
        const now = await controlPlaneOf(a)
        return now?.quorum && now.coordinator ? true : `not yet: ${JSON.stringify(now)}`
      },
      { timeoutMs: 30_000 },
    )
  })
})
