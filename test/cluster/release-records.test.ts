import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { systemClock } from '../../agent/core/clock.js'
import { Counters } from '../../agent/core/counters.js'
import type { EtcdClient } from '../../agent/etcd/client.js'
import { createCa } from '../../agent/pki/ca.js'
import { ReleaseRecords } from '../../agent/release/records-client.js'
import { generateReleaseKey } from '../../agent/release/signature.js'
import { KEYS_KEY, type KeysBody, signCaRecord, withKey } from '../../control/releases/records.js'
import { EtcdLab } from '../support/etcd-lab.js'

// The trusted release keys as a node reads them, against a real etcd. Nodes read the
// records every 2 s; a member (any CA client certificate can write etcd) that puts the
// older key set back right after an admin's write, before a node's next read, must not
// hide the newer one from that node: it reads the writes it missed from etcd's history.

const clusterId = 'c-etcd-209'

describe('release records: a key set replayed between two reads', { timeout: 60_000 }, () => {
  let lab: EtcdLab
  let etcd: EtcdClient

  before(async () => {
    lab = await EtcdLab.create({ block: 209 })
    const m = await lab.found(1)
    etcd = lab.client([m.clientUrl])
  })
  after(async () => {
    await lab?.cleanup()
  })

  const reader = () =>
    new ReleaseRecords(
      { clusterId, seenFile: join(lab.dir, 'seen.json') },
      { log: lab.log, counters: new Counters(), caPem: () => lab.ca.certPem, memberKey: () => null },
    )
  const put = (body: KeysBody) => etcd.put(KEYS_KEY, signCaRecord('release-keys', body, lab.ca.keyPem))

  it('is refused, and the newer set it hid is the one the node trusts', async () => {
    const records = reader()
    await records.load()
    const v1 = withKey(null, clusterId, generateReleaseKey().publicHex, 1)
    await put(v1)
    await records.refresh(etcd)
    assert.equal(records.keys?.version, 1)

    const k2 = generateReleaseKey().publicHex
    const v2 = withKey(v1, clusterId, k2, 2)
    await put(v2)
    await put(v1) // the replay, before this node reads again
    await records.refresh(etcd)
    assert.equal(records.keys?.version, 2, 'the set it never read as the standing value')
    assert.ok(records.trusted().has(k2))
    assert.ok(
      records.problems.some((p) => p.includes('version 1 is older than version 2')),
      records.problems.join('; '),
    )
    assert.deepEqual(JSON.parse(await readFile(join(lab.dir, 'seen.json'), 'utf8')), {
      keys: 2,
      current: 0,
      rollout: 0,
    })

    // Several writes in between: the newest verified one counts; a forged one among them does not.
    const v3 = withKey(v2, clusterId, generateReleaseKey().publicHex, 3)
    const v4 = withKey(v3, clusterId, generateReleaseKey().publicHex, 4)
    await put(v3)
    await put(v4)
    await etcd.put(KEYS_KEY, signCaRecord('release-keys', { ...v4, version: 9 }, generateOtherCaKey()))
    await put(v2)
    await records.refresh(etcd)
    assert.equal(records.keys?.version, 4)

    // After a restart the seen version (seen.json) still refuses the replay.
    const restarted = reader()
    await restarted.load()
    await restarted.refresh(etcd)
    assert.equal(restarted.trusted().size, 0, 'no key set believed')
    assert.ok(
      restarted.problems.some((p) => p.includes('older than version 4')),
      restarted.problems.join('; '),
    )

    // An admin's next write (above every version seen) is read as usual.
    await put(withKey(v4, clusterId, generateReleaseKey().publicHex, 5))
    await restarted.refresh(etcd)
    assert.equal(restarted.keys?.version, 5)
    assert.deepEqual(restarted.problems, [])
  })
})

/** Another CA's key: what a member without the cluster's CA key could sign with. */
function generateOtherCaKey(): string {
  return createCa({ clusterId, clusterName: 'evil', clock: systemClock() }).keyPem
}
