import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatClusterView } from '../../../cli/status.js'
import { clusterView, member, NOW } from '../agent/api/fixtures.js'

test('homecloud status: where the view comes from, the verdict with what to do, Nodes and load', () => {
  const a = member({ name: 'pi5-1', self: true, roles: ['worker', 'etcd-voter'] })
  const b = member({
    name: 'pi5-2',
    roles: ['worker', 'etcd-voter'],
    state: 'dead',
    stateSinceMs: NOW - 60_000,
  })
  const c = member({
    name: 'x86-3',
    arch: 'amd64',
    kube: {
      name: 'x86-3',
      ready: 'True',
      kubeletVersion: 'v1.37.1',
      podsRunning: 4,
      unschedulable: true,
      cordonedBy: 'homecloud',
      drain: null,
      upgradeStep: null,
    },
    stats: {
      source: 'machine',
      atMs: NOW,
      cpuPct: 12.4,
      memUsedMB: 512,
      memTotalMB: 2048,
      diskUsedPct: 10,
      tempC: 61,
      throttled: true,
      history: [],
    },
  })
  const view = clusterView({}, [a, b, c])
  view.controlPlane = {
    voters: [a.id, b.id],
    learners: [],
    leader: a.id,
    quorum: true,
    source: 'etcd',
    via: { id: a.id, name: 'pi5-1' },
    reasons: [
      { id: a.id, why: 'voter (sticky)', eligible: true, chosen: true },
      { id: b.id, why: 'voter (sticky): down', eligible: false, chosen: true },
      { id: c.id, why: 'refused: amd64 not eligible', eligible: false, chosen: false },
    ],
  }
  const out = formatClusterView(view, NOW)
  assert.match(
    out,
    /^cluster home \(.*\): 2\/3 alive, view from etcd through pi5-1\nAt risk: no failure to spare\n/,
  )
  assert.match(out, / {4}you: Plug in an ARM board \(arm64 or arm\)/)
  assert.match(
    out,
    /run on any node, with the admin certificate \(--admin admin\.json\): homecloud revoke pi5-2/,
  )
  assert.match(out, /Ready,cordoned 4p/)
  assert.match(out, /12%\/25% 61C throttled/)
})
