import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { ClusterFile, ClusterSettings } from '../../../../agent/state/cluster-file.js'
import {
  type SettingsEffect,
  type SettingsEvent,
  type SettingsState,
  settingsStart,
  settingsStep,
} from '../../../../agent/trust/settings.js'
import { SignedSettings, signSettings, verifySettings } from '../../../../agent/trust/signed-settings.js'
import { testCa } from '../pki/fixtures.js'
import { ofKind } from './fixtures.js'

const cluster: ClusterFile = {
  v: 1,
  id: '0123456789abcdef',
  name: 'home',
  joinPolicy: 'auto',
  certValidityMs: 86_400_000,
  settingsVersion: 0,
}

function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x = (x * 1664525 + 1013904223) >>> 0
    return x / 2 ** 32
  }
}

/** Settings machines on n nodes; the first `signers` sign; every broadcast reaches every other node. */
class Cluster {
  readonly states: SettingsState[]
  private readonly queue: { to: number; signed: SignedSettings }[] = []

  constructor(
    readonly n: number,
    private readonly rand: () => number,
  ) {
    this.states = Array.from({ length: n }, () => settingsStart(cluster, null))
  }

  feed(i: number, e: SettingsEvent): void {
    const r = settingsStep(this.states[i]!, e)
    this.states[i] = r.state
    for (const f of r.effects) this.apply(i, f)
  }

  private apply(i: number, f: SettingsEffect): void {
    if (f.kind === 'sign')
      this.feed(i, { kind: 'issued', signed: signSettings(f.version, f.settings, testCa().keyPem) })
    if (f.kind === 'broadcast' && f.msg.t === 'settings')
      for (let j = 0; j < this.n; j++) if (j !== i) this.queue.push({ to: j, signed: f.msg.signed })
  }

  settle(): void {
    while (this.queue.length > 0) {
      const [m] = this.queue.splice(Math.floor(this.rand() * this.queue.length), 1)
      this.feed(m!.to, { kind: 'received', signed: m!.signed })
    }
  }
}

describe('cluster settings', () => {
  test('a change is signed as the next version, adopted, saved with its signature, passed on', () => {
    const r = settingsStep(settingsStart(cluster, null), {
      kind: 'change',
      change: { joinPolicy: 'approve' },
    })
    const sign = ofKind(r.effects, 'sign')[0]!
    assert.equal(sign.version, 1)
    assert.equal(sign.settings.joinPolicy, 'approve')
    const signed = signSettings(sign.version, sign.settings, testCa().keyPem)
    const adopted = settingsStep(r.state, { kind: 'issued', signed })
    assert.deepEqual(
      adopted.effects.map((f) => f.kind),
      ['save', 'log', 'broadcast'],
    )
    assert.equal(adopted.state.cluster.joinPolicy, 'approve')
    assert.equal(adopted.state.cluster.settingsVersion, 1)
    assert.deepEqual(
      adopted.state.intent,
      { version: 1, change: { joinPolicy: 'approve' } },
      'kept until a higher version',
    )
    assert.deepEqual(ofKind(adopted.effects, 'save')[0]?.signed, signed)
  })

  test('older, equal or foreign settings change nothing', () => {
    const v1 = signSettings(1, { ...cluster, joinPolicy: 'approve' } as ClusterSettings, testCa().keyPem)
    const s = settingsStep(settingsStart(cluster, null), { kind: 'received', signed: v1 }).state
    assert.deepEqual(settingsStep(s, { kind: 'received', signed: v1 }).effects, [])
    const foreign = signSettings(5, { ...v1.settings, id: 'ffffffffffffffff' }, testCa().keyPem)
    assert.deepEqual(settingsStep(s, { kind: 'received', signed: foreign }).effects, [])
  })

  test('two signers changing at once: every node agrees, and neither change is lost', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const cl = new Cluster(4, seeded(seed))
      cl.feed(0, { kind: 'change', change: { joinPolicy: 'approve' } })
      cl.feed(1, { kind: 'change', change: { certValidityMs: 7 * 86_400_000 } })
      cl.settle()
      const first = cl.states[0]!
      for (const s of cl.states) assert.deepEqual(s.cluster, first.cluster, `seed ${seed}`)
      assert.equal(first.cluster.joinPolicy, 'approve', `seed ${seed}`)
      assert.equal(first.cluster.certValidityMs, 7 * 86_400_000, `seed ${seed}`)
      assert.equal(first.cluster.settingsVersion, 2, `seed ${seed}: the loser went on top, once`)
    }
  })

  test('two signers setting the same field to different values: every node agrees on one of them', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const cl = new Cluster(4, seeded(seed))
      cl.feed(0, { kind: 'change', change: { certValidityMs: 2 * 86_400_000 } })
      cl.feed(1, { kind: 'change', change: { certValidityMs: 3 * 86_400_000 } })
      cl.settle()
      const first = cl.states[0]!.cluster
      for (const s of cl.states) assert.deepEqual(s.cluster, first, `seed ${seed}`)
      assert.ok([2, 3].includes(first.certValidityMs / 86_400_000))
    }
  })

  test('after a restart the signed document is passed on only if it matches the stored version', () => {
    const v1 = signSettings(1, { ...cluster, joinPolicy: 'approve' } as ClusterSettings, testCa().keyPem)
    const conn = { remoteKeyHex: 'x' } as never
    const held = settingsStart({ ...cluster, settingsVersion: 1 }, v1)
    assert.deepEqual(settingsStep(held, { kind: 'connected', conn }).effects.length, 1)
    const stale = settingsStart({ ...cluster, settingsVersion: 2 }, v1)
    assert.deepEqual(settingsStep(stale, { kind: 'connected', conn }).effects, [])
  })

  test('a field a newer release added survives an older agent: it verifies, keeps and relays it, and builds on it', () => {
    // What a newer signer sends: every field this release knows, plus one it does not.
    const newer = { ...cluster, futureKnob: 'on' } as ClusterSettings
    const wire = JSON.parse(JSON.stringify(signSettings(1, newer, testCa().keyPem)))
    const parsed = SignedSettings.parse(wire)
    assert.equal(verifySettings(parsed, testCa().certPem, cluster.id), true, 'verifies as received')
    assert.equal((parsed.settings as Record<string, unknown>).futureKnob, 'on', 'kept, so it can be relayed')
    const step = settingsStep(settingsStart(cluster, null), { kind: 'received', signed: parsed })
    const relayed = step.effects.find((f) => f.kind === 'broadcast')
    assert.ok(relayed?.kind === 'broadcast' && relayed.msg.t === 'settings')
    assert.equal(
      verifySettings(relayed.msg.signed, testCa().certPem, cluster.id),
      true,
      'the relayed copy verifies',
    )
    // A later change made on this older signer keeps the newer field.
    const change = settingsStep(step.state, { kind: 'change', change: { joinPolicy: 'approve' } })
    const sign = change.effects.find((f) => f.kind === 'sign')
    assert.ok(sign?.kind === 'sign')
    assert.equal((sign.settings as Record<string, unknown>).futureKnob, 'on')
    assert.equal(sign.settings.joinPolicy, 'approve')
  })
})
