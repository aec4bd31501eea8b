// A lab node's agent config: the lab's own settings, with a test's extra config on top.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { LabFile } from '../../../lab/lab-file.js'
import { nodeConfig } from '../../../lab/node-start.js'

const lab = LabFile.parse({
  v: 1,
  dir: '/tmp/lab',
  mode: 'netns',
  index: 3,
  clusterId: 'c',
  clusterName: 'lab',
  kube: true,
  nodes: [],
})
const node = { name: 'pi5-1', board: 'pi5', slot: 1, address: '10.77.3.2', cgroupRoot: undefined }

describe('a lab node’s config', () => {
  test('a test’s kube settings go on top of the lab’s, not in place of them', () => {
    const kube = nodeConfig(lab, node, { kube: { addons: false } }).kube as Record<string, unknown>
    assert.equal(kube.enabled, true)
    assert.equal(kube.kubelet, 'kwok')
    assert.deepEqual(kube.lb, { host: '10.77.3.2' })
    assert.equal(kube.addons, false)
    assert.ok(kube.loadBalancer, 'the lab’s LAN address range stays')
  })

  test('a test may still turn Kubernetes off on one node', () => {
    const kube = nodeConfig(lab, node, { kube: { enabled: false } }).kube as Record<string, unknown>
    assert.equal(kube.enabled, false)
  })

  test('a real kubelet node keeps the lab’s settings and the test’s image directories', () => {
    const extra = { kube: { addons: false, runtime: { imageDirs: ['/images'] } } }
    const kube = nodeConfig(lab, { ...node, cgroupRoot: '/hc' }, extra).kube as Record<string, unknown>
    assert.equal(kube.kubelet, 'kubelet')
    assert.equal(kube.addons, false)
    assert.deepEqual(kube.runtime, { imageDirs: ['/images'], cgroupRoot: '/hc' })
  })

  test('a lab without Kubernetes passes a test’s kube settings on as given', () => {
    const bare = { ...lab, kube: false }
    assert.deepEqual(nodeConfig(bare, node, { kube: { addons: false } }).kube, { addons: false })
    assert.equal(nodeConfig(bare, node, {}).kube, undefined)
  })
})
