// Real agents, real hostile input to the trust layer: a rogue process (its own Noise
// identity) speaks the join protocol to the founder with a wrong secret, replayed
// proofs and CSRs asking for what they may not have, and shows tampered certificates;
// the 7443 API gets expired, revoked, foreign, missing and under-privileged client
// certificates and bad bodies; `homecloud init` is run over an existing cluster.
// Every bad input must get a clear error, be counted, and change nothing.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { ClusterView } from '../../agent/api/cluster-schema.js'
import { manualClock, systemClock } from '../../agent/core/clock.js'
import { nodeIdFromPublicKey } from '../../agent/identity/identity.js'
import { createCa } from '../../agent/pki/ca.js'
import { issueCertificate } from '../../agent/pki/sign.js'
import { pkiPaths } from '../../agent/pki/store.js'
import { readClusterFile } from '../../agent/state/cluster-file.js'
import { statePaths } from '../../agent/state/paths.js'
import { readJoinMaterial } from '../../agent/trust/join-material.js'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import { nodeUrl } from '../../lab/launcher.js'
import { isLabProcess } from '../../lab/processes.js'
import { waitFor } from '../../lab/wait.js'
import { onCleanup, runCleanups, startLab, stateOf, view } from '../support/lab.js'
import { newIdentity } from '../support/records.js'
import { type RogueArgs, type Scenario, sha256Hex } from '../support/rogue-peer.js'
import {
  counter,
  counterReaches as counterReachesIn,
  type RogueRun,
  runRogue as runRogueIn,
} from '../support/rogue-run.js'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const cliPath = join(repoRoot, 'bin', 'homecloud.js')
const TLS_PORT = 7443
/** Includes tsx start-up and a few RSA keys on a loaded 2-core machine; join-replay dials three times. */
const rogueRunMsMax = 120_000
const settleMsMax = 15_000
const dayMs = 86_400_000
const execFileP = promisify(execFile)

after(runCleanups)

// ---- rogue processes ----

const runRogue = (
  victim: LabNode,
  scenario: Scenario,
  extra: Pick<RogueArgs, 'secret' | 'identityPem' | 'other' | 'ownCert'> = {},
) => runRogueIn(lab, victim, scenario, extra, rogueRunMsMax)

// ---- metrics and views ----

const REFUSED = 'homecloud_joins_refused_total'
const SIGNED = 'homecloud_certificates_signed_total'
const DROPPED = 'homecloud_mesh_messages_dropped_total'
const API_REJECTED = 'homecloud_api_rejected_total'

/** Polls until the counter reached `want`, then returns its value (which the caller checks exactly). */
const counterReaches = (node: LabNode, name: string, labels: Record<string, string>, want: number) =>
  counterReachesIn(node, name, labels, want, settleMsMax)

const incarnations = (v: ClusterView) => Object.fromEntries(v.members.map((m) => [m.name, m.incarnation]))

/** No running node's view lists any of `ids`, in any state. */
async function noViewLists(ids: Iterable<string>, nodes: LabNode[] = lab.nodes): Promise<void> {
  const bad = new Set(ids)
  for (const n of nodes) {
    const v = await view(n)
    const found = v.members.filter((m) => bad.has(m.id))
    assert.deepEqual(
      found.map((m) => [m.id, m.state]),
      [],
      `${n.name} lists a rogue: ${JSON.stringify(found)}`,
    )
  }
}

const idOf = (n: LabNode) => nodeIdFromPublicKey(Buffer.from(n.key, 'hex'))
const other = (n: LabNode) => ({ id: idOf(n), name: n.name, address: n.address })

// ---- the 7443 API ----

interface TlsAnswer {
  status: number
  body: Record<string, unknown>
  error?: string
}

/** One HTTPS request to a node's agent API, as cli/admin-client.ts makes it. */
function tlsCall(
  node: LabNode,
  path: string,
  opts: { method?: string; body?: string; cert?: string; key?: string } = {},
): Promise<TlsAnswer> {
  const payload = opts.body === undefined ? undefined : Buffer.from(opts.body)
  return new Promise((resolve) => {
    const req = request(
      new URL(path, `https://${node.address}:${TLS_PORT}`),
      {
        method: opts.method ?? 'GET',
        ca: caPem,
        ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}),
        checkServerIdentity: () => undefined,
        timeout: 10_000,
        agent: false,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let body: Record<string, unknown>
          try {
            body = JSON.parse(text) as Record<string, unknown>
          } catch {
            body = { raw: text.slice(0, 300) }
          }
          resolve({ status: res.statusCode ?? 0, body })
        })
        res.on('error', (err) => resolve({ status: 0, body: {}, error: err.message }))
      },
    )
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', (err) => resolve({ status: 0, body: {}, error: err.message }))
    if (payload) req.write(payload)
    req.end()
  })
}

async function nodeCert(n: LabNode): Promise<{ cert: string; key: string }> {
  const p = pkiPaths(n.stateDir)
  return { cert: await readFile(p.nodeCert, 'utf8'), key: await readFile(p.nodeKey, 'utf8') }
}

// Started at module level, not in before(): startLab registers its teardown with
// after(), which inside a before() hook would run as soon as that hook finished.
const lab: LabFile = await startLab({ nodes: 3 })
const founder = lab.nodes[0]!
const founderPki = pkiPaths(founder.stateDir)
const caPem = await readFile(founderPki.caCert, 'utf8')
const caKeyPem = await readFile(founderPki.caKey, 'utf8')
const joinMaterial = await readJoinMaterial(statePaths(founder.stateDir).joinFile)
assert.ok(joinMaterial, 'the founder holds join material')
const secret = joinMaterial.secret
const admin = {
  cert: await readFile(founderPki.adminCert, 'utf8'),
  key: await readFile(founderPki.adminKey, 'utf8'),
}

/** Rogues that must never hold a certificate of this cluster. */
const neverCertified = new Set<string>()
/** A second certificate of the node the revocation test revokes. */
let revokedSecond: { cert: string; key: string } | undefined
/** The CSR mismatch run, whose replies the checks below read. */
let csrMismatchRun: RogueRun | undefined

describe('joins with bad input (a rogue process speaking to the founder)', () => {
  it('a wrong join secret → join-refused bad-proof; no certificate, never a member, counted', async () => {
    const refusedBefore = await counter(founder, REFUSED, { reason: 'bad-proof' })
    const signedBefore = await counter(founder, SIGNED)
    const uncertifiedBefore = await counter(founder, DROPPED, { reason: 'uncertified' })
    const run = await runRogue(founder, 'join-wrong-secret')
    neverCertified.add(run.id)
    const [reply] = run.replies
    assert.equal(reply?.t, 'join-refused', run.report)
    assert.equal(reply.reason, 'bad-proof', run.report)
    assert.match(String(reply.message), /join secret/, run.report)
    assert.equal(run.replies.length, 1, run.report)
    assert.deepEqual(run.done.unasked, [], run.report)
    assert.equal(
      await counterReaches(founder, REFUSED, { reason: 'bad-proof' }, refusedBefore + 1),
      refusedBefore + 1,
    )
    // Its own record came with it: the founder saw a candidate and did not let it in.
    assert.ok(
      (await counterReaches(founder, DROPPED, { reason: 'uncertified' }, uncertifiedBefore + 1)) >
        uncertifiedBefore,
      'its record was refused',
    )
    assert.equal(await counter(founder, SIGNED), signedBefore, 'nothing was signed')
    await noViewLists([run.id])
  })

  it('a join transcript replayed on another connection → bad-proof (the original was good)', async () => {
    const refusedBefore = await counter(founder, REFUSED, { reason: 'bad-proof' })
    const signedBefore = await counter(founder, SIGNED, { mode: 'join' })
    const run = await runRogue(founder, 'join-replay', { secret })
    const conns = run.lines.filter((l) => l.event === 'connected')
    assert.deepEqual(
      conns.map((c) => c.conn),
      ['A', 'B', 'C'],
      run.report,
    )
    const hashes = conns.map((c) => String(c.handshakeHash))
    assert.ok(
      hashes.every((h) => /^[0-9a-f]{64,}$/.test(h)),
      `handshake hashes: ${hashes}`,
    )
    assert.equal(new Set(hashes).size, 3, 'every connection has its own handshake hash')
    assert.equal(conns[1]!.id, run.id, 'B uses the same key as A')
    assert.notEqual(conns[2]!.id, run.id, 'C uses another key')
    neverCertified.add(String(conns[2]!.id))

    const [a, b, c] = run.replies
    // The proof construction is right: the signer signed A and proved the secret back.
    assert.equal(a?.t, 'join-signed', run.report)
    assert.equal(a.certCn, run.id, run.report)
    assert.equal(a.certProfile, 'agent', run.report)
    assert.equal(a.replyProofOk, true, `the reply proves the join secret\n${run.report}`)
    for (const r of [b, c]) {
      assert.equal(r?.t, 'join-refused', run.report)
      assert.equal(r.reason, 'bad-proof', run.report)
    }
    assert.equal(
      await counterReaches(founder, REFUSED, { reason: 'bad-proof' }, refusedBefore + 2),
      refusedBefore + 2,
    )
    assert.equal(await counter(founder, SIGNED, { mode: 'join' }), signedBefore + 1, 'only A was signed')
    await noViewLists([String(conns[2]!.id)])
  })

  it("CSRs naming someone else (another node's id, a key that did not sign it) → bad-csr", async () => {
    const before = await counter(founder, REFUSED, { reason: 'bad-csr' })
    const signedBefore = await counter(founder, SIGNED)
    const run = await runRogue(founder, 'join-csr-mismatch', { secret, other: other(lab.nodes[1]!) })
    csrMismatchRun = run
    neverCertified.add(run.id)
    const [cn, key] = run.replies
    assert.equal(cn?.t, 'join-refused', run.report)
    assert.equal(cn.reason, 'bad-csr', run.report)
    assert.match(String(cn.message), /common name/, run.report)
    assert.ok(String(cn.message).includes(idOf(lab.nodes[1]!)), `names the CN it refused\n${run.report}`)
    assert.equal(key?.t, 'join-refused', run.report)
    assert.equal(key.reason, 'bad-csr', run.report)
    assert.match(String(key.message), /CSR (self-)?signature/, run.report)
    // The third (a 600-character CN) is checked below: its refusal must reach the joiner intact.
    assert.ok((await counterReaches(founder, REFUSED, { reason: 'bad-csr' }, before + 3)) >= before + 2)
    assert.equal(await counter(founder, SIGNED), signedBefore, 'nothing was signed')
    await noViewLists([run.id])
  })

  it('a bad-csr refusal names the error code (PKI_CSR_MISMATCH / PKI_CSR_INVALID)', {}, () => {
    const run = csrMismatchRun
    assert.ok(run, 'the CSR mismatch run happened')
    assert.match(String(run.replies[0]?.message), /PKI_CSR_MISMATCH/, run.report)
    assert.match(String(run.replies[1]?.message), /PKI_CSR_INVALID/, run.report)
  })

  it('a refusal quoting a long CN still reaches the joiner as a join-refused', {}, () => {
    const run = csrMismatchRun
    assert.ok(run, 'the CSR mismatch run happened')
    const long = run.replies[2]
    assert.equal(long?.t, 'join-refused', run.report)
    assert.equal(long.reason, 'bad-csr', run.report)
  })

  it("CSRs asking for CA rights or another node's names (OpenSSL -addext) → bad-csr", async () => {
    const before = await counter(founder, REFUSED, { reason: 'bad-csr' })
    const signedBefore = await counter(founder, SIGNED)
    const victimOfNames = lab.nodes[1]!
    const run = await runRogue(founder, 'join-csr-rights', { secret, other: other(victimOfNames) })
    neverCertified.add(run.id)
    const want: [RegExp, RegExp][] = [
      [/CA:TRUE/, /CA rights/],
      [/keyCertSign/, /CA rights/],
      [/another node's name/, new RegExp(victimOfNames.name)],
      [/another node's id/, new RegExp(idOf(victimOfNames))],
      [/another node's address/, new RegExp(victimOfNames.address.replace(/\./g, '\\.'))],
    ]
    assert.equal(run.replies.length, want.length, run.report)
    for (const [i, [what, message]] of want.entries()) {
      const r = run.replies[i]!
      assert.match(r.what, what)
      assert.equal(r.t, 'join-refused', `${r.what}\n${run.report}`)
      assert.equal(r.reason, 'bad-csr', `${r.what}\n${run.report}`)
      assert.match(String(r.message), message, `${r.what}\n${run.report}`)
    }
    assert.equal(await counterReaches(founder, REFUSED, { reason: 'bad-csr' }, before + 5), before + 5)
    assert.equal(await counter(founder, SIGNED), signedBefore, 'nothing was signed')
    await noViewLists([run.id])
  })

  it("a join naming itself as another member (that member's DNS SAN) → refused", {}, async () => {
    const taken = lab.nodes[1]!
    const run = await runRogue(founder, 'join-name-taken', { secret, other: other(taken) })
    const [r] = run.replies
    assert.ok(r && r.t !== 'none' && r.t !== 'unparsed', run.report)
    // Either refused, or at least not given a certificate that serves as the other member.
    if (r.t === 'join-signed') {
      assert.ok(
        !r.certDnsNames?.includes(taken.name),
        `signed DNS:${taken.name} for a stranger\n${run.report}`,
      )
    } else assert.equal(r.t, 'join-refused', run.report)
  })

  it('a join frame with a 9000-character csr → dropped as malformed, no answer, connection kept', async () => {
    const malformedBefore = await counter(founder, DROPPED, { reason: 'malformed' })
    const refusedBefore = await counter(founder, REFUSED)
    const signedBefore = await counter(founder, SIGNED)
    const run = await runRogue(founder, 'join-oversized-csr', { secret })
    neverCertified.add(run.id)
    const sent = run.lines.find((l) => l.event === 'sent')
    assert.match(String(sent?.what), /9\d{3}-character csr/, run.report)
    assert.equal(run.replies[0]?.t, 'none', `no answer to an unreadable frame\n${run.report}`)
    assert.equal(
      run.done.closedByPeer,
      false,
      `a malformed frame does not cost the connection\n${run.report}`,
    )
    assert.equal(
      await counterReaches(founder, DROPPED, { reason: 'malformed' }, malformedBefore + 1),
      malformedBefore + 1,
    )
    assert.equal(await counter(founder, REFUSED), refusedBefore)
    assert.equal(await counter(founder, SIGNED), signedBefore)
  })
})

describe('forged CA-signed gossip (a rogue process speaking to a member)', () => {
  it("an approval, settings and a revocation list signed by another key → each dropped and counted, nothing changes; a stranger's digest gets no answer, an oversized one is malformed", async () => {
    const victim = lab.nodes[1]!
    const founderNode = lab.nodes[0]!
    const reasons = ['bad-approval', 'bad-settings', 'bad-revocations'] as const
    const before = await Promise.all(reasons.map((reason) => counter(victim, DROPPED, { reason })))
    const malformedBefore = await counter(victim, DROPPED, { reason: 'malformed' })
    const clusterBefore = await readClusterFile(statePaths(victim.stateDir).clusterFile)
    const run = await runRogue(victim, 'forged-gossip', { other: other(founderNode) })
    neverCertified.add(run.id)
    const sent = run.lines.filter((l) => l.event === 'sent').map((l) => l.expect)
    assert.deepEqual(sent, [...reasons, 'ignored', 'malformed'], run.report)
    for (const [i, reason] of reasons.entries())
      assert.equal(await counterReaches(victim, DROPPED, { reason }, before[i]! + 1), before[i]! + 1, reason)
    assert.equal(
      await counterReaches(victim, DROPPED, { reason: 'malformed' }, malformedBefore + 1),
      malformedBefore + 1,
    )
    assert.equal(run.done.digestsReceived, 0, `a stranger is not answered with a digest\n${run.report}`)
    assert.equal(run.done.closedByPeer, false, run.report)
    // Nothing changed: the policy and its version, nobody approved, the founder not revoked anywhere.
    const clusterAfter = await readClusterFile(statePaths(victim.stateDir).clusterFile)
    assert.equal(clusterAfter?.joinPolicy, clusterBefore?.joinPolicy)
    assert.equal(clusterAfter?.settingsVersion, clusterBefore?.settingsVersion)
    const approvals = await readFile(statePaths(victim.stateDir).approvals, 'utf8').catch(() => '')
    assert.ok(!approvals.includes(run.id), approvals)
    for (const n of lab.nodes) {
      if (n !== founderNode) assert.equal(stateOf(await view(n), founderNode.name), 'alive', n.name)
      const list = await readFile(pkiPaths(n.stateDir).revocations, 'utf8').catch(() => '')
      assert.ok(!list.includes('forged'), `${n.name} stored the forged list`)
    }
  })
})

describe('tampered certificates (a rogue process speaking to a member)', () => {
  it('hello/certs with one signature byte flipped → dropped as bad-certificate, nothing changes', async () => {
    const victim = lab.nodes[1]!
    const me = newIdentity()
    // A valid certificate for the rogue's own id, so only the flipped byte is wrong with it.
    const own = issueCertificate({
      profile: 'agent',
      identity: { nodeId: me.id, nodeName: `rogue-${me.id.slice(0, 6)}`, ips: ['127.0.0.1'] },
      ca: { certPem: caPem, keyPem: caKeyPem },
      clock: systemClock(),
      validityMs: dayMs,
    })
    const viewsBefore = await Promise.all(lab.nodes.map((n) => view(n)))
    const badBefore = await counter(victim, DROPPED, { reason: 'bad-certificate' })
    const impBefore = await counter(victim, DROPPED, { reason: 'impersonation' })
    const run = await runRogue(victim, 'tampered-cert', {
      identityPem: me.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      ownCert: own.certPem,
    })
    neverCertified.add(run.id)
    assert.equal(run.id, me.id)
    const sent = run.lines.filter((l) => l.event === 'sent').map((l) => l.expect)
    assert.deepEqual(sent, ['bad-certificate', 'bad-certificate', 'impersonation'], run.report)
    assert.equal(
      await counterReaches(victim, DROPPED, { reason: 'bad-certificate' }, badBefore + 2),
      badBefore + 2,
    )
    assert.equal(
      await counterReaches(victim, DROPPED, { reason: 'impersonation' }, impBefore + 1),
      impBefore + 1,
    )
    assert.equal(run.done.closedByPeer, false, run.report)

    // Nothing changed: the same members, alive, no restarts; the member's real certificate kept.
    const viewsAfter = await Promise.all(lab.nodes.map((n) => view(n)))
    for (const [i, v] of viewsAfter.entries()) {
      assert.deepEqual(incarnations(v), incarnations(viewsBefore[i]!), `${lab.nodes[i]!.name} view changed`)
      assert.ok(
        v.members.every((m) => m.state === 'alive'),
        `${lab.nodes[i]!.name}: ${JSON.stringify(v.members)}`,
      )
    }
    await noViewLists([me.id])
    const captured = run.lines.find((l) => l.event === 'captured' && l.member)!
    const member = lab.nodes.find((n) => idOf(n) === captured.member)!
    const check = await runRogue(victim, 'listen')
    neverCertified.add(check.id)
    const shown = check.done.certs ?? {}
    assert.equal(shown[me.id], undefined, `${victim.name} holds no certificate for the rogue`)
    assert.equal(
      shown[idOf(member)],
      sha256Hex((await nodeCert(member)).cert),
      `${victim.name} still holds ${member.name}'s real certificate`,
    )
  })
})

describe('the 7443 API refuses bad client certificates and bad bodies', () => {
  it('the admin certificate works (the control for everything below)', async () => {
    const r = await tlsCall(founder, '/api/v1/whoami', admin)
    assert.equal(r.status, 200, JSON.stringify(r))
    assert.equal(r.body.profile, 'admin')
  })

  it('an expired admin certificate → 401 expired, and it cannot act', async () => {
    const threeDaysAgo = manualClock(Date.now() - 3 * dayMs)
    const expired = issueCertificate({
      profile: 'admin',
      identity: {},
      ca: { certPem: caPem, keyPem: caKeyPem },
      clock: threeDaysAgo,
      validityMs: dayMs,
    })
    assert.ok(expired.notAfterMs < Date.now(), 'the certificate is expired')
    const before = await counter(founder, API_REJECTED, { reason: 'expired' })
    const mat = { cert: expired.certPem, key: expired.keyPem }
    const who = await tlsCall(founder, '/api/v1/whoami', mat)
    assert.equal(who.status, 401, JSON.stringify(who))
    assert.equal(who.body.reason, 'expired')
    assert.match(String(who.body.message), /expired/)
    const act = await tlsCall(founder, '/api/v1/settings', {
      ...mat,
      method: 'POST',
      body: JSON.stringify({ joinPolicy: 'approve' }),
    })
    assert.equal(act.status, 401, JSON.stringify(act))
    assert.equal(await counter(founder, API_REJECTED, { reason: 'expired' }), before + 2)
    assert.equal((await readClusterFile(statePaths(founder.stateDir).clusterFile))?.joinPolicy, 'auto')
  })

  it('an agent (non-admin) certificate may read but not approve → 403', async () => {
    const agent = await nodeCert(lab.nodes[1]!)
    const who = await tlsCall(founder, '/api/v1/whoami', agent)
    assert.equal(who.status, 200, JSON.stringify(who))
    assert.equal(who.body.profile, 'agent')
    const r = await tlsCall(founder, '/api/v1/approve', {
      ...agent,
      method: 'POST',
      body: JSON.stringify({ node: lab.nodes[2]!.name }),
    })
    assert.equal(r.status, 403, JSON.stringify(r))
    assert.match(String(r.body.message), /admin certificate/)
  })

  it('no client certificate → 401 no-certificate', async () => {
    const r = await tlsCall(founder, '/api/v1/whoami')
    assert.equal(r.status, 401, JSON.stringify(r))
    assert.equal(r.body.reason, 'no-certificate')
  })

  it("another CA's admin certificate → refused (TLS error or 401)", async (t) => {
    const foreignCa = createCa({ clusterId: 'c-foreign', clusterName: 'elsewhere', clock: systemClock() })
    const foreign = issueCertificate({ profile: 'admin', identity: {}, ca: foreignCa, clock: systemClock() })
    const r = await tlsCall(founder, '/api/v1/whoami', { cert: foreign.certPem, key: foreign.keyPem })
    t.diagnostic(
      `foreign certificate: ${r.status === 0 ? `TLS error ${r.error}` : `${r.status} ${JSON.stringify(r.body)}`}`,
    )
    if (r.status === 0) assert.ok(r.error, 'the handshake was refused')
    else {
      assert.equal(r.status, 401, JSON.stringify(r))
      assert.equal(r.body.reason, 'wrong-ca')
    }
  })

  it('POST /api/v1/approve: 20 KB body → 413; malformed JSON → 400; wrong fields → 400 naming them', async () => {
    const post = (body: string) => tlsCall(founder, '/api/v1/approve', { ...admin, method: 'POST', body })
    const big = await post(JSON.stringify({ node: 'x'.repeat(20 * 1024) }))
    assert.equal(big.status, 413, JSON.stringify(big))
    const bad = await post('{"node": ')
    assert.equal(bad.status, 400, JSON.stringify(bad))
    const wrongType = await post(JSON.stringify({ node: 42 }))
    assert.equal(wrongType.status, 400, JSON.stringify(wrongType))
    assert.match(String(wrongType.body.message), /^node: /)
    const extra = await post(JSON.stringify({ node: 'pi', nodes: ['x'] }))
    assert.equal(extra.status, 400, JSON.stringify(extra))
    assert.match(String(extra.body.message), /nodes/)
    const missing = await post(JSON.stringify({ name: 'pi' }))
    assert.equal(missing.status, 400, JSON.stringify(missing))
    assert.match(String(missing.body.message), /node|name/)
    // Nothing was approved by any of it.
    const approvals = await readFile(statePaths(founder.stateDir).approvals, 'utf8').catch(() => '')
    assert.ok(!approvals.includes('"pi"'), approvals)
  })

  // Runs last: it takes a member out of the lab.
  it("a revoked node's own certificate → 401 revoked on another node, once the revocation spread", async () => {
    const revoked = lab.nodes[2]!
    const judge = lab.nodes[1]!
    const mat = await nodeCert(revoked)
    const before = await tlsCall(judge, '/api/v1/whoami', mat)
    assert.equal(before.status, 200, `works before revocation: ${JSON.stringify(before)}`)
    // A second valid certificate of the same node, as it holds after a renewal: the
    // revocation list names only the serial the signer knows (checked in the next test).
    const second = issueCertificate({
      profile: 'agent',
      identity: { nodeId: idOf(revoked), nodeName: revoked.name, ips: [revoked.address] },
      ca: { certPem: caPem, keyPem: caKeyPem },
      clock: systemClock(),
      validityMs: dayMs,
    })
    revokedSecond = { cert: second.certPem, key: second.keyPem }
    const secondBefore = await tlsCall(judge, '/api/v1/whoami', revokedSecond)
    assert.equal(secondBefore.status, 200, JSON.stringify(secondBefore))
    const cli = await execFileP(
      process.execPath,
      [cliPath, 'revoke', revoked.name, '--admin', join(lab.dir, 'admin.json'), '--reason', 'test'],
      { cwd: repoRoot, timeout: 60_000 },
    )
    assert.match(cli.stdout, new RegExp(`revoked ${revoked.name}`))
    let last: TlsAnswer | undefined
    await waitFor(
      async () => {
        last = await tlsCall(judge, '/api/v1/whoami', mat)
        return last.status === 401 ? true : `${judge.name} still answers ${last.status}`
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    )
    assert.equal(last?.body.reason, 'revoked', JSON.stringify(last))
    const onFounder = await tlsCall(founder, '/api/v1/whoami', mat)
    assert.equal(onFounder.status, 401, JSON.stringify(onFounder))
    assert.equal(onFounder.body.reason, 'revoked')
    assert.ok((await counter(judge, API_REJECTED, { reason: 'revoked' })) > 0)
    // The mesh lets it go too: it drops out of the others' views.
    await waitFor(
      async () => {
        for (const n of [founder, judge]) {
          const v = await view(n)
          if (v.members.some((m) => m.name === revoked.name && m.state === 'alive'))
            return `${n.name} still lists ${revoked.name} alive`
        }
        return true
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    )
  })
})

describe('after the revocation', () => {
  it('another certificate of the revoked node (e.g. the one before a renewal) → 401 revoked', {}, async () => {
    assert.ok(revokedSecond, 'the revocation test ran')
    const r = await tlsCall(lab.nodes[1]!, '/api/v1/whoami', revokedSecond)
    assert.equal(r.status, 401, JSON.stringify(r))
    assert.equal(r.body.reason, 'revoked')
  })
})

describe('after all of it', () => {
  it('every agent is still up; no rogue holds a certificate or appears in a view', async () => {
    for (const n of lab.nodes) {
      assert.ok(n.pid && (await isLabProcess(n.pid, lab.dir)), `${n.name} process alive`)
      const res = await fetch(new URL('/healthz', nodeUrl(n)), { signal: AbortSignal.timeout(5000) })
      assert.equal(res.status, 200, `${n.name} /healthz`)
    }
    assert.ok(neverCertified.size >= 6, [...neverCertified].join(', '))
    await noViewLists(neverCertified)
    const listen = await runRogue(founder, 'listen')
    const shown = Object.keys(listen.done.certs ?? {})
    assert.ok(shown.includes(idOf(founder)), `the founder shows its certificates: ${shown}`)
    for (const id of neverCertified)
      assert.ok(!shown.includes(id), `the founder holds a certificate for ${id}`)
    const v = await view(founder)
    for (const n of lab.nodes.slice(0, 2)) {
      assert.equal(v.members.find((m) => m.name === n.name)?.state, 'alive', `${n.name} on the founder`)
    }
  })
})

describe('`homecloud init` over an existing cluster', () => {
  const watched = ['pki/ca.crt', 'pki/ca.key', 'pki/node.crt', 'join.json', 'cluster.json', 'admin.json']
  const run = (args: string[]) =>
    execFileP(process.execPath, [cliPath, 'init', ...args], { cwd: repoRoot, timeout: 120_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({
        code: typeof err.code === 'number' ? err.code : -1,
        stdout: err.stdout ?? '',
        stderr: err.stderr ?? '',
      }),
    )
  const snapshot = async (dir: string) =>
    Object.fromEntries(
      await Promise.all(watched.map(async (f) => [f, await readFile(join(dir, f))] as const)),
    )

  it('a second init exits 1 with "already holds a cluster" and changes no byte; --force founds anew', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hc-test-init-'))
    onCleanup(() => rm(dir, { recursive: true, force: true }))
    const state = join(dir, 'state')
    const first = await run(['--state', state, '--host', '127.0.0.1'])
    assert.equal(first.code, 0, JSON.stringify(first))
    const before = await snapshot(state)
    const listing = async () => (await readdir(state, { recursive: true })).sort()
    const filesBefore = await listing()
    const clusterBefore = await readClusterFile(statePaths(state).clusterFile)

    const second = await run(['--state', state, '--host', '127.0.0.1'])
    assert.equal(second.code, 1, JSON.stringify(second))
    assert.match(second.stderr, /already holds a cluster/)
    assert.match(second.stderr, /--force/)
    const afterSecond = await snapshot(state)
    for (const f of watched) assert.ok(afterSecond[f]!.equals(before[f]!), `${f} changed`)
    assert.deepEqual(await listing(), filesBefore, 'no file added or removed')

    const forced = await run(['--state', state, '--host', '127.0.0.1', '--force'])
    assert.equal(forced.code, 0, JSON.stringify(forced))
    const clusterAfter = await readClusterFile(statePaths(state).clusterFile)
    assert.ok(clusterBefore && clusterAfter)
    assert.notEqual(clusterAfter.id, clusterBefore.id, 'a new cluster id')
    assert.match(forced.stdout, new RegExp(clusterAfter.id))
    const renewed = await snapshot(state)
    assert.ok(!renewed['pki/ca.crt']!.equals(before['pki/ca.crt']!), 'a new CA')
    assert.notEqual(
      (await readJoinMaterial(statePaths(state).joinFile))?.secret,
      JSON.parse(before['join.json']!.toString()).secret,
      'a new join secret',
    )
  })
})
