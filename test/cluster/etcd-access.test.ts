import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { execa } from 'execa'
import { readLocalState } from '../../agent/controlplane/local-state.js'
import { readClientTls } from '../../agent/controlplane/member-files.js'
import { etcdBinDir, etcdProgram } from '../../agent/etcd/binaries.js'
import { EtcdClient } from '../../agent/etcd/client.js'
import { clientUrlOf, etcdFiles } from '../../agent/etcd/spec.js'
import { pkiPaths } from '../../agent/pki/store.js'
import type { LabNode } from '../../lab/lab-file.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, etcdClientFor, healthyVoters } from '../support/controlplane.js'
import { realClock } from '../support/etcd-lab.js'
import { startLab } from '../support/lab.js'
import { missingOn, startWriteLoad } from '../support/write-load.js'
import {
  ADMIN_ROUTES,
  type CertFiles,
  issueKubeCerts,
  KUBE_PROFILES,
  MEMBER_ROUTES,
  mtlsCall,
  servingOnly,
} from '../support/wrong-certs.js'

// Who may use etcd, against real agents and etcd: a worker's own certificates are refused
// by etcd itself (etcdctl over gRPC and the JSON gateway, get and put, on every voter);
// the admin certificate and a voter's agent still work; every Kubernetes profile (issued
// here with the lab's CA key), a member's etcd certificates and the admin's gateway
// certificate are refused by etcd and/or the agent API as docs/architecture.md's
// credentials table says, a subtest per certificate; a cluster in the old state (auth
// off, no users) is moved to the new one by the coordinator alone, under a write load,
// and no acknowledged write is lost.

const etcdctl = (endpoint: string, tls: { ca: string; cert: string; key: string }, args: string[]) =>
  execa(
    etcdProgram('etcdctl', etcdBinDir()),
    [
      `--endpoints=${endpoint}`,
      `--cacert=${tls.ca}`,
      `--cert=${tls.cert}`,
      `--key=${tls.key}`,
      '--dial-timeout=3s',
      '--command-timeout=5s',
      ...args,
    ],
    { reject: false, timeout: 20_000 },
  )

describe('etcd access: members and the admin only', { timeout: 300_000 }, () => {
  const closers: (() => void)[] = []
  after(() => {
    for (const c of closers) c()
  })

  it('refuses a worker, lets the admin and voters in, and an old cluster moves over by itself', async (t) => {
    const lab = await startLab({ boards: 'pi5,rock5b,pi4-ssd,pi4', agentConfig: CP_CONFIG })
    const client = await etcdClientFor(lab, lab.nodes)
    closers.push(() => client.close())
    let voters: LabNode[] = []
    const idOf = new Map<string, string>()
    await waitFor(
      async () => {
        const list = await client.memberList().catch(() => null)
        voters = lab.nodes.filter((n) =>
          list?.members.some((m) => {
            const mine =
              !m.isLearner && m.name !== '' && m.peerUrls.some((u) => new URL(u).hostname === n.address)
            if (mine) idOf.set(n.name, m.name)
            return mine
          }),
        )
        if (voters.length < 3) return `voters: ${voters.map((v) => v.name)}`
        return healthyVoters(client, voters)
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    )
    const authOn = async () =>
      (await client.authCall('status', {})).enabled === true ? true : 'auth still off'
    await waitFor(authOn, { timeoutMs: 30_000 })

    const states = await Promise.all(lab.nodes.map((n) => readLocalState(n.stateDir)))
    const worker = lab.nodes.find((_n, i) => states[i]?.status !== 'member')
    assert.ok(worker, 'one board is a worker (no etcd member)')
    const wp = pkiPaths(worker.stateDir)
    const workerAgent = { ca: wp.caCert, cert: wp.nodeCert, key: wp.nodeKey }
    for (const v of voters) {
      const endpoint = clientUrlOf(v.address)
      const get = await etcdctl(endpoint, workerAgent, ['get', '/homecloud/', '--prefix', '--keys-only'])
      assert.notEqual(get.exitCode, 0, `${v.name}: a worker's get must be refused: ${get.stdout}`)
      assert.match(get.stderr, /permission denied|user name/, get.stderr)
      const put = await etcdctl(endpoint, workerAgent, ['put', '/worker-was-here', 'x'])
      assert.notEqual(put.exitCode, 0, `${v.name}: a worker's put must be refused`)
      assert.match(put.stderr, /permission denied|user name/, put.stderr)
      // The gateway with the worker's certificate and no login: refused as well.
      const gw = new EtcdClient(
        {
          endpoints: [endpoint],
          tls: {
            caPem: await readFileText(wp.caCert),
            certPem: await readFileText(wp.nodeCert),
            keyPem: await readFileText(wp.nodeKey),
          },
        },
        { clock: realClock },
      )
      closers.push(() => gw.close())
      // etcd turns away any gateway request whose certificate carries a name once auth is on.
      await assert.rejects(gw.get('/homecloud/releases/keys'), /CommonName of client/)
      await assert.rejects(gw.put('/worker-was-here', 'x'), /CommonName of client/)
    }
    // The admin certificate (its CN is a user) and a voter's own etcd-client certificate work.
    const fp = pkiPaths(lab.nodes[0]!.stateDir)
    const admin = { ca: fp.caCert, cert: fp.adminCert, key: fp.adminKey }
    const ok = await etcdctl(clientUrlOf(voters[0]!.address), admin, ['put', '/admin-was-here', 'x'])
    assert.equal(ok.exitCode, 0, ok.stderr)
    const vc = etcdFiles(voters[1]!.stateDir).client
    const voterGet = await etcdctl(
      clientUrlOf(voters[1]!.address),
      { ca: vc.caFile, cert: vc.certFile, key: vc.keyFile },
      ['get', '/admin-was-here'],
    )
    assert.equal(voterGet.exitCode, 0, voterGet.stderr)
    assert.match(voterGet.stdout, /admin-was-here/)
    const voterTls = await readClientTls(voters[2]!.stateDir, idOf.get(voters[2]!.name)!, realClock)
    assert.ok(voterTls?.login, 'a voter holds the CA key and so its login')
    const voterAgent = new EtcdClient(
      { endpoints: [clientUrlOf(voters[2]!.address)], tls: voterTls },
      { clock: realClock },
    )
    closers.push(() => voterAgent.close())
    assert.equal((await voterAgent.get('/admin-was-here'))?.value, 'x')

    // The agent API (7443) with certificates of the wrong kind: a worker's agent certificate
    // reads but may not act; a member's etcd-client certificate is not let in at all; the
    // admin certificate may ask for a recovery, which is refused while etcd has quorum.
    const api = (n: LabNode, path: string, files: { ca: string; cert: string; key: string }, body?: object) =>
      mtls(`https://${n.address}:7443${path}`, files, body)
    const v0 = voters[0]!
    assert.equal((await api(v0, '/api/v1/whoami', workerAgent)).status, 200)
    assert.equal((await api(v0, '/api/v1/settings', workerAgent, { joinPolicy: 'approve' })).status, 403)
    assert.equal(
      (await api(v0, '/api/v1/recover', workerAgent, { node: 'x', name: 'snap-0000000000000-r1' })).status,
      403,
    )
    const ec = etcdFiles(voters[1]!.stateDir).client
    const wrong = await api(v0, '/api/v1/whoami', { ca: ec.caFile, cert: ec.certFile, key: ec.keyFile })
    assert.equal(wrong.status, 401, wrong.body)
    assert.match(wrong.body, /wrong-profile/)
    const adminRecover = await api(v0, '/api/v1/recover', admin, { node: 'x', name: 'snap-0000000000000-r1' })
    assert.equal(adminRecover.status, 409, adminRecover.body)
    assert.match(adminRecover.body, /RECOVER_REFUSED/)

    // Every certificate of the wrong kind, table by table (the credentials table in
    // docs/architecture.md says what each may do). The Kubernetes profiles are issued for
    // real with the lab's CA key: etcd and the agent API refuse each of them.
    const kubeCerts = await issueKubeCerts(lab.nodes[0]!.stateDir, worker)
    closers.push(() => void kubeCerts.remove())
    const origin = `https://${v0.address}:7443`
    const etcdRefuses = async (files: CertFiles, serving: boolean) => {
      for (const v of voters) {
        const endpoint = clientUrlOf(v.address)
        if (serving) {
          // No client-auth usage: etcd ends the handshake (gRPC and the gateway share the port).
          const r = await mtlsCall(endpoint, { method: 'GET', path: '/version' }, files).then(
            (a) => `answered ${a.status}: ${a.body}`,
            (err: Error) => err.message,
          )
          assert.match(r, /bad certificate|ECONNRESET|socket hang up/, `${v.name}: ${r}`)
          continue
        }
        for (const args of [
          ['get', '/homecloud/', '--prefix', '--keys-only'],
          ['put', '/wrong-cert-was-here', 'x'],
        ]) {
          const r = await etcdctl(endpoint, files, args)
          assert.notEqual(r.exitCode, 0, `${v.name} ${args[0]}: ${r.stdout}`)
          assert.match(r.stderr, /permission denied|user name/, `${v.name} ${args[0]}: ${r.stderr}`)
        }
        const gw = new EtcdClient(
          {
            endpoints: [endpoint],
            tls: {
              caPem: await readFileText(files.ca),
              certPem: await readFileText(files.cert),
              keyPem: await readFileText(files.key),
            },
          },
          { clock: realClock },
        )
        closers.push(() => gw.close())
        await assert.rejects(gw.get('/homecloud/releases/keys'), /CommonName of client/)
        await assert.rejects(gw.put('/wrong-cert-was-here', 'x'), /CommonName of client/)
      }
      if (serving) {
        const get = await etcdctl(clientUrlOf(voters[0]!.address), files, ['get', '/homecloud/', '--prefix'])
        assert.notEqual(get.exitCode, 0, `etcdctl get went through: ${get.stdout}`)
      }
    }
    for (const profile of KUBE_PROFILES) {
      await t.test(`${profile}: refused by etcd and on every 7443 route`, async () => {
        const files = kubeCerts.files.get(profile)!
        await etcdRefuses(files, servingOnly(profile))
        for (const route of [...ADMIN_ROUTES, ...MEMBER_ROUTES]) {
          const r = await mtlsCall(origin, route, files)
          assert.equal(r.status, 401, `${route.method} ${route.path}: ${r.body}`)
          assert.match(r.body, /wrong-profile/, `${route.method} ${route.path}`)
        }
      })
    }
    // A member's other certificates and the admin's name-less gateway certificate: not on 7443.
    const vf = pkiPaths(voters[1]!.stateDir)
    const others: [string, CertFiles][] = [
      ['etcd-peer', { ca: vf.caCert, ...vf.profile('etcd-peer') }],
      ['etcd-server', { ca: vf.caCert, ...vf.profile('etcd-server') }],
      ['etcd-client', { ca: vf.caCert, ...vf.profile('etcd-client') }],
      ['admin gateway', { ca: fp.caCert, cert: fp.adminGatewayCert, key: fp.adminGatewayKey }],
    ]
    for (const [what, files] of others) {
      await t.test(`${what}: refused on every 7443 route`, async () => {
        for (const route of [...ADMIN_ROUTES, ...MEMBER_ROUTES]) {
          const r = await mtlsCall(origin, route, files)
          assert.equal(r.status, 401, `${route.method} ${route.path}: ${r.body}`)
          assert.match(r.body, /wrong-profile/, `${route.method} ${route.path}`)
        }
      })
    }
    await t.test("a member's agent certificate: reads, but no admin action", async () => {
      for (const route of ADMIN_ROUTES) {
        const r = await mtlsCall(origin, route, workerAgent)
        assert.equal(r.status, 403, `${route.method} ${route.path}: ${r.body}`)
        assert.match(r.body, /ADMIN_UNAUTHORIZED/, `${route.method} ${route.path}`)
      }
      const reads = await mtlsCall(origin, { method: 'GET', path: '/api/v1/cluster' }, workerAgent)
      assert.equal(reads.status, 200, reads.body)
      // The relay passes release records only.
      const relay = (prefix: string) =>
        mtlsCall(origin, { method: 'GET', path: `/api/v1/releases/etcd?prefix=${prefix}` }, workerAgent)
      assert.equal((await relay('/homecloud/releases/')).status, 200)
      const outside = await relay('/homecloud/')
      assert.equal(outside.status, 403, outside.body)
      // Only a node writes a holders record (its own): not even the admin.
      const holders = await mtlsCall(
        origin,
        { method: 'POST', path: '/api/v1/releases/holders', body: { value: 'x' } },
        admin,
      )
      assert.equal(holders.status, 403, holders.body)
      // A worker announces a release uploaded to it through a voter, which writes only a
      // record signed by a trusted release key: junk is refused and nothing is written.
      const key = `/homecloud/releases/manifest/${'0'.repeat(64)}`
      const announce = (files: CertFiles) =>
        mtlsCall(
          origin,
          { method: 'POST', path: '/api/v1/releases/announce', body: { key, value: 'x' } },
          files,
        )
      const junk = await announce(workerAgent)
      assert.equal(junk.status, 400, junk.body)
      assert.match(junk.body, /not a published release record/)
      const byAdmin = await announce(admin)
      assert.equal(byAdmin.status, 403, byAdmin.body)
      assert.equal(await client.get(key), undefined, 'nothing written')
    })

    // The old state: auth off, no users, no roles; a write load through it all.
    const load = startWriteLoad([client, client], '/load/')
    await new Promise((r) => setTimeout(r, 1000))
    await client.authCall('disable', {})
    // The coordinator may turn it back on at any tick: stop undoing once it has (deleting
    // a member's user with auth on would lock that member out, which is not the old state).
    const enabled = async () => (await client.authCall('status', {})).enabled === true
    const users = ((await client.authCall('user/list', {})).users as string[] | undefined) ?? []
    for (const name of users) if (!(await enabled())) await client.authCall('user/delete', { name })
    if (!(await enabled())) await client.authCall('role/delete', { name: 'root' }).catch(() => {})
    await waitFor(authOn, { timeoutMs: 30_000 })
    await new Promise((r) => setTimeout(r, 2000))
    await load.stop()
    assert.ok(load.acked.length > 20, `writes went through: ${load.acked.length}`)
    const acked = new Set(load.acked)
    for (const v of voters) assert.equal(await missingOn(client, v.address, '/load/', acked), 0, v.name)
    const again = await etcdctl(clientUrlOf(voters[0]!.address), workerAgent, ['get', '/load/', '--prefix'])
    assert.notEqual(again.exitCode, 0, 'the worker is refused again')
  })
})

async function mtls(
  url: string,
  files: { ca: string; cert: string; key: string },
  body?: object,
): Promise<{ status: number; body: string }> {
  const { readFile } = await import('node:fs/promises')
  const { request } = await import('node:https')
  const [ca, cert, key] = await Promise.all([files.ca, files.cert, files.key].map((f) => readFile(f, 'utf8')))
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: payload === undefined ? 'GET' : 'POST',
        ca,
        cert,
        key,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = ''
        res.on('data', (c) => (text += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

async function readFileText(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises')
  return readFile(path, 'utf8')
}
