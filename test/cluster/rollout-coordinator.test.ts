import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { LabNode } from '../../lab/lab-file.js'
import { labPlug, labUnplug } from '../../lab/launcher.js'
import { waitNodesHold } from '../../lab/netboot/release.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, controlPlaneOf } from '../support/controlplane.js'
import { startLab } from '../support/lab.js'
import {
  adminForAll,
  homecloud,
  LAB_ROLLOUT,
  labSignedRelease,
  publishTo,
  stampedImage,
  upgradeStatus,
  waitRollout,
} from '../support/rollout.js'

// The coordinator runs the rollout; unplugged (SIGKILL, no warning) mid-rollout, the next
// coordinator reads the rollout's record from etcd and carries on; the unplugged node is
// upgraded once it is back (issue 14).

const V1 = '0.1.0-rollout.1'
const V2 = '0.1.0-rollout.2'

describe('A/B rollout in a lab: the coordinator unplugged', { timeout: 1_200_000 }, () => {
  const say = (l: string) => process.stderr.write(`  … ${l}\n`)

  it('the next coordinator resumes the rollout; every node ends on 2', async () => {
    const i1 = await stampedImage(V1, { progress: say })
    const i2 = await stampedImage(V2, { progress: say })
    const lab = await startLab({
      boards: 'pi5,pi5,pi5,x86',
      kube: true,
      slots: true,
      imageDir: i1,
      agentConfig: { ...CP_CONFIG, rollout: LAB_ROLLOUT },
      timeoutMs: 240_000,
      progress: say,
    })
    const voters = lab.nodes.filter((n) => n.board === 'pi5')
    const admin = await adminForAll(lab, voters)
    const v2 = await labSignedRelease(lab, i2, 'v2')
    await publishTo(lab, v2.dir, lab.nodes[0]!.name)
    await waitNodesHold(lab, v2.id, { timeoutMs: 300_000, progress: say })

    const start = await homecloud(lab, ['upgrade', 'start', V2, '--canary', '1'])
    assert.equal(start.exitCode, 0, start.stderr)
    // The canary is the worker: unplug the coordinator (a voter) once the canary is past its drain.
    let coordinator: LabNode | undefined
    await waitFor(
      async () => {
        const s = await upgradeStatus(lab, admin)
        if (typeof s === 'string') return s
        const cur = s.rollout?.current
        if (!cur || cur.name.startsWith('pi5') || cur.step === 'drain') return `at ${cur?.name}:${cur?.step}`
        const cp = await controlPlaneOf(voters[0]!)
        coordinator = lab.nodes.find((n) => n.name === cp?.coordinator)
        return !!coordinator || 'who coordinates?'
      },
      { timeoutMs: 300_000, progress: say },
    )
    say(`unplugging the coordinator ${coordinator!.name}`)
    await labUnplug(lab.dir, coordinator!.name)
    await waitRollout(lab, (s) => Object.values(s.rollout?.nodes ?? {}).some((o) => o.state === 'done'), {
      timeoutMs: 600_000,
      progress: say,
      admin,
    })
    await labPlug(lab.dir, coordinator!.name)
    const s = await waitRollout(lab, (s) => s.rollout?.phase === 'completed', {
      timeoutMs: 900_000,
      progress: say,
      admin,
    })
    for (const n of s.nodes) {
      assert.equal(n.version, V2, `${n.name} runs ${V2}`)
      assert.equal(n.slots?.committed, true, `${n.name} committed`)
    }
    assert.ok(Object.values(s.rollout?.nodes ?? {}).every((o) => o.state === 'done'))
  })
})
