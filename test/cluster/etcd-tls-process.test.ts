import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { request } from 'node:https'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { connect } from 'node:tls'
import { execa } from 'execa'
import { HomecloudError } from '../../agent/core/errors.js'
import { etcdProgram } from '../../agent/etcd/binaries.js'
import { EtcdProcess } from '../../agent/etcd/process.js'
import { buildEtcdArgs, etcdFiles } from '../../agent/etcd/spec.js'
import { createCa } from '../../agent/pki/ca.js'
import { issueCertificate } from '../../agent/pki/sign.js'
import { pkiPaths } from '../../agent/pki/store.js'
import { LAB_ENV } from '../../lab/processes.js'
import { EtcdLab, type LabMember, realClock, waitFor } from '../support/etcd-lab.js'

// One member: etcd presents our server certificate, accepts only clients with a
// certificate from our CA (on both ports), and the supervisor restarts it after a
// crash, stops it gracefully, and kills an etcd an earlier agent left behind.

function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256
}

/** The first certificate openssl s_client saw, and whether it verified. */
async function opensslSees(host: string, port: number, lab: EtcdLab) {
  const r = await execa(
    'openssl',
    [
      's_client',
      '-connect',
      `${host}:${port}`,
      '-CAfile',
      lab.clientFiles.caFile,
      '-cert',
      lab.clientFiles.certFile,
      '-key',
      lab.clientFiles.keyFile,
      '-verify_ip',
      host,
      '-verify_return_error',
      '-showcerts',
    ],
    { input: '', reject: false, timeout: 20_000 },
  )
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0]
  return { pem, verified: /Verify return code: 0 \(ok\)/.test(r.stdout), stdout: r.stdout }
}

/** A TLS handshake plus one read: does the server accept this client? */
function tlsAccepts(host: string, port: number, opts: { ca: string; cert?: string; key?: string }) {
  return new Promise<{ ok: boolean; error?: string }>((resolve) => {
    const socket = connect({ host, port, ...opts, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, () => {
      // TLS 1.3 reports a refused client certificate only on the next read.
      socket.write('GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    })
    let data = ''
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => {
      data += d
    })
    socket.on('error', (err) => resolve({ ok: false, error: err.message }))
    socket.on('close', () => resolve({ ok: data.length > 0 }))
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')))
  })
}

describe('etcd: mutual TLS and the process supervisor', { timeout: 180_000 }, () => {
  let lab: EtcdLab
  let m1: LabMember

  before(async () => {
    lab = await EtcdLab.create({ block: 204, restart: { initialDelayMs: 300 } })
    m1 = await lab.found(1)
  })
  after(async () => {
    await lab?.cleanup()
  })

  it('presents our server and peer certificates (openssl s_client verifies them against our CA)', async () => {
    const pki = pkiPaths(m1.stateDir)
    const client = await opensslSees(m1.address, 2379, lab)
    assert.ok(client.verified, client.stdout.slice(-600))
    assert.equal(
      fingerprint(client.pem!),
      fingerprint(await readFile(pki.profile('etcd-server').cert, 'utf8')),
    )
    const peer = await opensslSees(m1.address, 2380, lab)
    assert.ok(peer.verified, peer.stdout.slice(-600))
    assert.equal(fingerprint(peer.pem!), fingerprint(await readFile(pki.profile('etcd-peer').cert, 'utf8')))
  })

  it('serves clients with our certificate and refuses others, on both ports', async () => {
    const ours = lab.client([m1.clientUrl])
    await ours.put('/test/tls', 'ok')
    assert.equal((await ours.get('/test/tls'))?.value, 'ok')

    const otherCa = createCa({ clusterId: 'c-other', clusterName: 'other', clock: realClock })
    const foreign = issueCertificate({
      ca: otherCa,
      profile: 'etcd-client',
      identity: { nodeId: 'intruder' },
      clock: realClock,
    })
    const intruder = lab.client([m1.clientUrl], {
      caPem: lab.ca.certPem,
      certPem: foreign.certPem,
      keyPem: foreign.keyPem,
    })
    const health = await intruder.health(m1.clientUrl)
    assert.equal(health.healthy, false)
    await assert.rejects(
      intruder.get('/test/tls'),
      (err: unknown) => err instanceof HomecloudError && err.code === 'ETCD_UNREACHABLE',
    )
    for (const port of [2379, 2380]) {
      const withForeign = await tlsAccepts(m1.address, port, {
        ca: lab.ca.certPem,
        cert: foreign.certPem,
        key: foreign.keyPem,
      })
      assert.equal(withForeign.ok, false, `port ${port} accepted a certificate from another CA`)
      const withNone = await tlsAccepts(m1.address, port, { ca: lab.ca.certPem })
      assert.equal(withNone.ok, false, `port ${port} accepted a client without a certificate`)
    }
    // And a client that trusts another CA refuses etcd (server authentication).
    const confused = await new Promise<string>((resolve) => {
      const req = request(`${m1.clientUrl}/version`, {
        ca: otherCa.certPem,
        cert: foreign.certPem,
        key: foreign.keyPem,
      })
      req.on('response', () => resolve('accepted'))
      req.on('error', (err) => resolve(err.message))
      req.end()
    })
    assert.match(confused, /certificate/)
  })

  it('restarts a crashed member with backoff, its data intact', async () => {
    const proc = m1.proc!
    const exits: boolean[] = []
    proc.onExit((_exit, willRestart) => exits.push(willRestart))
    const pid = proc.pid!
    process.kill(pid, 'SIGKILL')
    await waitFor('a restarted etcd', 30_000, () => proc.status().restarts === 1 && proc.pid !== undefined)
    assert.notEqual(proc.pid, pid)
    assert.deepEqual(exits, [true])
    assert.equal(proc.status().lastExit?.signal, 'SIGKILL')
    await lab.waitHealthy([m1.clientUrl])
    assert.equal((await lab.client([m1.clientUrl]).get('/test/tls'))?.value, 'ok')
  })

  it('stops gracefully with SIGTERM and does not restart', async () => {
    const proc = m1.proc!
    const exit = await proc.stop()
    assert.ok(exit?.signal === 'SIGTERM' || exit?.code === 0, JSON.stringify(exit))
    assert.equal(proc.status().state, 'stopped')
    await new Promise((r) => setTimeout(r, 1000))
    assert.equal(proc.pid, undefined)
    assert.equal((await lab.client([m1.clientUrl]).health(m1.clientUrl, 1000)).healthy, false)
  })

  it('forwards etcd log lines to the agent log, one event per line', async () => {
    const lines = (await readFile(join(lab.dir, 'etcd.log'), 'utf8')).trim().split('\n')
    const events = lines.map((l) => JSON.parse(l) as { member?: string; component?: string; msg: string })
    assert.ok(
      events.some(
        (e) => e.member === 'n1' && e.component === 'etcd' && e.msg === 'serving client traffic securely',
      ),
    )
    assert.ok(events.some((e) => e.msg === 'etcd exited unexpectedly; restarting'))
  })

  it('says etcd is not installed when the binary is missing', async () => {
    const proc = new EtcdProcess(
      { spec: m1.spec!, binary: join(lab.dir, 'no-such-etcd') },
      { logger: lab.log, clock: realClock },
    )
    await assert.rejects(proc.start(), { code: 'ETCD_NOT_INSTALLED' })
    await new Promise((r) => setTimeout(r, 800))
    assert.equal(proc.status().state, 'stopped')
    assert.equal(proc.status().restarts, 0)
  })

  it('kills an etcd left behind by a crashed agent before starting its own', async () => {
    const spec = m1.spec!
    const files = etcdFiles(m1.stateDir)
    // What a crashed agent leaves: a running etcd and its pid file.
    const orphan = execa(etcdProgram('etcd'), buildEtcdArgs(spec), {
      env: { [LAB_ENV]: lab.dir },
      reject: false,
      stdio: 'ignore',
    })
    await writeFile(files.pidFile, `${orphan.pid}\n`)
    await lab.waitHealthy([m1.clientUrl])

    const fresh = new EtcdProcess(
      { spec, env: { [LAB_ENV]: lab.dir }, pidFile: files.pidFile },
      { logger: lab.log, clock: realClock },
    )
    m1.proc = fresh // the lab's cleanup kills this one
    await fresh.start()
    const orphanExit = await orphan
    assert.equal(orphanExit.signal, 'SIGKILL')
    await lab.waitHealthy([m1.clientUrl])
    assert.equal(Number((await readFile(files.pidFile, 'utf8')).trim()), fresh.pid)
  })
})
