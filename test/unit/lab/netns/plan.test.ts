import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  createPlan,
  destroyPlan,
  labIndexesPresent,
  linkStatePlan,
  nodePlan,
  removeNodePlan,
} from '../../../../lab/netns/plan.js'

const lines = (cmds: { args: string[] }[]) => cmds.map((c) => c.args.join(' '))

describe('plans', () => {
  it('creates the bridge with the host address, then each node', () => {
    assert.deepEqual(lines(createPlan(7, 1)), [
      'link add hc7br type bridge',
      'link set hc7br type bridge mcast_snooping 0',
      'addr add 10.77.7.1/24 dev hc7br',
      'link set hc7br up',
      'netns add hc7n1',
      'link add hc7v1 type veth peer name eth0 netns hc7n1',
      'link set hc7v1 master hc7br up',
      '-n hc7n1 addr add 10.77.7.2/24 dev eth0',
      '-n hc7n1 link set lo up',
      '-n hc7n1 link set eth0 up',
      '-n hc7n1 route add 224.0.0.0/4 dev eth0',
    ])
  })

  it('never adds a default route or touches anything outside the lab', () => {
    const all = lines(createPlan(200, 5)).join('\n')
    assert.doesNotMatch(all, /default|0\.0\.0\.0\/0|via|nat|forward/i)
    for (const cmd of createPlan(200, 5)) {
      const names = cmd.args.filter((a) => /^[a-z]+\d/.test(a))
      for (const name of names) assert.match(name, /^(hc200|eth0)/)
    }
  })

  it('creates nodes 1..n', () => {
    assert.equal(createPlan(9, 3).length, 4 + 3 * nodePlan(9, 1).length)
    assert.ok(lines(createPlan(9, 3)).includes('-n hc9n3 addr add 10.77.9.4/24 dev eth0'))
  })

  it('removes a node veth first, tolerating absence', () => {
    assert.deepEqual(removeNodePlan(9, 2), [
      { args: ['link', 'del', 'hc9v2'], goneIsOk: true },
      { args: ['netns', 'del', 'hc9n2'], goneIsOk: true },
    ])
  })

  it('destroys veths, then namespaces, then the bridge, only for its own lab', () => {
    const state = {
      links: ['lo', 'eth0', 'hc9br', 'hc9v2', 'hc9v10', 'hc19v1', 'hc19br', 'hc9v1'],
      namespaces: ['hc9n10', 'hc9n1', 'other', 'hc91n1'],
    }
    assert.deepEqual(lines(destroyPlan(9, state)), [
      'link del hc9v1',
      'link del hc9v2',
      'link del hc9v10',
      'netns del hc9n1',
      'netns del hc9n10',
      'link del hc9br',
    ])
    assert.ok(destroyPlan(9, state).every((c) => c.goneIsOk))
    assert.deepEqual(destroyPlan(9, { links: ['lo'], namespaces: [] }), [])
  })

  it('finds every lab present by name', () => {
    assert.deepEqual(
      labIndexesPresent({ links: ['lo', 'hc3br', 'hc12v1', 'eth0'], namespaces: ['hc200n4', 'hc3n1', 'x'] }),
      [3, 12, 200],
    )
  })

  it('cuts and restores a link on the host side', () => {
    assert.deepEqual(lines(linkStatePlan(4, 3, false)), ['link set hc4v3 down'])
    assert.deepEqual(lines(linkStatePlan(4, 3, true)), ['link set hc4v3 up'])
  })
})
