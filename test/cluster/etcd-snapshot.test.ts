import assert from 'node:assert/strict'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { execa } from 'execa'
import { HomecloudError } from '../../agent/core/errors.js'
import { etcdProgram } from '../../agent/etcd/binaries.js'
import { EtcdTools } from '../../agent/etcd/snapshot.js'
import { etcdFiles } from '../../agent/etcd/spec.js'
import { EtcdLab } from '../support/etcd-lab.js'

// `homecloud recover`'s building blocks: save a snapshot from a live member, restore
// it into a brand-new single-member cluster, and refuse a damaged snapshot file.

describe('etcd snapshots', { timeout: 180_000 }, () => {
  let lab: EtcdLab
  const tools = new EtcdTools()
  let snapshotPath: string
  const keys = Array.from({ length: 200 }, (_, i) => `/test/snap/${String(i).padStart(3, '0')}`)

  before(async () => {
    lab = await EtcdLab.create({ block: 203 })
    snapshotPath = join(lab.dir, 'backup.db')
  })
  after(async () => {
    await lab?.cleanup()
  })

  it('saves a snapshot and restores it into a fresh single-member cluster', async (t) => {
    const m1 = await lab.found(1)
    const c1 = lab.client([m1.clientUrl])
    for (const k of keys) await c1.put(k, `value of ${k}`)

    const saveStart = performance.now()
    const info = await tools.snapshotSave(m1.clientUrl, lab.clientFiles, snapshotPath)
    const saveMs = performance.now() - saveStart
    assert.ok(info.totalKeys >= keys.length)
    assert.ok(info.revision >= keys.length)

    // The old cluster is gone; a new board (other address, other name) recovers from the file.
    await m1.proc!.kill()
    const r = await lab.member(2)
    const files = etcdFiles(r.stateDir)
    const initialCluster = [{ name: r.name, peerUrl: r.peerUrl }]
    const restoreStart = performance.now()
    await tools.snapshotRestore({
      snapshotPath,
      name: r.name,
      dataDir: files.dataDir,
      peerUrl: r.peerUrl,
      initialCluster,
      initialClusterToken: `${lab.token}-recovered`,
    })
    await lab.startMember(2, initialCluster, 'new')
    await lab.waitHealthy([r.clientUrl])
    const restoreMs = performance.now() - restoreStart

    const c2 = lab.client([r.clientUrl])
    const { members } = await c2.memberList()
    assert.deepEqual(
      members.map((m) => [m.name, m.peerUrls, m.isLearner]),
      [[r.name, [r.peerUrl], false]],
      'only the new member; the old membership is rewritten',
    )
    const restored = await c2.getPrefix('/test/snap/')
    assert.deepEqual(
      restored.map((kv) => [kv.key, kv.value]),
      keys.map((k) => [k, `value of ${k}`]),
    )
    await c2.put('/test/after-recover', 'writable')
    t.diagnostic(
      `snapshot save: ${saveMs.toFixed(0)} ms; restore + start + healthy: ${restoreMs.toFixed(0)} ms`,
    )
  })

  it('refuses a corrupt or truncated snapshot, and writes nothing', async () => {
    const bytes = await readFile(snapshotPath)
    const flipped = Buffer.from(bytes)
    flipped[Math.floor(bytes.length / 2)] = flipped[Math.floor(bytes.length / 2)]! ^ 0x55
    const corrupt = join(lab.dir, 'corrupt.db')
    const truncated = join(lab.dir, 'truncated.db')
    await writeFile(corrupt, flipped)
    await writeFile(truncated, bytes.subarray(0, bytes.length - 1000))
    const m = await lab.member(3)
    const dataDir = etcdFiles(m.stateDir).dataDir
    for (const file of [corrupt, truncated]) {
      await assert.rejects(
        tools.snapshotRestore({
          snapshotPath: file,
          name: m.name,
          dataDir,
          peerUrl: m.peerUrl,
          initialCluster: [{ name: m.name, peerUrl: m.peerUrl }],
          initialClusterToken: 'x',
        }),
        (err: unknown) =>
          err instanceof HomecloudError &&
          err.code === 'ETCD_SNAPSHOT_INVALID' &&
          /corrupt|integrity/.test(err.message),
      )
      await assert.rejects(stat(dataDir), { code: 'ENOENT' })
    }
  })

  it('etcdutl itself refuses the corrupt file too (our pre-check is not the only guard)', async () => {
    const m = await lab.member(4)
    const r = await execa(
      etcdProgram('etcdutl'),
      [
        'snapshot',
        'restore',
        join(lab.dir, 'corrupt.db'),
        `--name=${m.name}`,
        `--data-dir=${join(lab.dir, 'etcdutl-direct')}`,
        `--initial-cluster=${m.name}=${m.peerUrl}`,
        `--initial-advertise-peer-urls=${m.peerUrl}`,
      ],
      { reject: false },
    )
    assert.notEqual(r.exitCode, 0)
    assert.match(String(r.stderr), /expected sha256/)
  })
})
