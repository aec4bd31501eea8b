import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { JOIN_ASK_TIMEOUT_MS } from '../../../../agent/trust/joiner.js'
import {
  type IssueRequest,
  PENDING_FORGET_MS,
  SHARE_WITH_SIGNERS_MS,
  type SignerEvent,
  type SignerState,
  signerStart,
  signerStep,
} from '../../../../agent/trust/signer.js'
import { conn, ofKind, sent, who } from './fixtures.js'

const c = conn()
const join = (over: Partial<Extract<SignerEvent, { kind: 'join-request' }>> = {}): SignerEvent => ({
  kind: 'join-request',
  conn: c,
  who: who(),
  name: 'pi4-2',
  csrPem: 'CSR-1',
  proofOk: true,
  heldSameKey: false,
  code: 'ABC-DEF',
  policy: 'auto',
  approved: false,
  ...over,
})
const request: IssueRequest = { nodeId: 'n1', name: 'pi4-2', csrPem: 'CSR-1', purpose: 'join' }

function run(s: SignerState, events: SignerEvent[], nowMs = 1000) {
  const effects = []
  for (const e of events) {
    const r = signerStep(s, e, nowMs)
    s = r.state
    effects.push(...r.effects)
  }
  return { state: s, effects }
}

describe('signer: joins', () => {
  test('a proven join under auto is issued; the issued certificate is kept, replied with proof, counted', () => {
    const asked = signerStep(signerStart(), join(), 0)
    assert.deepEqual(ofKind(asked.effects, 'issue'), [{ kind: 'issue', conn: c, request }])
    const done = signerStep(
      asked.state,
      { kind: 'issued', conn: c, request, certPem: 'CERT-1', serial: '1f' },
      0,
    )
    assert.deepEqual(ofKind(done.effects, 'remember-cert'), [
      { kind: 'remember-cert', nodeId: 'n1', certPem: 'CERT-1' },
    ])
    assert.deepEqual(ofKind(done.effects, 'reply-join-signed'), [
      { kind: 'reply-join-signed', conn: c, nodeId: 'n1', certPem: 'CERT-1' },
    ])
    assert.deepEqual(
      ofKind(done.effects, 'count').map((f) => [f.name, f.labels]),
      [
        ['homecloud_certificates_signed_total', { mode: 'join' }],
        ['homecloud_joins_total', undefined],
      ],
    )
    assert.deepEqual(ofKind(done.effects, 'event')[0]?.event.kind, 'admitted')
  })

  test('answered again: a certificate for the CSR key held (ours or another signer) → that certificate, no new signature', () => {
    // Ours (kept in the book when issued) or another signer's that reached our book: the same.
    const held = who({ member: true, heldCertPem: 'CERT-1' })
    const again = signerStep(signerStart(), join({ who: held, heldSameKey: true }), 0)
    assert.deepEqual(
      again.effects.map((f) => f.kind),
      ['count', 'reply-join-signed'],
    )
    assert.equal(ofKind(again.effects, 'count')[0]?.name, 'homecloud_joins_answered_again_total')
    assert.deepEqual(ofKind(again.effects, 'count')[0]?.labels, { by: 'signer' })
    assert.equal(ofKind(again.effects, 'reply-join-signed')[0]?.certPem, 'CERT-1')
    // Not answered again: another key, an unproven request, a certificate no longer valid, revoked.
    for (const e of [
      join({ who: held, heldSameKey: false }),
      join({ who: held, heldSameKey: true, proofOk: false }),
      join({ who: who({ member: false, heldCertPem: 'CERT-1' }), heldSameKey: true }),
      join({ who: who({ member: true, revoked: true, heldCertPem: 'CERT-1' }), heldSameKey: true }),
    ]) {
      const r = signerStep(signerStart(), e, 0)
      assert.equal(ofKind(r.effects, 'reply-join-signed').length, 0, JSON.stringify(e.kind))
    }
  })

  test('a certificate just issued goes to every peer at once, so a signer the joiner asks next answers with it', () => {
    const asked = signerStep(signerStart(), join(), 0)
    const done = signerStep(
      asked.state,
      { kind: 'issued', conn: c, request, certPem: 'CERT-1', serial: '1f' },
      0,
    )
    assert.deepEqual(ofKind(done.effects, 'broadcast')[0]?.msg, { t: 'certs', certs: ['CERT-1'] })
    // …and to the other signers, linked to for a while (with bounded links they may be none of ours).
    assert.deepEqual(ofKind(done.effects, 'reach-signers'), [
      { kind: 'reach-signers', forMs: SHARE_WITH_SIGNERS_MS },
    ])
    assert.ok(SHARE_WITH_SIGNERS_MS > JOIN_ASK_TIMEOUT_MS, 'held past the joiner’s wait for our answer')
  })

  test('a revoked node answered again? never: its repeat is refused', () => {
    const first = run(signerStart(), [
      join(),
      { kind: 'issued', conn: c, request, certPem: 'CERT-1', serial: '1f' },
    ])
    const r = signerStep(
      first.state,
      join({ who: who({ revoked: true, member: false, heldCertPem: undefined }) }),
      0,
    )
    assert.deepEqual(sent(r.effects), ['send:join-refused:revoked'])
  })
})

describe('signer: refusals', () => {
  test('refusals: bad proof, revoked, name taken — each counted, logged and answered with its reason', () => {
    const cases: [SignerEvent, string][] = [
      [join({ proofOk: false }), 'bad-proof'],
      [join({ who: who({ revoked: true }) }), 'revoked'],
      [join({ name: 'pi5-1' }), 'name-taken'],
    ]
    for (const [e, reason] of cases) {
      const r = signerStep(signerStart(), e, 0)
      assert.deepEqual(sent(r.effects), [`send:join-refused:${reason}`])
      assert.deepEqual(ofKind(r.effects, 'count')[0]?.labels, { reason })
      assert.equal(ofKind(r.effects, 'issue').length, 0, 'nothing is signed')
    }
  })

  test('bad CSR: signing failed → refused bad-csr, the reason quoted but bounded', () => {
    const long = `PKI_CSR_INVALID: ${'x'.repeat(900)}`
    const r = signerStep(signerStart(), { kind: 'issue-failed', conn: c, request, message: long }, 0)
    const reply = ofKind(r.effects, 'send')[0]?.msg as { t: string; reason: string; message: string }
    assert.equal(reply.t, 'join-refused')
    assert.equal(reply.reason, 'bad-csr')
    assert.ok(reply.message.length <= 500 && reply.message.endsWith('…'))
    assert.equal(ofKind(r.effects, 'remember-cert').length, 0)
  })
})

describe('signer: pending joiners', () => {
  test('approve policy: pending once (listed, gossiped, on the timeline), then only the reply; approved → issued', () => {
    const first = signerStep(signerStart(), join({ policy: 'approve' }), 1000)
    assert.deepEqual(sent(first.effects), ['broadcast:pending', 'send:join-pending'])
    assert.equal(ofKind(first.effects, 'event')[0]?.event.kind, 'pending')
    assert.deepEqual(
      [...first.state.pending.values()].map((p) => [p.id, p.code, p.sinceMs]),
      [['n1', 'ABC-DEF', 1000]],
    )
    const again = signerStep(first.state, join({ policy: 'approve' }), 5000)
    assert.deepEqual(sent(again.effects), ['send:join-pending'])
    assert.equal(again.state.pending.get('n1')?.sinceMs, 1000, 'waiting since the first ask')
    const approved = signerStep(again.state, join({ policy: 'approve', approved: true }), 6000)
    assert.equal(ofKind(approved.effects, 'issue').length, 1)
    const issued = signerStep(
      approved.state,
      { kind: 'issued', conn: c, request, certPem: 'C', serial: '1' },
      6000,
    )
    assert.equal(issued.state.pending.size, 0, 'signed: no longer pending')
    assert.deepEqual(sent(issued.effects), ['broadcast:certs', 'broadcast:pending'])
  })

  test('a joiner silent for five minutes is no longer listed; a new connection is told who waits', () => {
    const s = signerStep(signerStart(), join({ policy: 'approve' }), 0).state
    assert.deepEqual(sent(signerStep(s, { kind: 'connected', conn: c }, 0).effects), ['send:pending'])
    assert.deepEqual(signerStep(s, { kind: 'tick' }, PENDING_FORGET_MS).effects, [])
    const later = signerStep(s, { kind: 'tick' }, PENDING_FORGET_MS + 1)
    assert.equal(later.state.pending.size, 0)
    assert.deepEqual(sent(later.effects), ['broadcast:pending'])
  })
})

describe('signer: renewals and node certificates', () => {
  const renew = (w = who({ member: true })): SignerEvent => ({
    kind: 'renew-request',
    conn: c,
    who: w,
    name: 'pi4-2',
    csrPem: 'CSR-R',
  })

  test('a member renews under any policy; no valid certificate or revoked → refused', () => {
    assert.equal(ofKind(signerStep(signerStart(), renew(), 0).effects, 'issue')[0]?.request.purpose, 'renew')
    assert.deepEqual(sent(signerStep(signerStart(), renew(who()), 0).effects), [
      'send:renew-refused:no-valid-cert',
    ])
    assert.deepEqual(
      sent(signerStep(signerStart(), renew(who({ member: true, revoked: true })), 0).effects),
      ['send:renew-refused:revoked'],
    )
    const taken = { ...renew(), name: 'pi5-1' }
    assert.deepEqual(sent(signerStep(signerStart(), taken, 0).effects), ['send:renew-refused:name-taken'])
  })

  test('renewed: the new certificate is kept and sent back; nothing about pending changes', () => {
    const req: IssueRequest = { ...request, purpose: 'renew' }
    const r = signerStep(
      signerStart(),
      { kind: 'issued', conn: c, request: req, certPem: 'NEW', serial: '2' },
      0,
    )
    assert.deepEqual(sent(r.effects), ['send:renewed'])
    assert.equal(ofKind(r.effects, 'remember-cert').length, 1)
  })

  test('node certificates: only a member, only its own name; a CSR the policy refuses → bad-csr', () => {
    const ask = (w: ReturnType<typeof who>, name = 'pi4-2'): SignerEvent => ({
      kind: 'node-cert-request',
      conn: c,
      who: w,
      profile: 'kubelet',
      name,
      csrPem: 'CSR-K',
    })
    const member = who({ member: true, recordName: 'pi4-2' })
    assert.equal(
      ofKind(signerStep(signerStart(), ask(member), 0).effects, 'issue')[0]?.request.purpose,
      'kubelet',
    )
    for (const [w, name, reason] of [
      [member, 'pi5-1', 'name-not-own'],
      [who({ recordName: 'pi4-2' }), 'pi4-2', 'not-member'],
      [who({ member: true }), 'pi4-2', 'unknown-node'],
      [who({ member: true, revoked: true, recordName: 'pi4-2' }), 'pi4-2', 'revoked'],
    ] as const) {
      const r = signerStep(signerStart(), ask(w, name), 0)
      assert.deepEqual(sent(r.effects), [`send:node-cert-refused:${reason}`])
      assert.deepEqual(ofKind(r.effects, 'count')[0]?.labels, { profile: 'kubelet', reason })
    }
    const req: IssueRequest = { ...request, purpose: 'kubelet' }
    const failed = signerStep(
      signerStart(),
      { kind: 'issue-failed', conn: c, request: req, message: 'no' },
      0,
    )
    assert.deepEqual(sent(failed.effects), ['send:node-cert-refused:bad-csr'])
  })
})
