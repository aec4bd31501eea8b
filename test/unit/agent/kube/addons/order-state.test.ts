import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AddonDocument } from '../../../../../agent/kube/addons/documents.js'
import { orderForApply } from '../../../../../agent/kube/addons/order.js'
import { problemFromServer } from '../../../../../agent/kube/addons/server-errors.js'
import {
  emptyAddonState,
  nextAddonState,
  parseAddonState,
  planFiles,
  sha256Hex,
} from '../../../../../agent/kube/addons/state.js'

const doc = (file: string, index: number, kind: string, name = kind.toLowerCase()): AddonDocument => ({
  file,
  index,
  line: index,
  object: { apiVersion: 'v1', kind, metadata: { name } },
})

describe('apply order', () => {
  it('puts namespaces, CRDs and RBAC first and keeps written order within a rank', () => {
    const docs = [
      doc('a.yaml', 1, 'Deployment'),
      doc('a.yaml', 2, 'ClusterRoleBinding'),
      doc('a.yaml', 3, 'Namespace'),
      doc('b.yaml', 1, 'Service'),
      doc('b.yaml', 2, 'CustomResourceDefinition'),
      doc('b.yaml', 3, 'ServiceAccount'),
      doc('b.yaml', 4, 'ConfigMap'),
      doc('b.yaml', 5, 'Namespace', 'second'),
    ]
    assert.deepEqual(
      orderForApply(docs).map((d) => `${d.object.kind}:${d.file}#${d.index}`),
      [
        'Namespace:a.yaml#3',
        'Namespace:b.yaml#5',
        'CustomResourceDefinition:b.yaml#2',
        'ClusterRoleBinding:a.yaml#2',
        'ServiceAccount:b.yaml#3',
        'ConfigMap:b.yaml#4',
        'Deployment:a.yaml#1',
        'Service:b.yaml#1',
      ],
    )
  })
})

describe('change detection', () => {
  const h1 = sha256Hex('one')
  const h2 = sha256Hex('two')
  const state = {
    version: 1 as const,
    files: { 'a.yaml': { sha256: h1, appliedAtMs: 1000 }, 'b.yaml': { sha256: h1, appliedAtMs: 1000 } },
  }

  it('applies new and changed files, skips unchanged ones', () => {
    const plan = planFiles(
      [
        { file: 'a.yaml', sha256: h1 },
        { file: 'b.yaml', sha256: h2 },
        { file: 'c.yaml', sha256: h1 },
      ],
      state,
      2000,
      60_000,
    )
    assert.deepEqual(plan.apply, [
      { file: 'b.yaml', reason: 'changed' },
      { file: 'c.yaml', reason: 'new' },
    ])
    assert.deepEqual(plan.unchanged, ['a.yaml'])
  })

  it('re-applies unchanged files once the resync period has passed', () => {
    const plan = planFiles([{ file: 'a.yaml', sha256: h1 }], state, 1000 + 60_000, 60_000)
    assert.deepEqual(plan.apply, [{ file: 'a.yaml', reason: 'resync' }])
  })

  it('records applied files, keeps the old record of failed ones, forgets removed ones', () => {
    const next = nextAddonState(
      state,
      [
        { file: 'a.yaml', sha256: h2 },
        { file: 'b.yaml', sha256: h2 },
        { file: 'new.yaml', sha256: h2 },
      ],
      new Set(['a.yaml']),
      5000,
    )
    assert.deepEqual(next.files, {
      'a.yaml': { sha256: h2, appliedAtMs: 5000 },
      'b.yaml': { sha256: h1, appliedAtMs: 1000 },
    })
    // b.yaml is still "changed" next time, so it is retried.
    assert.deepEqual(
      planFiles([{ file: 'b.yaml', sha256: h2 }], next, 5001, 60_000).apply.map((a) => a.reason),
      ['changed'],
    )
  })

  it('treats a missing record as empty and a corrupt one as unreadable', () => {
    assert.deepEqual(parseAddonState(undefined), emptyAddonState)
    assert.equal(parseAddonState('{not json'), null)
    assert.equal(
      parseAddonState(JSON.stringify({ version: 1, files: { a: { sha256: 'x', appliedAtMs: 1 } } })),
      null,
    )
    assert.deepEqual(parseAddonState(JSON.stringify(state)), state)
  })
})

describe('API server refusals', () => {
  const d = doc('x.yaml', 2, 'Deployment', 'web')

  it('reads the field from a strict-validation / apply message', () => {
    const body = JSON.stringify({
      kind: 'Status',
      message:
        'failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers[0].bogus: field not declared in schema',
    })
    const p = problemFromServer(d, 500, body)
    assert.equal(p.field, '.spec.template.spec.containers[0].bogus')
    assert.equal(p.file, 'x.yaml')
    assert.equal(p.index, 2)
    assert.equal(p.source, 'server')
  })

  it('reads list keys in a path', () => {
    const message =
      'failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers[name="c"].imagePullPolice: field not declared in schema'
    assert.equal(
      problemFromServer(d, 500, JSON.stringify({ kind: 'Status', message })).field,
      '.spec.template.spec.containers[name="c"].imagePullPolice',
    )
    assert.equal(
      problemFromServer(d, 500, JSON.stringify({ message: 'plain words: nothing here' })).field,
      undefined,
    )
  })

  it('prefers details.causes[].field', () => {
    const body = {
      kind: 'Status',
      message: 'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value',
      details: { causes: [{ field: 'spec.template.metadata.labels', message: 'Invalid value' }] },
    }
    assert.equal(problemFromServer(d, 422, JSON.stringify(body)).field, '.spec.template.metadata.labels')
  })

  it('keeps the message when no field can be found', () => {
    const p = problemFromServer(d, 403, '{"kind":"Status","message":"forbidden"}')
    assert.equal(p.field, undefined)
    assert.match(p.message, /forbidden \(HTTP 403\)/)
    assert.match(problemFromServer(d, undefined, new Error('socket hang up')).message, /socket hang up/)
  })
})
