import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  abortRollout,
  type PublishedTarget,
  pauseRollout,
  resolveTarget,
  resumeRollout,
  skewProblems,
  startRollout,
} from '../../../../control/rollout/admin.js'
import { RolloutBody } from '../../../../control/rollout/record.js'
import { sha } from './world.js'

const pub = (n: number, version: string, arch: 'amd64' | 'arm64', o: Partial<PublishedTarget> = {}) => ({
  id: sha(n),
  version,
  arch,
  publishedAtMs: n,
  ...o,
})
const published: PublishedTarget[] = [
  pub(1, '1.0.0', 'amd64'),
  pub(2, '2.0.0', 'amd64'),
  pub(3, '2.0.0', 'arm64'),
]
const base = { clusterId: 'c1', canary: 1, retryBad: false, nowMs: 5, published, running: {} }

describe('rollout admin', () => {
  it('a version names every architecture’s newest release of it; an id prefix names one', () => {
    assert.deepEqual(
      resolveTarget('2.0.0', published).map((p) => p.arch),
      ['amd64', 'arm64'],
    )
    assert.deepEqual(
      resolveTarget(sha(3), published).map((p) => p.id),
      [sha(3)],
    )
    assert.deepEqual(resolveTarget('9.9.9', published), [])
  })

  it('starts a schema-valid record with both targets', () => {
    const r = startRollout(null, { ...base, spec: '2.0.0' })
    assert.ok(r.ok)
    RolloutBody.parse(r.body)
    assert.equal(r.body.phase, 'running')
    assert.deepEqual(Object.keys(r.body.target?.releases ?? {}), ['amd64', 'arm64'])
    assert.equal(r.body.version, 1)
  })

  it('refuses: unknown release, a second rollout, a bad release (unless --retry-bad)', () => {
    const unknown = startRollout(null, { ...base, spec: '7.0.0' })
    assert.equal(unknown.ok ? '' : unknown.code, 'RELEASE_UNKNOWN')
    const first = startRollout(null, { ...base, spec: '2.0.0' })
    assert.ok(first.ok)
    const second = startRollout(first.body, { ...base, spec: '1.0.0' })
    assert.match(second.ok ? '' : second.message, /in progress/)
    const halted: RolloutBody = {
      ...first.body,
      phase: 'halted',
      bad: [{ id: sha(2), version: '2.0.0', node: 'x86-4', reason: 'exits at start', atMs: 3 }],
    }
    const bad = startRollout(halted, { ...base, spec: '2.0.0' })
    assert.match(bad.ok ? '' : bad.message, /marked bad: exits at start/)
    const retry = startRollout(halted, { ...base, spec: '2.0.0', retryBad: true })
    assert.ok(retry.ok)
    assert.deepEqual(retry.body.bad, [], 'the admin cleared the mark')
    assert.ok(retry.body.version > halted.version)
  })

  it('version skew: etcd and Kubernetes one minor at a time, never back', () => {
    assert.deepEqual(skewProblems([{ id: sha(1), version: '2', etcd: '3.6.17' }], { etcd: '3.5.21' }), [])
    assert.match(
      skewProblems([{ id: sha(1), version: '2', etcd: '3.6.0' }], { etcd: '3.4.30' })[0] ?? '',
      /skips a minor/,
    )
    assert.match(
      skewProblems([{ id: sha(1), version: '2', kubernetes: 'v1.36.0' }], { kubernetes: 'v1.37.1' })[0] ?? '',
      /goes back/,
    )
    assert.deepEqual(
      skewProblems([{ id: sha(1), version: '2', kubernetes: 'v1.38.0' }], { kubernetes: 'v1.37.1' }),
      [],
    )
    const r = startRollout(null, {
      ...base,
      spec: '2.0.0',
      published: [pub(2, '2.0.0', 'amd64', { kubernetes: 'v1.39.0' })],
      running: { kubernetes: 'v1.37.1' },
    })
    assert.match(r.ok ? '' : r.message, /not a safe upgrade: Kubernetes v1\.37\.1 → v1\.39\.0 skips a minor/)
  })

  it('pause, resume, abort only from the phases they make sense in', () => {
    const r = startRollout(null, { ...base, spec: '2.0.0' })
    assert.ok(r.ok)
    assert.equal(resumeRollout(r.body).ok, false)
    const p = pauseRollout(r.body)
    assert.ok(p.ok)
    assert.equal(p.body.phase, 'paused')
    assert.equal(pauseRollout(p.body).ok, false)
    const q = resumeRollout(p.body)
    assert.ok(q.ok)
    const a = abortRollout(q.body)
    assert.ok(a.ok)
    assert.equal(a.body.phase, 'aborted')
    assert.equal(abortRollout(a.body).ok, false)
    const halted = resumeRollout({ ...a.body, phase: 'halted' })
    assert.match(halted.ok ? '' : halted.hint, /bad release/)
  })
})
