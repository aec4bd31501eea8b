import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createCa } from '../../../../agent/pki/ca.js'
import { signApproval, verifyApproval } from '../../../../agent/trust/approval.js'
import { approvalsStart, approvalsStep, pendingView } from '../../../../agent/trust/approvals.js'
import { testCa, testClock } from '../pki/fixtures.js'
import { conn, sent } from './fixtures.js'

const CLUSTER = 'c-test'
const approval = (nodeId: string) =>
  signApproval({ clusterId: CLUSTER, nodeId, name: `n-${nodeId}`, approvedAtMs: 1 }, testCa().keyPem)

describe('approvals', () => {
  test('a CA-signed approval verifies only with the cluster CA, for this cluster, untampered', () => {
    const a = approval('n1')
    assert.equal(verifyApproval(a, testCa().certPem, CLUSTER), true)
    assert.equal(verifyApproval(a, testCa().certPem, 'other'), false)
    assert.equal(verifyApproval({ ...a, nodeId: 'n2' }, testCa().certPem, CLUSTER), false)
    const other = createCa({ clusterId: CLUSTER, clusterName: 'x', clock: testClock(), keyBits: 2048 })
    assert.equal(verifyApproval(a, other.certPem, CLUSTER), false)
  })

  test('a new approval is kept, saved, on the timeline and passed on; a repeat changes nothing', () => {
    const a = approval('n1')
    const r = approvalsStep(approvalsStart([]), { kind: 'approval', approval: a })
    assert.deepEqual(
      r.effects.map((f) => f.kind),
      ['save', 'event', 'broadcast'],
    )
    assert.equal(r.state.approvals.has('n1'), true)
    assert.deepEqual(approvalsStep(r.state, { kind: 'approval', approval: a }).effects, [])
    assert.deepEqual(sent(approvalsStep(r.state, { kind: 'connected', conn: conn() }).effects), [
      'send:approval',
    ])
  })

  test('approvals and pending entries of nodes that became members are forgotten', () => {
    let s = approvalsStep(approvalsStart([approval('n1'), approval('n2')]), {
      kind: 'pending-list',
      from: 'signer',
      fromMember: true,
      entries: [{ id: 'n2', name: 'b', code: 'X', sinceMs: 0 }],
    }).state
    const r = approvalsStep(s, { kind: 'tick', members: new Set(['n2']) })
    s = r.state
    assert.deepEqual([...s.approvals.keys()], ['n1'])
    assert.deepEqual(
      r.effects.map((f) => f.kind),
      ['save'],
    )
    assert.deepEqual(s.bySigner.get('signer'), [])
    assert.deepEqual(
      approvalsStep(s, { kind: 'tick', members: new Set(['n2']) }).effects,
      [],
      'nothing to save',
    )
  })

  test('pending lists are taken from members only; the view merges every signer and leaves members out', () => {
    const entry = (id: string) => ({ id, name: id, code: 'C', sinceMs: 0 })
    const s0 = approvalsStart([])
    const stranger = approvalsStep(s0, {
      kind: 'pending-list',
      from: 'x',
      fromMember: false,
      entries: [entry('p')],
    })
    assert.equal(stranger.state.bySigner.size, 0)
    const s = approvalsStep(s0, {
      kind: 'pending-list',
      from: 'x',
      fromMember: true,
      entries: [entry('p'), entry('m')],
    })
    const view = pendingView(s.state, [entry('q')], (id) => id === 'm')
    assert.deepEqual(view.map((e) => e.id).sort(), ['p', 'q'])
  })
})
