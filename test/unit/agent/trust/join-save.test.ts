import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { manualClock } from '../../../../agent/core/clock.js'
import { Counters } from '../../../../agent/core/counters.js'
import { EventLog } from '../../../../agent/core/event-log.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { SaveLanes, STATE_SAVES_FAILED_TOTAL } from '../../../../agent/core/saves.js'
import type { MeshRouter } from '../../../../agent/mesh/router.js'
import { issueCertificate } from '../../../../agent/pki/sign.js'
import type { ClusterSettings } from '../../../../agent/state/cluster-file.js'
import { CertBook } from '../../../../agent/trust/cert-book.js'
import { Driver } from '../../../../agent/trust/driver.js'
import { certificateGate } from '../../../../agent/trust/gate.js'
import { type CertToSave, saveStep, startSave } from '../../../../agent/trust/join-save.js'
import { applyJoinerEffect, type JoinHost } from '../../../../agent/trust/join-shell.js'
import { type JoinerEffect, joinerStart, joinerStep } from '../../../../agent/trust/joiner.js'
import type { TrustComponents, TrustInit } from '../../../../agent/trust/trust-init.js'
import { startMs, testCa } from '../pki/fixtures.js'
import { conn, ofKind } from './fixtures.js'

const settings = { id: 'c-test', name: 'home' } as ClusterSettings
const enospc = 'cannot write /var/lib/homecloud/pki/node.crt: ENOSPC: no space left on device'

describe('a join certificate is on disk before the node is a member (join-save.ts)', () => {
  const started = (): CertToSave => startSave({ certPem: 'CERT', caPem: 'CA', cluster: settings }).saving

  test('a failed save keeps the node out, says why once (log, event, count), and is tried again each period', () => {
    const failed = saveStep(started(), { kind: 'save-failed', nodeId: 'n1', message: enospc }, 'pxe-0a0b0c')
    assert.ok(failed.saving, 'still saving: not adopted, so not a member anywhere')
    assert.deepEqual(ofKind(failed.effects, 'adopt'), [])
    assert.equal(ofKind(failed.effects, 'log')[0]?.level, 'error')
    assert.match(
      ofKind(failed.effects, 'log')[0]!.text,
      /could not save the certificate: .*ENOSPC.*not joining/,
    )
    const event = ofKind(failed.effects, 'event')[0]!.event
    assert.equal(event.kind, 'certificate-not-saved')
    assert.match(event.message, /^pxe-0a0b0c could not save the certificate/)
    assert.deepEqual(ofKind(failed.effects, 'count'), [
      { kind: 'count', name: STATE_SAVES_FAILED_TOTAL, labels: { what: 'certificate' } },
    ])
    // The period: saved again. While that save runs, the next period starts none.
    const again = saveStep(failed.saving, { kind: 'retry' }, 'pxe-0a0b0c')
    assert.deepEqual(again.effects, [{ kind: 'save', certPem: 'CERT', caPem: 'CA', cluster: settings }])
    assert.deepEqual(saveStep(again.saving!, { kind: 'retry' }, 'pxe-0a0b0c').effects, [])
    // The same failure again: counted only, not said every period.
    const twice = saveStep(
      again.saving!,
      { kind: 'save-failed', nodeId: 'n1', message: enospc },
      'pxe-0a0b0c',
    )
    assert.deepEqual(
      twice.effects.map((f) => f.kind),
      ['count'],
    )
    // Room again: saved, then adopted, with a line saying it took several tries.
    const saved = saveStep(saveStep(twice.saving!, { kind: 'retry' }, 'x').saving!, { kind: 'saved' }, 'x')
    assert.equal(saved.saving, null)
    assert.match(ofKind(saved.effects, 'log')[0]!.text, /saved after 2 failed attempts/)
    assert.deepEqual(ofKind(saved.effects, 'adopt'), [
      { kind: 'adopt', certPem: 'CERT', caPem: 'CA', cluster: settings },
    ])
  })

  test('the shell: the certificate enters the book (the mesh gate opens) only once it is on disk', async () => {
    const clock = manualClock(startMs)
    const ca = testCa()
    const selfId = 'a1b2c3d4e5f6a7b8'
    const issued = issueCertificate({
      ca,
      profile: 'agent',
      identity: { nodeId: selfId, nodeName: 'pxe-0a0b0c', ips: ['10.77.0.9'] },
      clock,
      validityMs: 86_400_000,
    })
    const book = new CertBook(null, 'c-test', () => clock.nowMs())
    const gate = certificateGate(book, selfId)
    const events = new EventLog()
    const counters = new Counters()
    let full = true
    const writes: string[] = []
    const store = {
      saveCertificate: async (m: { certPem: string }) => {
        if (full) throw new Error(enospc)
        writes.push(m.certPem)
      },
    }
    const router = { send: () => {}, broadcast: () => {} } as unknown as MeshRouter
    const c = { identity: { id: selfId }, book, store, log: silentLogger(), events, counters, clock, router }
    const sinks = { router, log: silentLogger(), counters, events, clock }
    const saves = new SaveLanes(() => () => assert.fail('the join save reports its own outcome'))
    const adopted: string[] = []
    const host: JoinHost = {
      init: { secret: 's', nodeName: 'pxe-0a0b0c' } as TrustInit,
      c: c as unknown as TrustComponents,
      joiner: new Driver(joinerStart('ABC-DEF', 'pxe-0a0b0c', false), joinerStep, (f) => apply(f), sinks),
      joinCsr: { csrPem: 'CSR', keyPem: issued.keyPem },
      member: () => adopted.length > 0,
      stopped: () => false,
      saveInLane: (write) => void saves.save('certificate', write),
      adoptSaved: (certPem) => {
        assert.ok(book.add(selfId, certPem).ok)
        adopted.push(certPem)
      },
      connectionsTo: (x) => [x],
    }
    const apply = (f: Exclude<JoinerEffect, { kind: 'send' | 'broadcast' | 'log' | 'count' | 'event' }>) =>
      applyJoinerEffect(host, f)
    const reply = { proofOk: true, clusterMatches: true, certForUs: true, cluster: settings }
    host.joiner.feed({ kind: 'signed', conn: conn(), certPem: issued.certPem, caPem: ca.certPem, ...reply })
    await saves.flushed()
    assert.equal(host.joiner.state.status, 'saving')
    assert.equal(gate.canAdmit(), false, 'the disk is full: the gate stays shut (no record leaves this node)')
    assert.equal(book.get(selfId), undefined)
    assert.deepEqual(
      events.recent().map((e) => e.kind),
      ['certificate-not-saved'],
    )
    assert.equal(counters.get(STATE_SAVES_FAILED_TOTAL, { what: 'certificate' }), 1)
    full = false
    host.joiner.feed({ kind: 'retry', conns: [], monoMs: 0 })
    await saves.flushed()
    assert.deepEqual(writes, [issued.certPem], 'written once there was room')
    assert.deepEqual(adopted, [issued.certPem], 'then adopted: a member')
    assert.equal(host.joiner.state.status, 'member')
    assert.equal(gate.canAdmit(), true)
  })

  test('a certificate the book refuses (unreadable) is never saved: the joiner asks again', async () => {
    const clock = manualClock(startMs)
    const book = new CertBook(null, 'c-test', () => clock.nowMs())
    const router = { send: () => {}, broadcast: () => {} } as unknown as MeshRouter
    const sinks = { router, log: silentLogger(), counters: new Counters(), events: new EventLog(), clock }
    let saved = 0
    const c = {
      identity: { id: 'self' },
      book,
      store: { saveCertificate: async () => void saved++ },
      log: silentLogger(),
    }
    const host: JoinHost = {
      init: { secret: 's', nodeName: 'x' } as TrustInit,
      c: c as unknown as TrustComponents,
      joiner: new Driver(
        joinerStart('ABC-DEF', 'x', false),
        joinerStep,
        (f) => applyJoinerEffect(host, f),
        sinks,
      ),
      joinCsr: { csrPem: 'CSR', keyPem: 'KEY' },
      member: () => false,
      stopped: () => false,
      saveInLane: (write) => void write(),
      adoptSaved: () => assert.fail('nothing to adopt'),
      connectionsTo: (x) => [x],
    }
    const reply = { proofOk: true, clusterMatches: true, certForUs: true, cluster: settings }
    host.joiner.feed({
      kind: 'signed',
      conn: conn(),
      certPem: 'not a certificate',
      caPem: testCa().certPem,
      ...reply,
    })
    assert.equal(saved, 0)
    assert.equal(host.joiner.state.status, 'joining')
  })
})
