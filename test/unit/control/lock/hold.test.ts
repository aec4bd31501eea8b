import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { rolloutHoldOf } from '../../../../control/lock/hold.js'
import { signCaRecord } from '../../../../control/releases/records.js'
import { newRollout, type RolloutBody } from '../../../../control/rollout/record.js'

// The rollout's hold on the cluster lock, read from the rollout record's value: the node
// in progress, or nothing; anything that is not a rollout record is named, never read as
// "holds nothing".

const base = newRollout(null, {
  clusterId: 'c1',
  target: { version: '2.0.0', releases: { amd64: { id: 'a'.repeat(64), version: '2.0.0' } } },
  canary: 1,
  nowMs: 5000,
  retryBad: false,
})
// The signature is not what the hold checks (etcd's access control guards the key): any text will do.
const wrap = (body: RolloutBody) => JSON.stringify({ body, sig: 'x' })

describe('rolloutHoldOf', () => {
  it('no record, or no node in progress: no hold', () => {
    assert.deepEqual(rolloutHoldOf(undefined), { ok: true, hold: null })
    assert.deepEqual(rolloutHoldOf(wrap(base)), { ok: true, hold: null })
    // A halted rollout that finished its node holds nothing either.
    assert.deepEqual(rolloutHoldOf(wrap({ ...base, phase: 'halted' })), { ok: true, hold: null })
  })

  it('the node in progress, whatever the phase (a paused or aborted rollout still finishes it)', () => {
    const current = {
      node: 'id2',
      name: 'w2',
      arch: 'amd64' as const,
      step: 'revert' as const,
      startedAtMs: 6000,
      stepSinceMs: 7000,
    }
    for (const phase of ['running', 'paused', 'halted', 'aborted'] as const)
      assert.deepEqual(rolloutHoldOf(wrap({ ...base, phase, current })), {
        ok: true,
        hold: { node: 'w2', step: 'revert', sinceMs: 6000 },
      })
  })

  it('reads a CA-signed record as written', () => {
    const text = signCaRecord('rollout', base, readKey())
    assert.deepEqual(rolloutHoldOf(text), { ok: true, hold: null })
  })

  it('names what is wrong with anything else', () => {
    assert.deepEqual(rolloutHoldOf('{'), { ok: false, error: '/homecloud/rollout is not JSON' })
    for (const v of [
      'null',
      '{}',
      '{"body":{"v":2}}',
      JSON.stringify({ body: { ...base, current: { node: 'x' } } }),
    ])
      assert.deepEqual(rolloutHoldOf(v), { ok: false, error: '/homecloud/rollout is not a rollout record' })
  })
})

let key: string | null = null
function readKey(): string {
  key ??= generateKeyPairSync('rsa', { modulusLength: 1024 })
    .privateKey.export({ format: 'pem', type: 'pkcs8' })
    .toString()
  return key
}
