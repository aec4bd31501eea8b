import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadProfile, profileFacts } from '../../../../agent/facts/profiles.js'
import type { Facts } from '../../../../agent/facts/schema.js'
import { FactsSummary, factsSummary } from '../../../../agent/facts/summary.js'

test('factsSummary keeps the gossiped fields of a profile', async () => {
  const f = profileFacts(await loadProfile('pi5'), { seed: 's', dataDir: '/d' })
  const s = FactsSummary.parse(factsSummary(f))
  assert.deepEqual(s, {
    arch: 'arm64',
    board: f.board,
    cpuModel: 'ARM Cortex-A76',
    cores: 4,
    memoryMB: 8192,
    storageClass: 'nvme',
    fsyncP99Ms: f.fsync!.p99Ms,
    macs: f.macs,
  })
})

test('factsSummary: no probe gives null, and at most four MACs', () => {
  const f: Facts = {
    arch: 'amd64',
    board: 'b',
    cpuModel: 'c',
    cores: 2,
    memoryMB: 1024,
    storage: [],
    dataStorageClass: 'unknown',
    macs: [
      '00:00:00:00:00:01',
      '00:00:00:00:00:02',
      '00:00:00:00:00:03',
      '00:00:00:00:00:04',
      '00:00:00:00:00:05',
    ],
    fsync: null,
    ramOnly: false,
    source: 'machine',
  }
  const s = FactsSummary.parse(factsSummary(f))
  assert.equal(s.fsyncP99Ms, null)
  assert.deepEqual(s.macs, f.macs.slice(0, 4))
})

test('factsSummary says ramOnly only when true: records of nodes with a state disk are unchanged', async () => {
  const pi5 = profileFacts(await loadProfile('pi5'), { seed: 's', dataDir: '/d' })
  assert.equal('ramOnly' in factsSummary(pi5), false)
  const ram = profileFacts(await loadProfile('pi5-netboot'), { seed: 's', dataDir: '/d' })
  assert.equal(FactsSummary.parse(factsSummary(ram)).ramOnly, true)
  assert.equal(FactsSummary.safeParse({ ...factsSummary(pi5), ramOnly: false }).success, false)
})
