import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HomecloudError } from '../../../../agent/core/errors.js'
import {
  ifnameCharsMax,
  labBridgeNames,
  labIndexMax,
  labNames,
  nodeIndexMax,
  parseLabName,
} from '../../../../lab/netns/names.js'

describe('labNames', () => {
  it('derives names and addresses for node 1 of lab 197', () => {
    assert.deepEqual(labNames(197, 1), {
      labIndex: 197,
      bridge: 'hc197br',
      bridgeAddress: '10.77.197.1',
      bridgeCidr: '10.77.197.1/24',
      subnet: '10.77.197.0/24',
      node: 1,
      netns: 'hc197n1',
      hostVeth: 'hc197v1',
      nodeIfname: 'eth0',
      address: '10.77.197.2',
      cidr: '10.77.197.2/24',
    })
  })

  it('gives node i the address .i+1, up to .254', () => {
    assert.equal(labNames(3, 2).address, '10.77.3.3')
    assert.equal(labNames(3, nodeIndexMax).address, '10.77.3.254')
  })

  it('keeps every interface name within IFNAMSIZ at the largest indexes', () => {
    const n = labNames(labIndexMax, nodeIndexMax)
    for (const name of [n.bridge, n.hostVeth, n.netns, n.nodeIfname]) {
      assert.ok(name.length <= ifnameCharsMax, name)
    }
  })

  it('names are unique across labs and nodes', () => {
    const seen = new Set<string>()
    for (const lab of [1, 2, 11, 12, 111, 200]) {
      for (const node of [1, 2, 11, 12, 111, 253]) {
        const n = labNames(lab, node)
        for (const name of [n.hostVeth, n.netns]) {
          assert.ok(!seen.has(name), name)
          seen.add(name)
        }
      }
      assert.ok(!seen.has(labBridgeNames(lab).bridge))
      seen.add(labBridgeNames(lab).bridge)
    }
  })

  for (const [lab, node] of [
    [0, 1],
    [201, 1],
    [1.5, 1],
    [Number.NaN, 1],
    [5, 0],
    [5, 254],
    [5, -1],
    [5, 2.5],
  ] as const) {
    it(`rejects lab ${lab} node ${node} with LAB_INVALID`, () => {
      assert.throws(
        () => labNames(lab, node),
        (err: unknown) =>
          err instanceof HomecloudError && err.code === 'LAB_INVALID' && err.hint !== undefined,
      )
    })
  }
})

describe('parseLabName', () => {
  it('inverts the name functions', () => {
    for (const [lab, node] of [
      [1, 1],
      [197, 3],
      [200, 253],
    ] as const) {
      const n = labNames(lab, node)
      assert.deepEqual(parseLabName(n.netns), { labIndex: lab, kind: 'netns', node })
      assert.deepEqual(parseLabName(n.hostVeth), { labIndex: lab, kind: 'veth', node })
      assert.deepEqual(parseLabName(n.bridge), { labIndex: lab, kind: 'bridge', node: undefined })
    }
  })

  it('ignores names it did not make', () => {
    for (const name of [
      'eth0',
      'lo',
      'hc',
      'hcbr',
      'hc0br',
      'hc201br',
      'hc01n1',
      'hc5n0',
      'hc5n254',
      'hc5x1',
      'hc5n1x',
      'xhc5n1',
      'hc5br0',
    ]) {
      assert.equal(parseLabName(name), undefined, name)
    }
  })
})
