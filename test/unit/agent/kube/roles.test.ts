import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { advertisedAddress } from '../../../../agent/kube/control-plane.js'
import { lbHostFor } from '../../../../agent/kube/index.js'
import { podCidrFor } from '../../../../agent/kube/node-runner.js'
import { controlPlaneRoleLabel, nodeRolePatches } from '../../../../agent/kube/roles.js'

describe('nodeRolePatches', () => {
  const node = (
    name: string,
    labels: Record<string, string> = {},
    taints: { key: string; effect: string }[] = [],
  ) => ({
    name,
    labels,
    taints,
  })
  test('labels exactly the voters, no taint by default', () => {
    const patches = nodeRolePatches(
      [node('a'), node('b', { [controlPlaneRoleLabel]: '' }), node('c', { [controlPlaneRoleLabel]: '' })],
      new Set(['a', 'b']),
      false,
    )
    assert.deepEqual(patches, [
      { name: 'a', patch: { metadata: { labels: { [controlPlaneRoleLabel]: '' } } } },
      { name: 'c', patch: { metadata: { labels: { [controlPlaneRoleLabel]: null } } } },
    ])
  })
  test('taints voters when asked, keeps other taints, untaints a former voter', () => {
    const other = { key: 'example.com/x', effect: 'NoExecute' }
    const cpTaint = { key: controlPlaneRoleLabel, effect: 'NoSchedule' }
    const patches = nodeRolePatches(
      [node('a', { [controlPlaneRoleLabel]: '' }, [other]), node('c', {}, [other, cpTaint])],
      new Set(['a']),
      true,
    )
    assert.deepEqual(patches, [
      { name: 'a', patch: { spec: { taints: [other, cpTaint] } } },
      { name: 'c', patch: { spec: { taints: [other] } } },
    ])
  })
  test('nothing to do when all is in place', () => {
    assert.deepEqual(nodeRolePatches([node('a', { [controlPlaneRoleLabel]: '' })], new Set(['a']), false), [])
  })
})

describe('addresses', () => {
  test('a loopback node advertises a documentation address with no endpoint reconciler', () => {
    assert.deepEqual(advertisedAddress('127.0.4.3', 'node'), { address: '192.0.2.3', reconciler: 'none' })
    assert.deepEqual(advertisedAddress('10.77.4.3', 'node'), { address: '10.77.4.3', reconciler: 'lease' })
    assert.deepEqual(advertisedAddress('127.0.4.3', '10.0.0.9'), { address: '10.0.0.9', reconciler: 'lease' })
  })
  test('the balancer listens on 127.0.0.1 except on a loopback lab node', () => {
    assert.equal(lbHostFor('192.168.1.20', undefined), '127.0.0.1')
    assert.equal(lbHostFor('127.0.4.3', undefined), '127.0.4.3')
    assert.equal(lbHostFor('192.168.1.20', '127.0.0.2'), '127.0.0.2')
  })
  test('pod ranges per node', () => {
    assert.equal(podCidrFor('127.0.4.3'), '10.244.3.0/24')
  })
})
