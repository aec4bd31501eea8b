import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compareRank, rankCandidates } from '../../../../control/placement/rank.js'
import { board, dead, policy } from './support.js'

const ids = (ns: { id: string }[]) => ns.map((n) => n.id)

describe('placement ranking', () => {
  it('ranks by memory first', () => {
    const r = rankCandidates(
      [board('a', { memoryMB: 4096 }), board('b', { memoryMB: 16384, storageClass: 'emmc' })],
      policy,
    )
    assert.deepEqual(ids(r), ['b', 'a'])
  })

  it('then by storage class: nvme, ssd, emmc over sd; hdd and unknown last', () => {
    const classes = ['unknown', 'sd', 'hdd', 'emmc', 'ssd', 'nvme'] as const
    const ns = classes.map((c) => board(c, { storageClass: c }))
    const sorted = [...ns].sort(compareRank)
    assert.deepEqual(ids(sorted), ['nvme', 'ssd', 'emmc', 'sd', 'hdd', 'unknown'])
  })

  it('puts hdd and unknown in one tier, then cores decide', () => {
    const sorted = [
      board('h', { storageClass: 'hdd', cores: 2 }),
      board('u', { storageClass: 'unknown', cores: 8 }),
    ].sort(compareRank)
    assert.deepEqual(ids(sorted), ['u', 'h'])
  })

  it('then by cores (desc), then id (asc, by code unit)', () => {
    const sorted = [
      board('b', { cores: 4 }),
      board('c', { cores: 8 }),
      board('a', { cores: 4 }),
      board('B', { cores: 4 }),
    ].sort(compareRank)
    assert.deepEqual(ids(sorted), ['c', 'B', 'a', 'b'])
  })

  it('leaves out ineligible nodes', () => {
    const r = rankCandidates(
      [board('a'), board('r', { arch: 'riscv64' }), dead(board('d'), 1), board('o', { optedOut: true })],
      policy,
    )
    assert.deepEqual(ids(r), ['a'])
  })

  it('ranks fallback architectures after every preferred board, however big', () => {
    const r = rankCandidates(
      [
        board('x', { arch: 'amd64', memoryMB: 32768 }),
        board('a', { memoryMB: 1024 }),
        board('y', { arch: 'amd64' }),
      ],
      policy,
    )
    assert.deepEqual(ids(r), ['a', 'x', 'y'])
  })

  it('is a total order: any input order gives the same ranking', () => {
    const ns = [
      board('a', { memoryMB: 4096 }),
      board('b', { memoryMB: 4096, storageClass: 'sd', fsyncP99Ms: 8 }),
      board('c', { memoryMB: 4096, cores: 8 }),
      board('d'),
      board('e'),
    ]
    const expected = ids(rankCandidates(ns, policy))
    assert.deepEqual(expected, ['d', 'e', 'c', 'a', 'b'])
    assert.deepEqual(ids(rankCandidates([...ns].reverse(), policy)), expected)
  })
})
