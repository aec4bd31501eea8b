import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { labelValue, nodeManifest } from '../../../../agent/kube/node-object.js'

describe('node object', () => {
  it('label values are valid whatever the board string', () => {
    assert.equal(labelValue('Raspberry Pi 4 Model B Rev 1.4'), 'Raspberry-Pi-4-Model-B-Rev-1.4')
    assert.equal(labelValue('--x--'), 'x')
    assert.equal(labelValue('a'.repeat(80)).length, 63)
    assert.equal(labelValue(`${'a'.repeat(62)}-b`), 'a'.repeat(62))
  })
  it('labels carry arch, board, storage and the node id', () => {
    const m = nodeManifest({
      name: 'n1',
      address: '10.77.1.2',
      arch: 'arm64',
      board: 'pi4',
      storageClass: 'sd',
      nodeId: 'ab',
    })
    assert.equal(m.metadata.labels['kubernetes.io/arch'], 'arm64')
    assert.equal(m.metadata.labels['homecloud.dev/storage'], 'sd')
    assert.deepEqual(m.status.addresses[0], { type: 'InternalIP', address: '10.77.1.2' })
  })
})
