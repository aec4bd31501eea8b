import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { readLocalState } from '../../agent/controlplane/local-state.js'
import { listSnapshots } from '../../agent/controlplane/snapshot-store.js'
import { etcdFiles } from '../../agent/etcd/spec.js'
import { pkiPaths } from '../../agent/pki/store.js'
import type { LabNode } from '../../lab/lab-file.js'
import { labPlug, labUnplug, nodeUrl } from '../../lab/launcher.js'
import { fetchClusterView, waitFor } from '../../lab/wait.js'
import { CP_CONFIG, etcdClientFor, healthyVoters } from '../support/controlplane.js'
import { httpsRequest } from '../support/https.js'
import { startVoterLab } from '../support/voter-lab.js'
import { missingOn, startWriteLoad } from '../support/write-load.js'

// Quorum lost for good, recovered without a shell: two of three voters unplugged, the
// recovery run from the HTTPS status page of the third (a real login, the page's own
// form and CSRF token), the data written before is there, the cluster grows back to
// three voters on spare boards; then the two old voters come back together and move
// their old data aside (the new epoch reached them through the mesh) instead of forming
// the old majority again, and no write made after the recovery is lost or overwritten.

const config = { ...CP_CONFIG, controlPlane: { ...CP_CONFIG.controlPlane, snapshotIntervalMs: 3000 } }

async function login(node: LabNode, caPem: string, password: string): Promise<string> {
  const r = await httpsRequest(`https://${node.address}:7444/login`, {
    caPem,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ password }).toString(),
  })
  assert.equal(r.status, 303, r.body)
  const cookie = String(r.headers['set-cookie'] ?? '').split(';')[0] ?? ''
  assert.match(cookie, /^hc_session=/)
  return cookie
}

describe('control plane: recovery from the status page', { timeout: 600_000 }, () => {
  it('recovers on the survivor, grows back, and the old voters step aside when they return', async (t) => {
    const { lab, client, threeVoters, voters } = await startVoterLab(t, {
      boards: 'pi5,rock5b,opi5,pi4-ssd,pi5',
      agentConfig: config,
      votersTimeoutMs: 120_000,
    })
    const [a, b, c] = voters as [LabNode, LabNode, LabNode]
    const gone = new Set([b, c])
    const keys = Array.from({ length: 20 }, (_, i) => `/test/before/k${String(i).padStart(2, '0')}`)
    let revision = 0
    for (const k of keys) revision = await client.put(k, `v-${k}`)
    const holders = lab.nodes.filter((n) => !gone.has(n))
    await waitFor(
      async () => {
        const held = await Promise.all(holders.map((n) => listSnapshots(n.stateDir)))
        return held.some((h) => h.some((s) => s.manifest.revision >= revision))
          ? true
          : `no snapshot with revision ≥ ${revision} on a board that stays`
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    )
    await labUnplug(lab.dir, b.name)
    await labUnplug(lab.dir, c.name)
    await waitFor(
      async () => {
        const cp = (await fetchClusterView(nodeUrl(a)))?.controlPlane
        return cp && cp.source === 'etcd' && !cp.quorum ? true : `not yet: ${JSON.stringify(cp)}`
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )

    // The status page of the survivor: log in, read the choices, pick the newest, confirm.
    const caPem = await readFile(pkiPaths(a.stateDir).caCert, 'utf8')
    const password = (await readFile(join(lab.dir, 'password.txt'), 'utf8')).trim()
    const cookie = await login(a, caPem, password)
    const anon = await httpsRequest(`https://${a.address}:7444/actions/recover`, {
      caPem,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: 'choice=x&confirm=yes&csrf=x',
    })
    assert.equal(anon.status, 401, 'no session, no recovery')
    const pageOf = await httpsRequest(`https://${a.address}:7444/recover`, { caPem, headers: { cookie } })
    assert.equal(pageOf.status, 200)
    const choice = /name="choice" value="([^"]+)"/.exec(pageOf.body)?.[1]
    assert.ok(choice, `the page offers a snapshot: ${pageOf.body}`)
    const home = await httpsRequest(`https://${a.address}:7444/`, { caPem, headers: { cookie } })
    const csrf = /name="homecloud-csrf" content="([^"]+)"/.exec(home.body)?.[1]
    assert.ok(csrf, 'the page carries the session CSRF token')
    const post = (body: Record<string, string>) =>
      httpsRequest(`https://${a.address}:7444/actions/recover`, {
        caPem,
        method: 'POST',
        headers: {
          cookie,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams(body).toString(),
      })
    assert.equal((await post({ choice, csrf })).status, 400, 'not confirmed: refused')
    assert.equal((await post({ choice, confirm: 'yes', csrf: 'forged' })).status, 403)
    const done = await post({ choice, confirm: 'yes', csrf })
    assert.equal(done.status, 200, done.body)
    assert.equal(JSON.parse(done.body).recovered.epoch, 1)

    const survivor = await etcdClientFor(lab, [a])
    t.after(() => survivor.close())
    await waitFor(() => healthyVoters(survivor, [a]), { timeoutMs: 60_000, intervalMs: 250 })
    for (const k of keys) assert.equal((await survivor.get(k))?.value, `v-${k}`, k)
    const again = await threeVoters(180_000, gone)
    t.diagnostic(`voters after recovery: ${again.map((v) => v.name).join(', ')}`)

    // Writes after the recovery go on while the old voters come back together.
    const writers = await etcdClientFor(lab, again)
    t.after(() => writers.close())
    const load = startWriteLoad([writers, writers], '/test/after/')
    await new Promise((r) => setTimeout(r, 2000))
    await labPlug(lab.dir, b.name)
    await labPlug(lab.dir, c.name)
    for (const old of [b, c]) {
      await waitFor(
        async () => {
          const s = await readLocalState(old.stateDir)
          const aside = (await readdir(dirname(etcdFiles(old.stateDir).dataDir))).some((f) =>
            f.startsWith('etcd.epoch-1-aside-'),
          )
          return aside && (s?.status === 'removed' || s?.epoch === 1)
            ? true
            : `${old.name}: ${JSON.stringify(s)}`
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      )
    }
    // Whatever etcd they run now is the recovered cluster's, never the old one.
    const clusterId = (await survivor.memberList()).clusterId
    for (const old of [b, c]) {
      const s = await readLocalState(old.stateDir)
      if (s?.status === 'member') {
        const mine = await etcdClientFor(lab, [old])
        assert.equal(
          (await mine.memberList()).clusterId,
          clusterId,
          `${old.name} is in the recovered cluster`,
        )
        mine.close()
      }
    }
    await new Promise((r) => setTimeout(r, 3000))
    await load.stop()
    assert.ok(load.acked.length > 20, `writes after recovery: ${load.acked.length}`)
    const acked = new Set(load.acked)
    const now = await threeVoters(60_000)
    for (const v of now) assert.equal(await missingOn(survivor, v.address, '/test/after/', acked), 0, v.name)
    for (const k of keys) assert.equal((await survivor.get(k))?.value, `v-${k}`, k)
  })
})
