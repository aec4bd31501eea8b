import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { placeControlPlane } from '../../../../control/placement/place.js'
import type { MemberSet, NodeView } from '../../../../control/placement/types.js'
import { board, dead, GRACE, members, NOW, policy } from './support.js'

// Fewer than three ARM boards able to hold etcd (two Pis and three laptops): the best x86
// machines fill the seats rather than leaving no failure to spare, the reasons say so,
// and the seat goes back to an ARM board when one appears — make-before-break.

const place = (nodes: NodeView[], current: MemberSet, quorum = true, p = policy) =>
  placeControlPlane(nodes, current, p, NOW, quorum)
const pi = (id: string, memoryMB = 8192) => board(id, { memoryMB })
const laptop = (id: string, memoryMB = 16384, over: Partial<NodeView> = {}) =>
  board(id, { arch: 'amd64', memoryMB, ...over })

describe('placement: x86 fallback', () => {
  const homeLab = [
    pi('pi-a'),
    pi('pi-b', 4096),
    laptop('x-big', 32768),
    laptop('x-mid', 16384),
    laptop('x-sd', 65536, { storageClass: 'sd', fsyncP99Ms: 40 }),
  ]

  it('two Pis and three laptops: the best laptop able to hold etcd takes the third seat', () => {
    const p = place(homeLab, members(['pi-a']))
    assert.deepEqual(p.target, ['pi-a', 'pi-b', 'x-big'])
    assert.deepEqual(p.fallback, ['x-big'])
    assert.equal(p.preferredCandidates, 2)
    // ARM first: the Pi is added before the laptop.
    assert.deepEqual(p.next, { kind: 'add-learner', id: 'pi-b' })
    assert.equal(
      p.reasons['x-big']?.why,
      'chosen (fallback amd64): only 2 arm64/arm boards can hold etcd; ranked 3rd',
    )
    assert.equal(p.reasons['x-big']?.chosen, true)
    assert.match(p.reasons['x-mid']?.why ?? '', /^spare: ranked 4th$/)
    // A laptop on an SD card is refused like any board.
    assert.equal(p.reasons['x-sd']?.why, 'refused: SD card fsync p99 40 ms > 10 ms')
  })

  it('once seated, the laptop says it holds a fallback seat', () => {
    const p = place(homeLab, members(['pi-a', 'pi-b', 'x-big']))
    assert.deepEqual(p.next, { kind: 'none' })
    assert.equal(
      p.reasons['x-big']?.why,
      'voter (fallback amd64): only 2 arm64/arm boards can hold etcd; the seat moves to one when it appears',
    )
  })

  it('moves the seat back when an ARM board appears: add it, promote it, then the laptop leaves', () => {
    const withPi = [...homeLab, pi('pi-c', 2048)]
    const seated = members(['pi-a', 'pi-b', 'x-big'])
    const p1 = place(withPi, seated)
    assert.deepEqual(p1.target, ['pi-a', 'pi-b', 'pi-c'])
    assert.deepEqual(p1.fallback, [])
    assert.deepEqual(p1.next, { kind: 'add-learner', id: 'pi-c' })
    assert.equal(p1.reasons['x-big']?.why, 'voter, leaving: an arm64/arm board takes its fallback seat')
    const p2 = place(withPi, members(['pi-a', 'pi-b', 'x-big'], ['pi-c'], ['pi-c']))
    assert.deepEqual(p2.next, { kind: 'promote', id: 'pi-c' })
    const p3 = place(withPi, members(['pi-a', 'pi-b', 'pi-c', 'x-big']))
    assert.deepEqual(p3.next, {
      kind: 'remove',
      id: 'x-big',
      reason: 'voter not needed: its fallback seat went back to a preferred board',
    })
    const p4 = place(withPi, members(['pi-a', 'pi-b', 'pi-c']))
    assert.deepEqual(p4.next, { kind: 'none' })
    assert.equal(
      p4.reasons['x-big']?.why,
      'spare (fallback amd64): not needed, 3 arm64/arm boards can hold etcd',
    )
  })

  it('a fallback voter that dies is replaced by the next laptop after the grace, like any voter', () => {
    const nodes = [pi('pi-a'), pi('pi-b'), dead(laptop('x-big', 32768), GRACE + 1), laptop('x-mid')]
    const p = place(nodes, members(['pi-a', 'pi-b', 'x-big']))
    assert.deepEqual(p.target, ['pi-a', 'pi-b', 'x-mid'])
    assert.deepEqual(p.next, { kind: 'remove', id: 'x-big', reason: 'voter dead beyond grace' })
  })

  it('one Pi and one laptop: 1 voter (never 2 by choice), the Pi', () => {
    const p = place([pi('pi-a'), laptop('x')], members(['pi-a']))
    assert.deepEqual(p.target, ['pi-a'])
    assert.deepEqual(p.fallback, [])
  })

  it('laptops alone: three of them hold etcd, so a cluster of x86 machines keeps a failure to spare', () => {
    const p = place([laptop('x1', 8192), laptop('x2', 16384), laptop('x3', 4096)], members(['x1']))
    assert.deepEqual(p.target, ['x2', 'x1', 'x3'])
    assert.deepEqual(p.fallback, ['x2', 'x1', 'x3'])
    assert.equal(p.preferredCandidates, 0)
  })

  it('a down ARM voter within grace keeps its seat: no laptop is pulled in for it', () => {
    const nodes = [pi('pi-a'), pi('pi-b'), dead(pi('pi-c'), 1000), laptop('x-big', 32768)]
    const p = place(nodes, members(['pi-a', 'pi-b', 'pi-c']))
    assert.deepEqual(p.target, ['pi-a', 'pi-b', 'pi-c'])
    assert.deepEqual(p.next, { kind: 'wait', reason: 'dead voter within grace', id: 'pi-c' })
  })
})
