import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  type JoinerEvent,
  joinerStart,
  joinerStep,
  type SignedReply,
} from '../../../../agent/trust/joiner.js'
import { conn, ofKind } from './fixtures.js'

const c = conn()
const settings = {
  id: '0123456789abcdef',
  name: 'home',
  joinPolicy: 'auto' as const,
  certValidityMs: 86_400_000,
}
const reply = (over: Partial<SignedReply> = {}): JoinerEvent => ({
  kind: 'signed',
  conn: c,
  proofOk: true,
  clusterMatches: true,
  certForUs: true,
  certPem: 'CERT',
  caPem: 'CA',
  cluster: settings,
  ...over,
})

describe('joiner', () => {
  test('asks on every new connection and on every retry', () => {
    const s = joinerStart('ABC-DEF', 'pi4-2', false)
    assert.deepEqual(joinerStep(s, { kind: 'connected', conn: c }).effects, [{ kind: 'ask', conn: c }])
    assert.deepEqual(joinerStep(s, { kind: 'retry' }).effects, [{ kind: 'ask', conn: 'all' }])
  })

  test('a proven reply with our certificate is adopted; adopted → member, which asks nothing more', () => {
    const s = joinerStart('ABC-DEF', 'pi4-2', false)
    const r = joinerStep(s, reply())
    assert.deepEqual(ofKind(r.effects, 'adopt'), [
      { kind: 'adopt', certPem: 'CERT', caPem: 'CA', cluster: settings },
    ])
    const member = joinerStep(r.state, { kind: 'adopted' }).state
    assert.equal(member.status, 'member')
    assert.deepEqual(joinerStep(member, { kind: 'retry' }).effects, [])
    assert.deepEqual(
      joinerStep(member, reply()).effects,
      [],
      'a second signer answering later changes nothing',
    )
  })

  test('a reply that does not prove the secret, names another cluster or carries a certificate not ours is ignored', () => {
    const s = joinerStart('ABC-DEF', 'pi4-2', false)
    for (const bad of [
      reply({ proofOk: false }),
      reply({ clusterMatches: false }),
      reply({ certForUs: false }),
    ]) {
      const r = joinerStep(s, bad)
      assert.equal(ofKind(r.effects, 'adopt').length, 0)
      assert.equal(ofKind(r.effects, 'log')[0]?.level, 'warn')
      assert.equal(r.state.status, 'joining')
    }
  })

  test('pending: said once on the console with the approve command and the code', () => {
    const s = joinerStart('ABC-DEF', 'pi4-2', false)
    const r = joinerStep(s, { kind: 'pending', code: 'ABC-DEF' })
    assert.equal(r.state.status, 'pending')
    assert.match(ofKind(r.effects, 'log')[0]?.text ?? '', /homecloud approve pi4-2.*ABC-DEF/)
    assert.deepEqual(joinerStep(r.state, { kind: 'pending', code: 'ABC-DEF' }).effects, [])
  })

  test('a refusal is counted by reason and logged; the joiner keeps asking (another signer may sign)', () => {
    const s = joinerStart('ABC-DEF', 'pi4-2', false)
    const r = joinerStep(s, { kind: 'refused', from: 'abc', reason: 'bad-proof', message: 'no' })
    assert.deepEqual(ofKind(r.effects, 'count')[0]?.labels, { reason: 'bad-proof' })
    assert.deepEqual(joinerStep(r.state, { kind: 'retry' }).effects, [{ kind: 'ask', conn: 'all' }])
  })
})
