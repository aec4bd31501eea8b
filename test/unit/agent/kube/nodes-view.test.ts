import assert from 'node:assert/strict'
import { test } from 'node:test'
import { kubeNodesView, podsPerNode } from '../../../../agent/kube/nodes-view.js'
import type { V1Node } from '../../../../control/kubeapi/types.js'

const table = {
  columnDefinitions: [{ name: 'Name' }, { name: 'Ready' }, { name: 'Status' }, { name: 'Node' }],
  rows: [
    { cells: ['a', '1/1', 'Running', 'pi5-1'] },
    { cells: ['b', '1/1', 'Running', 'pi5-1'] },
    { cells: ['c', '1/1', 'Running', 'x86-5'] },
    { cells: ['d', '0/1', 'Running', '<none>'] },
  ],
}

test('pods per Node from the Table; no Node column, no counts', () => {
  assert.deepEqual(
    [...podsPerNode(table)],
    [
      ['pi5-1', 2],
      ['x86-5', 1],
    ],
  )
  assert.equal(podsPerNode({ rows: [{ cells: ['x'] }] }).size, 0)
})

test('Ready, kubelet version, pods, and who cordoned or drained it', () => {
  const nodes: V1Node[] = [
    {
      metadata: { name: 'x86-5', annotations: {} },
      spec: { unschedulable: true },
      status: {
        nodeInfo: { kubeletVersion: 'v1.37.1' },
        conditions: [
          {
            type: 'Ready',
            status: 'Unknown',
            reason: 'NodeStatusUnknown',
            message: 'Kubelet stopped posting node status.',
          },
        ],
      },
    } as unknown as V1Node,
    {
      metadata: {
        name: 'pi5-1',
        annotations: { 'homecloud.dev/cordoned-by': 'homecloud', 'homecloud.dev/drain-status': 'draining' },
      },
      spec: { unschedulable: true },
      status: { nodeInfo: { kubeletVersion: 'v1.37.1' }, conditions: [{ type: 'Ready', status: 'True' }] },
    } as unknown as V1Node,
    { metadata: { name: 'new' }, status: {} } as unknown as V1Node,
  ]
  const [fresh, pi5, x86] = kubeNodesView(nodes, table)
  assert.deepEqual(pi5, {
    name: 'pi5-1',
    ready: 'True',
    kubeletVersion: 'v1.37.1',
    podsRunning: 2,
    unschedulable: true,
    cordonedBy: 'homecloud',
    drain: { status: 'draining', message: null },
    upgradeStep: null,
  })
  assert.equal(x86!.ready, 'Unknown')
  assert.equal(x86!.reason, 'NodeStatusUnknown: Kubelet stopped posting node status.')
  assert.equal(x86!.cordonedBy, 'someone else')
  assert.equal(x86!.podsRunning, 1)
  assert.equal(fresh!.ready, 'Unknown')
  assert.match(fresh!.reason!, /has not reported/)
})
