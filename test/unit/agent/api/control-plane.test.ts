import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ClusterViewSchema } from '../../../../agent/api/cluster-schema.js'
import { controlPlaneSection } from '../../../../agent/api/page/control-plane.js'
import { renderStatusPage } from '../../../../agent/api/page/document.js'
import { toHtml } from '../../../../agent/api/page/to-html.js'
import { placementReasons, placementRecord } from '../../../../control/coordinator/placement-record.js'
import { clusterView, member, NOW } from './fixtures.js'

const EVIL = '<img src=x onerror=alert(1)>'

function withReasons() {
  const a = member({ name: 'pi5-1', self: true })
  const b = member({ name: 'rock5b-2' })
  const c = member({ name: 'pi4-3', storageClass: 'sd', fsyncP99Ms: 40 })
  const view = clusterView({}, [a, b, c])
  view.controlPlane = {
    voters: [a.id, b.id],
    learners: [],
    leader: a.id,
    quorum: true,
    source: 'etcd',
    reasons: [
      { id: a.id, name: 'pi5-1', why: 'voter (sticky)' },
      { id: b.id, why: 'spare: ranked 4th' },
      { id: c.id, name: 'pi4-3', why: 'refused: SD card fsync p99 40 ms > 10 ms' },
    ],
  }
  return { view, a, b, c }
}

describe('control plane section: placement reasons', () => {
  test('one line per board, named, with its reason', () => {
    const { view, b } = withReasons()
    const html = toHtml(controlPlaneSection(view))
    const items = [...html.matchAll(/<li[^>]*>([\s\S]*?)<\/li>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, ''))
    assert.deepEqual(items, [
      'pi5-1: voter (sticky)',
      // No name in the record: the member's name from the view.
      'rock5b-2: spare: ranked 4th',
      'pi4-3: refused: SD card fsync p99 40 ms &gt; 10 ms',
    ])
    assert.match(html, new RegExp(`<li data-node="${b.id}">`))
    assert.doesNotMatch(html, /appears here once placement runs/)
  })

  test('without reasons (mesh view, or before placement runs) the placeholder stays', () => {
    const html = toHtml(controlPlaneSection(clusterView()))
    assert.match(html, /appears here once placement runs/)
    assert.doesNotMatch(html, /class="reasons"/)
    const empty = clusterView()
    empty.controlPlane.reasons = []
    assert.match(toHtml(controlPlaneSection(empty)), /appears here once placement runs/)
  })

  test('a reason or name carrying markup renders as text', () => {
    const { view, a } = withReasons()
    view.controlPlane.reasons = [{ id: a.id, name: EVIL, why: `refused: ${EVIL}` }]
    const html = renderStatusPage(view, NOW)
    assert.doesNotMatch(html, /<img/)
    assert.match(html, /<strong>&lt;img src=x onerror=alert\(1\)&gt;<\/strong>: refused: &lt;img/)
  })

  test('the view with reasons passes the API schema; the field stays optional', () => {
    assert.ok(ClusterViewSchema.safeParse(withReasons().view).success)
    assert.ok(ClusterViewSchema.safeParse(clusterView()).success)
  })

  test('from the placement record: chosen first, then eligible, then refused, names kept', () => {
    const record = placementRecord(
      {
        target: ['n1', 'n2'],
        fallback: [],
        preferredCandidates: 3,
        next: { kind: 'none' },
        quorumLost: false,
        reasons: {
          n3: { eligible: false, chosen: false, why: 'refused: SD card fsync p99 40 ms > 10 ms' },
          n4: { eligible: true, chosen: false, why: 'spare: ranked 4th' },
          n2: { eligible: true, chosen: true, why: 'voter (ranked 2nd)' },
          n1: { eligible: true, chosen: true, why: 'voter (sticky)' },
        },
      },
      { voters: ['n1', 'n2'], learners: [] },
      { id: 'n1', publicKey: Buffer.alloc(32) },
      new Map([
        ['n1', 'a-pi'],
        ['n2', 'b-pi'],
        ['n3', 'c-pi'],
      ]),
      NOW,
    )
    assert.deepEqual(placementReasons(record), [
      { id: 'n1', name: 'a-pi', why: 'voter (sticky)', eligible: true, chosen: true },
      { id: 'n2', name: 'b-pi', why: 'voter (ranked 2nd)', eligible: true, chosen: true },
      { id: 'n4', why: 'spare: ranked 4th', eligible: true, chosen: false },
      {
        id: 'n3',
        name: 'c-pi',
        why: 'refused: SD card fsync p99 40 ms > 10 ms',
        eligible: false,
        chosen: false,
      },
    ])
  })
})
