import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { CONTROL_REFUSED_TOTAL } from '../../agent/controlplane/index.js'
import { readLocalState } from '../../agent/controlplane/local-state.js'
import { systemClock } from '../../agent/core/clock.js'
import { issueCertificate } from '../../agent/pki/sign.js'
import { pkiPaths } from '../../agent/pki/store.js'
import { statePaths } from '../../agent/state/paths.js'
import { readJoinMaterial } from '../../agent/trust/join-material.js'
import { PLACEMENT_KEY, signPlacement } from '../../control/coordinator/placement-record.js'
import { PLACEMENT_REFUSED_TOTAL } from '../../control/coordinator/reconciler.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, controlPlaneOf, etcdClientFor, nodeIdOf, readPlacement } from '../support/controlplane.js'
import { startLab, view } from '../support/lab.js'
import { newIdentity } from '../support/records.js'
import { counter, counterReaches, runRogue } from '../support/rogue-run.js'

// Bad input at the control plane, with real agents and a real etcd: a placement record
// written straight into etcd (the old unsigned shape, a body altered after signing, a
// forger's signature) is refused, counted and rewritten by the coordinator; a rogue
// process that joined with the real secret, then claims to be an etcd voter and the
// coordinator and sends etcd-retire, a made-up etcd-assign and a snapshot chunk, is
// refused and counted on each, and the founder's etcd member carries on untouched; a
// member holding the real CA key but not the coordinator cannot hand a board a seat.

describe('control plane: bad input', { timeout: 240_000 }, () => {
  it('refuses tampered placement records and a member lying about its seat', async (t) => {
    // One ARM board (the founder: the only voter and the coordinator) and an x86 worker.
    const lab = await startLab({ boards: 'pi5,x86', agentConfig: CP_CONFIG })
    const founder = lab.nodes[0]!
    const founderId = await nodeIdOf(founder)
    const client = await etcdClientFor(lab, [founder])
    t.after(() => client.close())
    await waitFor(
      async () => {
        const p = await readPlacement(client).catch((err: Error) => err.message)
        return typeof p === 'object' && p.coordinator === founderId ? true : `placement: ${String(p)}`
      },
      { timeoutMs: 60_000 },
    )
    const good = JSON.parse((await client.get(PLACEMENT_KEY))!.value)

    // 1. Tampered placement records, each written directly into etcd.
    const stranger = newIdentity()
    const tampered: [string, string][] = [
      ['not JSON', '{"v":2,'],
      ['the unsigned shape', JSON.stringify({ ...good.body, v: 1 })],
      ['a body changed after signing', JSON.stringify({ ...good, body: { ...good.body, target: [] } })],
      [
        "a forger's own key under the coordinator's id",
        JSON.stringify(
          signPlacement({ ...good.body, coordinatorKey: stranger.publicKey.toString('hex') }, stranger),
        ),
      ],
      [
        'validly signed by a node that is no voter',
        JSON.stringify(
          signPlacement(
            { ...good.body, coordinator: stranger.id, coordinatorKey: stranger.publicKey.toString('hex') },
            stranger,
          ),
        ),
      ],
    ]
    for (const [what, value] of tampered) {
      const before = await counter(founder, PLACEMENT_REFUSED_TOTAL)
      await client.put(PLACEMENT_KEY, value)
      assert.equal(
        await counterReaches(founder, PLACEMENT_REFUSED_TOTAL, {}, before + 1),
        before + 1,
        `${what}: refused and counted once`,
      )
      await waitFor(
        async () => {
          const p = await readPlacement(client).catch((err: Error) => err.message)
          return typeof p === 'object' && p.coordinator === founderId ? true : `${what}: ${String(p)}`
        },
        { timeoutMs: 15_000 },
      )
    }
    const log = await readFile(join(lab.dir, 'nodes', founder.name, 'agent.log'), 'utf8')
    for (const why of [
      'not JSON',
      'placement: body: ',
      'signature does not verify',
      'is not the key of',
      'not an etcd voter',
    ])
      assert.ok(log.includes(why), `the log says why a record was refused: ${why}`)
    assert.ok(log.includes('"code":"PLACEMENT_INVALID"'))

    // 2. A member (a valid join) lying about its seat.
    const material = await readJoinMaterial(statePaths(founder.stateDir).joinFile)
    assert.ok(material)
    const run = await runRogue(lab, founder, 'claim-voter', { secret: material.secret })
    const reasons = ['role-claim', 'retire-not-coordinator', 'assign-refused', 'snapshot-not-voter']
    for (const reason of reasons) {
      assert.ok(
        (await counterReaches(founder, CONTROL_REFUSED_TOTAL, { reason }, 1)) >= 1,
        `${reason} counted\n${run.report}`,
      )
    }
    const cp = await controlPlaneOf(founder)
    assert.equal(cp?.source, 'etcd')
    assert.deepEqual(cp?.voters, [founder.name], 'etcd says the founder is the only voter')
    assert.equal(cp?.coordinator, founder.name)
    assert.equal((await view(founder)).controlPlane.voters.includes(run.id), false)
    assert.equal((await readLocalState(founder.stateDir))?.status, 'member', 'the founder was not retired')
    assert.equal((await client.health(client.endpoints[0]!, 2000)).healthy, true)
    const snaps = await readdir(join(founder.stateDir, 'data', 'snapshots')).catch(() => [] as string[])
    assert.ok(!snaps.some((f) => f.includes('-r1.')), 'the rogue chunk left no file')
    const after = await readFile(join(lab.dir, 'nodes', founder.name, 'agent.log'), 'utf8')
    assert.ok(after.includes('"code":"CONTROL_REFUSED"'))
    assert.ok(after.includes('the CA key does not belong to our CA'))

    // 3. A member holding the real CA key, but not the coordinator, hands the x86 worker a seat.
    const worker = lab.nodes[1]!
    const workerId = await nodeIdOf(worker)
    const pki = pkiPaths(founder.stateDir)
    const ca = { certPem: await readFile(pki.caCert, 'utf8'), keyPem: await readFile(pki.caKey, 'utf8') }
    const me = newIdentity()
    const own = issueCertificate({
      profile: 'agent',
      identity: { nodeId: me.id, nodeName: `rogue-${me.id.slice(0, 6)}`, ips: ['127.0.0.1'] },
      ca,
      clock: systemClock(),
      validityMs: 86_400_000,
    })
    const assignRun = await runRogue(lab, worker, 'assign-not-coordinator', {
      identityPem: me.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      ownCert: own.certPem,
      ca,
      victim: { id: workerId, address: worker.address },
      other: { id: founderId, name: founder.name, address: founder.address },
    })
    assert.ok(
      (await counterReaches(worker, CONTROL_REFUSED_TOTAL, { reason: 'assign-refused' }, 1)) >= 1,
      `a seat from a non-coordinator is refused and counted\n${assignRun.report}`,
    )
    const workerLog = await readFile(join(lab.dir, 'nodes', worker.name, 'agent.log'), 'utf8')
    assert.ok(
      workerLog.includes(`sent by ${me.id}, but etcd names ${founderId} coordinator`),
      'the refusal names the sender and the real coordinator',
    )
    assert.equal(await readLocalState(worker.stateDir), null, 'the worker never became an etcd member')
    assert.deepEqual((await controlPlaneOf(founder))?.voters, [founder.name])
  })
})
