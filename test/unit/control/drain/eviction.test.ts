import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { backoffDelayMs } from '../../../../agent/core/backoff.js'
import { cordonPatch, drainStateOf, undrainPatch } from '../../../../control/drain/annotations.js'
import { classifyEviction, evictionBackoff } from '../../../../control/drain/eviction.js'

describe('classifyEviction', () => {
  it('a 429 naming a budget is a PDB block with that budget', () => {
    const v = classifyEviction(
      {
        kind: 'refused',
        status: 429,
        reason: 'TooManyRequests',
        message: "Cannot evict pod as it would violate the pod's disruption budget.",
        causes: ['DisruptionBudget: The disruption budget web-pdb needs 3 healthy pods and has 3 currently'],
      },
      'shop',
      ['shop/other'],
    )
    assert.deepEqual(v.kind, 'pdb')
    assert.equal(v.kind === 'pdb' && v.pdb, 'shop/web-pdb')
  })

  it('a budget block that names none falls back to the budget covering the pod', () => {
    const v = classifyEviction(
      {
        kind: 'refused',
        status: 429,
        reason: '',
        message: "would violate the pod's disruption budget",
        causes: [],
      },
      'ns',
      ['ns/cover'],
    )
    assert.equal(v.kind === 'pdb' && v.pdb, 'ns/cover')
  })

  it('two budgets (500) is a PDB problem, a webhook denial is not', () => {
    const two = classifyEviction(
      {
        kind: 'refused',
        status: 500,
        reason: '',
        message:
          'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
        causes: [],
      },
      'ns',
      ['ns/a', 'ns/b'],
    )
    assert.equal(two.kind === 'pdb' && two.pdb, 'ns/a + ns/b')
    const hook = classifyEviction(
      {
        kind: 'refused',
        status: 403,
        reason: 'Forbidden',
        message: 'admission webhook "deny.example" denied the request',
        causes: [],
      },
      'ns',
      ['ns/a'],
    )
    assert.equal(hook.kind, 'denied')
  })

  it('404 is gone; 5xx, 409 and a bare 429 are retried', () => {
    const r = (status: number) =>
      classifyEviction({ kind: 'refused', status, reason: '', message: 'x', causes: [] }, 'ns', []).kind
    assert.equal(r(404), 'gone')
    assert.equal(r(503), 'retry')
    assert.equal(r(409), 'retry')
    assert.equal(r(429), 'retry')
    assert.equal(r(400), 'denied')
    assert.equal(classifyEviction({ kind: 'evicted' }, 'ns', []).kind, 'evicted')
  })
})

describe('eviction backoff', () => {
  // attempt n (0-based) is backoff retry n + 1
  const evictionBackoffMs = (attempt: number, random: number) =>
    backoffDelayMs(attempt + 1, evictionBackoff, random)
  it('grows, is bounded, and jitters within ±25 %', () => {
    assert.equal(evictionBackoffMs(0, 0.5), 1000)
    assert.equal(evictionBackoffMs(1, 0.5), 2000)
    assert.equal(evictionBackoffMs(20, 0.5), 10_000)
    assert.equal(evictionBackoffMs(0, 0), 750)
    assert.equal(evictionBackoffMs(0, 1), 1250)
    assert.equal(
      evictionBackoffMs(50, 1),
      10_000,
      'the cap is a true maximum (it was 12.5 s before the one backoff function)',
    )
  })
})

describe('cordon bookkeeping', () => {
  const node = (unschedulable: boolean, annotations: Record<string, string> = {}) => ({
    metadata: { name: 'w1', resourceVersion: '7', annotations },
    spec: { unschedulable },
  })

  it('claims the cordon only when homecloud makes it', () => {
    const fresh = cordonPatch(node(false), 42, 't') as { metadata: { annotations: Record<string, unknown> } }
    assert.equal(fresh.metadata.annotations['homecloud.dev/cordoned-by'], 'homecloud')
    assert.equal(fresh.metadata.annotations['homecloud.dev/drain-lock-token'], '42')
    const users = cordonPatch(node(true), 42, 't') as { metadata: { annotations: Record<string, unknown> } }
    assert.equal(users.metadata.annotations['homecloud.dev/cordoned-by'], undefined)
    assert.equal(users.metadata.annotations['homecloud.dev/drain-status'], 'draining')
  })

  it('writes why when the asker said (a shutdown drain), clears it on every other cordon and on undrain', () => {
    const ann = (p: object) =>
      (p as { metadata: { annotations: Record<string, unknown> } }).metadata.annotations
    assert.equal(ann(cordonPatch(node(false), 42, 't', 'shutdown'))['homecloud.dev/drain-reason'], 'shutdown')
    assert.equal(ann(cordonPatch(node(false), 42, 't'))['homecloud.dev/drain-reason'], null)
    const back = node(true, {
      'homecloud.dev/cordoned-by': 'homecloud',
      'homecloud.dev/drain-reason': 'shutdown',
    })
    assert.equal(drainStateOf(back).reason, 'shutdown')
    assert.equal(ann(undrainPatch(back).patch)['homecloud.dev/drain-reason'], null)
  })

  it('undrain uncordons only what homecloud cordoned', () => {
    const ours = undrainPatch(
      node(true, { 'homecloud.dev/cordoned-by': 'homecloud', 'homecloud.dev/drain-status': 'drained' }),
    )
    assert.equal(ours.uncordons, true)
    assert.deepEqual((ours.patch as { spec?: unknown }).spec, { unschedulable: false })
    const theirs = undrainPatch(node(true, { 'homecloud.dev/drain-status': 'drained' }))
    assert.equal(theirs.uncordons, false)
    assert.equal((theirs.patch as { spec?: unknown }).spec, undefined)
    assert.equal(drainStateOf(node(true, { 'homecloud.dev/drain-status': 'bogus' })).status, null)
  })
})
