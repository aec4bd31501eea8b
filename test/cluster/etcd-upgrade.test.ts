import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { etcdBinDir, etcdProgram } from '../../agent/etcd/binaries.js'
import type { EtcdClient } from '../../agent/etcd/client.js'
import type { EtcdExit } from '../../agent/etcd/process.js'
import { etcdFiles } from '../../agent/etcd/spec.js'
import { checkV2Store, flushV2Wal } from '../../agent/etcd/upgrade.js'
import { etcdBuild } from '../support/etcd-builds.js'
import { EtcdLab, type LabMember, waitFor } from '../support/etcd-lab.js'
import { missingOn, startWriteLoad, type WriteLoad } from '../support/write-load.js'

// The path an installed cluster takes from Debian's etcd 3.4 to the pinned 3.6, one
// minor release at a time (etcd supports nothing else): three real members on 3.4
// under a continuous write load (and probed on /health, as agents do), each stopped
// and restarted on 3.5 in turn, the cluster version moves to 3.5; the WAL is flushed
// past the 3.4 entries and checked with etcdutl; then the same to 3.6. No acknowledged
// write is lost. Then what a rollout must know: etcd refuses a binary two minors ahead
// of the data, and an older minor once the cluster version has moved, and neither
// loses data.

const prefix = '/test/upgrade/'

describe('etcd upgrade, one minor at a time: 3.4 → 3.5 → 3.6 under a write load', {
  timeout: 600_000,
}, () => {
  let lab: EtcdLab
  let load: WriteLoad | undefined
  const bin = { '3.4': '', '3.5': '', '3.6': etcdBinDir() }
  let members: LabMember[] = []
  let all: EtcdClient

  before(async () => {
    bin['3.4'] = await etcdBuild('3.4')
    bin['3.5'] = await etcdBuild('3.5')
    lab = await EtcdLab.create({ block: 214 })
  })
  after(async () => {
    await load?.stop()
    await lab?.cleanup()
  })

  /** Every member's release and the cluster version each reports. */
  const versions = async () =>
    Promise.all(members.map((m) => all.version(m.clientUrl, 2000).then((v) => `${v.server}/${v.cluster}`)))

  /** Stops member n as a rollout would (SIGTERM), restarts it on another build, waits for it. */
  const restartOn = async (m: LabMember, release: keyof typeof bin) => {
    await m.proc?.stop()
    await lab.startMember(m.n, m.spec!.initialCluster as never, 'existing', { binDir: bin[release] })
    await lab.waitHealthy(members.map((x) => x.clientUrl))
  }

  it('rolls each member to 3.5, then to 3.6; the cluster version follows; no acknowledged write lost', async (t) => {
    const m1 = await lab.found(1, { binDir: bin['3.4'] })
    const admin = lab.client([m1.clientUrl])
    const m2 = (await lab.join(2, admin, { binDir: bin['3.4'] })).member
    const m3 = (await lab.join(3, admin, { binDir: bin['3.4'] })).member
    members = [m1, m2, m3]
    const urls = members.map((m) => m.clientUrl)
    all = lab.client(urls, undefined, 30_000)
    await lab.waitHealthy(urls)
    assert.deepEqual(await versions(), ['3.4.23/3.4.0', '3.4.23/3.4.0', '3.4.23/3.4.0'])

    load = startWriteLoad(
      urls.map((_, i) => lab.client([...urls.slice(i), ...urls.slice(0, i)], undefined, 10_000)),
      prefix,
    )
    const writes = load
    const moreWrites = async (n: number) => {
      const target = writes.acked.length + n
      await waitFor(`${n} more acknowledged writes`, 60_000, () => writes.acked.length >= target)
    }
    await moreWrites(100)

    for (const [release, cluster] of [
      ['3.5', '3.5.0'],
      ['3.6', '3.6.0'],
    ] as const) {
      const stepStart = performance.now()
      if (release === '3.6') {
        // 3.6 panics replaying 3.4's v2 requests (the /health QGETs): every member must
        // have taken a raft snapshot after them, and etcdutl 3.5 says so per member.
        const flushStart = performance.now()
        const writes = await flushV2Wal(all)
        t.diagnostic(`WAL flush: ${writes} writes in ${Math.round(performance.now() - flushStart)} ms`)
      }
      for (const m of members) {
        const check = async () => {
          await m.proc!.stop()
          return checkV2Store(etcdProgram('etcdutl', bin['3.5']), etcdFiles(m.stateDir).dataDir)
        }
        // The gate sees what 3.6 would trip over: on 3.4's data it finds the v2 requests…
        if (release === '3.5' && m === m1) {
          const dirty = await check()
          assert.equal(dirty.clean, false)
          assert.match(dirty.clean ? '' : dirty.said, /v2 content in WAL/)
        }
        // …and after the flush every member is clean.
        if (release === '3.6')
          assert.deepEqual(await check(), { clean: true }, `${m.name}: etcdutl check v2store`)
        await restartOn(m, release)
        await moreWrites(50)
        // Mixed releases: the cluster version stays at the oldest until the last member moves.
        if (m !== m3) assert.ok(!(await versions()).some((v) => v.endsWith(`/${cluster}`)), 'moved too early')
      }
      // etcd raises the cluster version by itself once every member runs the new minor.
      await waitFor(`cluster version ${cluster}`, 30_000, async () =>
        (await versions()).every((v) => v.endsWith(`/${cluster}`)),
      )
      t.diagnostic(
        `step to ${release}: ${Math.round(performance.now() - stepStart)} ms, ${(await versions()).join(' ')}`,
      )
    }

    await moreWrites(50)
    await writes.stop()
    const acked = new Set(writes.acked)
    for (const m of members) {
      assert.equal(
        await missingOn(all, m.address, prefix, acked, { serializable: true }),
        0,
        `lost on ${m.name}`,
      )
    }
    t.diagnostic(`acknowledged writes: ${acked.size}, not acknowledged (retried): ${writes.failed()}`)
  })

  /** etcd logged, at error level or above for member `m`, why it stopped (the lab log; written asynchronously). */
  const saidSo = (m: LabMember, reason: RegExp) =>
    waitFor(`etcd's reason in the log: ${reason}`, 10_000, async () =>
      (await readFile(join(lab.dir, 'etcd.log'), 'utf8'))
        .split('\n')
        .some((l) => l.includes(`"member":"${m.name}"`) && /"level":(50|60)/.test(l) && reason.test(l)),
    )

  /** Starts `m` on `release` and waits for that etcd to exit by itself (no restart: stopped then). */
  const refusedOn = async (m: LabMember, release: keyof typeof bin): Promise<EtcdExit> => {
    await lab.startMember(m.n, m.spec!.initialCluster as never, 'existing', {
      binDir: bin[release],
      restart: { initialDelayMs: 600_000, jitter: 0 },
    })
    const exited = new Promise<EtcdExit>((resolve) => m.proc!.onExit((exit) => resolve(exit)))
    return Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`${release} kept running`)), 60_000),
      ),
    ])
  }

  it('an older minor is refused once the cluster version moved; the member comes back on 3.6', async (t) => {
    const m3 = members[2]!
    await m3.proc!.stop()
    const exit = await refusedOn(m3, '3.5')
    assert.notEqual(exit.code, 0)
    await saidSo(m3, /invalid downgrade; server version is lower than determined cluster version/)
    t.diagnostic(
      `3.5 on the 3.6 cluster: exit ${exit.code}, "invalid downgrade; server version is lower than determined cluster version"`,
    )
    await restartOn(m3, '3.6')
    const acked = new Set(load!.acked)
    assert.equal(await missingOn(all, m3.address, prefix, acked, { serializable: true }), 0)
  })

  it('3.6 refuses 3.4 data (a minor skipped); the data is intact and goes on with 3.5', async (t) => {
    const m = await lab.found(4, { binDir: bin['3.4'] })
    members = [m]
    const c = lab.client([m.clientUrl])
    all = c
    await c.put(`${prefix}kept`, 'yes')
    await m.proc!.stop()
    const exit = await refusedOn(m, '3.6')
    assert.notEqual(exit.code, 0)
    await saidSo(m, /detected disallowed v2 WAL/)
    t.diagnostic(
      `3.6 on 3.4 data: exit ${exit.code}, panic "detected disallowed v2 WAL" (3.4's /health QGETs)`,
    )
    await restartOn(m, '3.5')
    assert.equal((await c.get(`${prefix}kept`))?.value, 'yes')
  })
})
