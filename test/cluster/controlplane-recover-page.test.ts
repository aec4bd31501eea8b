import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { readLocalState } from '../../agent/controlplane/local-state.js'
import { listSnapshots } from '../../agent/controlplane/snapshot-store.js'
import { etcdFiles } from '../../agent/etcd/spec.js'
import { kubePaths } from '../../agent/kube/paths.js'
import { pkiPaths } from '../../agent/pki/store.js'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import { labPlug, labUnplug, nodeUrl } from '../../lab/launcher.js'
import { fetchClusterView, waitFor } from '../../lab/wait.js'
import { CP_CONFIG, etcdClientFor, healthyVoters } from '../support/controlplane.js'
import { httpsRequest } from '../support/https.js'
import { applyWhenAccepted, type Kubectl, labKubectl } from '../support/lab-kubectl.js'
import { startVoterLab } from '../support/voter-lab.js'
import { missingOn, startWriteLoad } from '../support/write-load.js'

// Quorum lost for good, recovered without a shell: a lab running Kubernetes (kwok nodes,
// an API server on every voter) gets a Deployment through the Kubernetes API; two of
// three voters are unplugged, the recovery run from the HTTPS status page of the third
// (a real login, the page's own form and CSRF token); the survivor's API server comes
// back against the restored etcd and the Deployment is there (the same object), as are
// the etcd keys written before; the cluster grows back to three voters on spare boards;
// then the two old voters come back together and move their old data aside (the new
// epoch reached them through the mesh) instead of forming the old majority again, and
// no write made after the recovery is lost or overwritten. Five boards: three voters,
// two spares to grow back on.

const config = {
  ...CP_CONFIG,
  controlPlane: { ...CP_CONFIG.controlPlane, snapshotIntervalMs: 3000 },
}

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1' }] },
    },
  },
}

/** kubectl straight to `node`'s own API server (not a balancer that could pick another). */
const apiOf = (node: LabNode) => [
  '--server',
  `https://${node.address}:6443`,
  '--tls-server-name',
  'kubernetes.default.svc',
]

/** The Deployment's uid through `node`'s own API server, or why not. */
async function deploymentUid(kubectl: Kubectl, node: LabNode): Promise<{ uid: string } | string> {
  const r = await kubectl([...apiOf(node), 'get', 'deployment', 'web', '-o', 'jsonpath={.metadata.uid}'])
  return r.exitCode === 0 && r.stdout ? { uid: r.stdout } : `${node.name}: ${r.stderr.trim() || 'no uid'}`
}

/**
 * Waits until `node`'s own API server answers with the Deployment, the same object (uid) as
 * `uid`, once `ready` holds; a different object fails at once.
 */
async function sameDeployment(
  kubectl: Kubectl,
  node: LabNode,
  uid: string,
  what: string,
  ready: () => Promise<true | string> = async () => true,
): Promise<void> {
  await waitFor(
    async () => {
      const first = await ready()
      if (first !== true) return first
      const r = await deploymentUid(kubectl, node)
      if (typeof r === 'string') return r
      assert.equal(r.uid, uid, what)
      return true
    },
    { timeoutMs: 180_000, intervalMs: 1000 },
  )
}

/** The old voters, plugged back: their data moved aside; any etcd they run is `clusterId`'s. */
async function steppedAside(
  lab: LabFile,
  olds: readonly LabNode[],
  clusterId: bigint | undefined,
): Promise<void> {
  for (const old of olds) {
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
      { timeoutMs: 120_000, intervalMs: 500 },
    )
  }
  // Whatever etcd they run now is the recovered cluster's, never the old one.
  for (const old of olds) {
    const s = await readLocalState(old.stateDir)
    if (s?.status === 'member') {
      const mine = await etcdClientFor(lab, [old])
      assert.equal((await mine.memberList()).clusterId, clusterId, `${old.name} is in the recovered cluster`)
      mine.close()
    }
  }
}

/** When the kube-apiserver the agent on `node` runs now started (ms since the epoch, 10 ms steps), or why not. */
async function apiserverStartedMs(node: LabNode): Promise<number | string> {
  const pidFile = join(kubePaths(node.stateDir).dir, 'run', 'kube-apiserver.pid')
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim())
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // After the name: state(0) … starttime(19), in clock ticks (USER_HZ, 100) since boot.
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
    const btime = Number(/^btime (\d+)$/m.exec(await readFile('/proc/stat', 'utf8'))?.[1])
    return btime * 1000 + startTicks * 10
  } catch (err) {
    return `${node.name}: no kube-apiserver (${(err as Error).message})`
  }
}

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

/** The recovery through the survivor's status page: login, the page's choice, CSRF, confirm. */
async function recoverThroughPage(lab: LabFile, a: LabNode): Promise<void> {
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
}

describe('control plane: recovery from the status page', { timeout: 900_000 }, () => {
  it('recovers on the survivor, grows back, and the old voters step aside when they return', async (t) => {
    const { lab, client, threeVoters, voters } = await startVoterLab(t, {
      boards: 'pi5,rock5b,opi5,pi4-ssd,pi5',
      kube: true,
      agentConfig: config,
      timeoutMs: 120_000,
      votersTimeoutMs: 120_000,
    })
    const [a, b, c] = voters as [LabNode, LabNode, LabNode]
    const gone = new Set([b, c])
    // A Deployment through the Kubernetes API (the survivor's balancer), before the etcd keys:
    // the snapshot waited for below holds both.
    const { kubectl } = await labKubectl(lab.dir, a.name)
    await applyWhenAccepted(kubectl, lab.dir, 'web', deployment, 180_000)
    let made = { uid: '' }
    await waitFor(
      async () => {
        const r = await deploymentUid(kubectl, a)
        if (typeof r === 'string') return r
        made = r
        return true
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    )
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
      { timeoutMs: 120_000, intervalMs: 500 },
    )
    await labUnplug(lab.dir, b.name)
    await labUnplug(lab.dir, c.name)
    await waitFor(
      async () => {
        const cp = (await fetchClusterView(nodeUrl(a)))?.controlPlane
        return cp && cp.source === 'etcd' && !cp.quorum ? true : `not yet: ${JSON.stringify(cp)}`
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    )

    // The API server running now (if any: it may be down while etcd has no quorum).
    const old = await apiserverStartedMs(a)
    await recoverThroughPage(lab, a)
    const survivor = await etcdClientFor(lab, [a])
    t.after(() => survivor.close())
    await waitFor(() => healthyVoters(survivor, [a]), { timeoutMs: 60_000, intervalMs: 250 })
    for (const k of keys) assert.equal((await survivor.get(k))?.value, `v-${k}`, k)
    // The survivor's API server was started again after the restore (its watch cache held
    // the lost cluster's revisions), and through it the Deployment is the same object.
    await sameDeployment(kubectl, a, made.uid, 'the Deployment from before the quorum loss', async () => {
      const started = await apiserverStartedMs(a)
      if (typeof started === 'string') return started
      return typeof old === 'number' && started <= old
        ? `${a.name}: the API server is the one from before the recovery`
        : true
    })
    const again = await threeVoters(300_000, gone)
    t.diagnostic(`voters after recovery: ${again.map((v) => v.name).join(', ')}`)

    // Writes after the recovery go on while the old voters come back together.
    const writers = await etcdClientFor(lab, again)
    t.after(() => writers.close())
    const load = startWriteLoad([writers, writers], '/test/after/')
    await new Promise((r) => setTimeout(r, 2000))
    await labPlug(lab.dir, b.name)
    await labPlug(lab.dir, c.name)
    await steppedAside(lab, [b, c], (await survivor.memberList()).clusterId)
    await new Promise((r) => setTimeout(r, 3000))
    await load.stop()
    assert.ok(load.acked.length > 20, `writes after recovery: ${load.acked.length}`)
    const acked = new Set(load.acked)
    const now = await threeVoters(120_000)
    for (const v of now) assert.equal(await missingOn(survivor, v.address, '/test/after/', acked), 0, v.name)
    for (const k of keys) assert.equal((await survivor.get(k))?.value, `v-${k}`, k)
    // The old voters' return changed nothing in Kubernetes either (through a voter of now:
    // placement may have moved the survivor's seat meanwhile).
    const through = now.includes(a) ? a : now[0]!
    await sameDeployment(kubectl, through, made.uid, `the Deployment through ${through.name} at the end`)
  })
})
