import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { applyDeaths, carryDeaths } from '../../../../control/coordinator/deaths.js'
import { node } from './fake-etcd.js'

const NOW = 1_000_000

describe('times of death carried between coordinators', () => {
  const up = node('up').view
  const dead = node('dead', { alive: false, state: 'dead', deadSinceMs: NOW - 5000 }).view
  const views = new Map([
    [up.id, up],
    [dead.id, dead],
  ])

  it('keeps the earliest of the mesh and the record; a member up again has none (a flap restarts the grace)', () => {
    assert.deepEqual(carryDeaths(['up', 'dead'], views, { up: NOW - 9000, dead: NOW - 7000 }, NOW), {
      dead: NOW - 7000,
    })
    assert.deepEqual(carryDeaths(['dead'], views, { dead: NOW - 1000 }, NOW), { dead: NOW - 5000 })
  })

  it('counts a member unknown to the mesh from the record, else from now; a time from the future is ignored', () => {
    assert.deepEqual(carryDeaths(['gone'], views, { gone: NOW - 3000 }, NOW), { gone: NOW - 3000 })
    assert.deepEqual(carryDeaths(['gone'], views, {}, NOW), { gone: NOW })
    assert.deepEqual(carryDeaths(['gone'], views, { gone: NOW + 60_000 }, NOW), { gone: NOW })
    assert.deepEqual(carryDeaths(['dead'], views, { dead: NOW + 60_000 }, NOW), { dead: NOW - 5000 })
  })

  it('records whole milliseconds, whatever the mesh reported (the record schema refuses a fraction)', () => {
    const frac = node('frac', { alive: false, state: 'dead', deadSinceMs: NOW - 5000.625 }).view
    const out = carryDeaths(['frac', 'gone'], new Map([[frac.id, frac]]), {}, NOW + 0.5)
    assert.deepEqual(out, { frac: NOW - 5001, gone: NOW })
  })

  it('applies recorded times to down views only, and adds unknown members as dead, never eligible boards', () => {
    const out = applyDeaths([up, dead], { up: 1, dead: NOW - 7000, gone: NOW - 3000 })
    assert.equal(out.find((v) => v.id === 'up')?.deadSinceMs, null)
    assert.equal(out.find((v) => v.id === 'dead')?.deadSinceMs, NOW - 7000)
    const gone = out.find((v) => v.id === 'gone')
    assert.equal(gone?.state, 'dead')
    assert.equal(gone?.arch, 'unknown')
    assert.equal(gone?.deadSinceMs, NOW - 3000)
  })
})
