import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { netbootSlotsKey } from '../../agent/slots/netboot-decide.js'
import { parseRecord } from '../../agent/slots/netboot-store.js'
import { nodeUrl } from '../../lab/launcher.js'
import { waitNodesHold } from '../../lab/netboot/release.js'
import { fetchClusterView, waitFor } from '../../lab/wait.js'
import { etcdClientFor } from '../support/controlplane.js'
import { startLab, TEST_MESH } from '../support/lab.js'
import { addTestVm, consoleText } from '../support/netboot.js'
import {
  adminForAll,
  homecloud,
  LAB_ROLLOUT,
  labSignedRelease,
  publishTo,
  stampedImage,
  waitRollout,
} from '../support/rollout.js'

// A netbooted machine upgraded for real (issue 14): a qemu VM (TCG, SeaBIOS + iPXE) netboots
// release 1 from a namespace lab, its /init gives the agent the netboot slots backend, and
// `homecloud upgrade start` moves it to 2: the order changes its MAC's record in etcd, the
// agent reboots the VM (qemu resets, the firmware netboots again), the serving node offers
// the tried release, the VM joins again under a new key — the rollout follows it by name and
// MAC (agent/mesh/successors.ts) — passes its gate and commits. Then a bad release whose
// agent exits at start: /init reboots after three quick exits, the try is used up, the
// serving node offers 2 again, and the rollout halts on the machine's fallback. The images
// are the rollout tests' (the same stamps: one build each, cached by inputs). Needs root.
const root = process.getuid?.() === 0
const V1 = '0.1.0-rollout.1'
const V2 = '0.1.0-rollout.2'
const V3 = '0.1.0-rollout.3-bad'

describe('netboot: a VM is upgraded by rebooting into the new release, and comes back from a bad one', {
  skip: !root && 'needs root for namespaces, taps and dnsmasq',
  timeout: 1_800_000,
}, () => {
  const say = (l: string) => process.stderr.write(`  … ${l}\n`)

  it('1 → 2 by a reboot, committed; 2 → bad 3: back on 2 after its one try, the rollout halted', async () => {
    const [i1, i2, i3] = [
      await stampedImage(V1, { progress: say }),
      await stampedImage(V2, { progress: say }),
      await stampedImage(V3, { testExitAtStart: true, progress: say }),
    ]
    // One try per boot keeps the bad release to one boot; the machine in progress stays the
    // node in progress however long TCG takes to boot it (nodeGoneMs, gateTimeoutMs).
    const rollout = { ...LAB_ROLLOUT, triesPerBoot: 1, nodeGoneMs: 900_000, gateTimeoutMs: 900_000 }
    const lab = await startLab({
      nodes: 3,
      netns: true,
      netboot: true,
      imageDir: i1,
      agentConfig: { mesh: TEST_MESH, rollout },
      timeoutMs: 600_000,
      progress: say,
    })
    const etcd = await etcdClientFor(lab, lab.nodes)
    // The CLI asks each node in turn (a busy founder under TCG load may not answer in time).
    const admin = await adminForAll(lab, lab.nodes)
    const vm = await addTestVm(lab, { reboots: true, progress: say })
    const record = async () => parseRecord(await etcd.get(netbootSlotsKey(vm.mac)))
    // The alive member of that name: each boot of the VM is a new member (the former ones dead).
    const member = async () =>
      (await fetchClusterView(nodeUrl(lab.nodes[0]!)))?.members.find(
        (m) => m.name === vm.name && m.state === 'alive',
      )
    // Under TCG the VM answers probes late, so for a moment after a boot or a commit its
    // member may be suspect (SWIM asking before it accuses): wait for it alive on `version`.
    const aliveOn = async (version: string) => {
      await waitFor(
        async () => {
          const m = (await fetchClusterView(nodeUrl(lab.nodes[0]!)))?.members.find(
            (x) => x.name === vm.name && x.state !== 'dead',
          )
          return (
            (m?.state === 'alive' && m.version === version) ||
            `the VM: ${m ? `${m.state} on ${m.version}` : 'no member'}`
          )
        },
        { timeoutMs: 120_000, progress: say },
      )
      return member()
    }
    assert.equal((await aliveOn(V1))?.version, V1)

    const publish = async (dir: string, name: string) => {
      const r = await labSignedRelease(lab, dir, name)
      await publishTo(lab, r.dir, lab.nodes[0]!.name)
      await waitNodesHold(lab, r.id, { timeoutMs: 300_000, progress: say })
      return r
    }
    const r2 = await publish(i2, 'v2')
    const firstId = (await member())?.id
    const start2 = await homecloud(lab, ['upgrade', 'start', V2, '--canary', '1'], admin)
    assert.equal(start2.exitCode, 0, start2.stderr)
    const s2 = await waitRollout(lab, (s) => s.rollout?.phase !== 'running' && s.rollout?.current === null, {
      timeoutMs: 900_000,
      progress: say,
      admin,
    })
    assert.equal(s2.rollout?.phase, 'completed', s2.rollout?.halt?.reason)
    const after2 = await record()
    assert.ok(after2)
    const good = after2.state.good
    assert.ok(good)
    assert.equal(after2.state.slots[good]?.releaseId, r2.id, 'the record holds 2, committed')
    assert.equal(after2.state.booted, good)
    assert.equal(after2.state.trying, null)
    const m2 = await aliveOn(V2)
    assert.equal(m2?.version, V2, 'the VM runs 2')
    assert.notEqual(m2?.id, firstId, 'a new member after the reboot (state in RAM)')
    assert.equal(Object.values(s2.rollout?.nodes ?? {}).filter((o) => o.state === 'done').length, 1)
    assert.match(await consoleText(vm), /rebooting|reboot/i)

    const r3 = await publish(i3, 'v3')
    const start3 = await homecloud(lab, ['upgrade', 'start', V3, '--canary', '1'], admin)
    assert.equal(start3.exitCode, 0, start3.stderr)
    const s3 = await waitRollout(lab, (s) => s.rollout?.phase === 'halted' && s.rollout.current === null, {
      timeoutMs: 900_000,
      progress: say,
      admin,
    })
    assert.match(s3.rollout?.halt?.reason ?? '', /came back on 0\.1\.0-rollout\.2 by itself/)
    assert.deepEqual(
      s3.rollout?.bad.map((b) => b.version),
      [V3],
    )
    const after3 = await record()
    assert.ok(after3)
    assert.equal(after3.state.slots[after3.state.good ?? 'a']?.releaseId, r2.id, 'still committed on 2')
    assert.equal(after3.state.booted, after3.state.good, 'booted on its good slot')
    assert.equal(after3.state.lastFallback?.releaseId, r3.id)
    assert.equal(after3.state.lastFallback?.reason, 'tries-exhausted')
    assert.match(await consoleText(vm), /exited .* 3 times within 60 s of starting: rebooting/)
    await aliveOn(V2)
    etcd.close()
  })
})
