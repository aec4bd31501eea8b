import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { manualClock } from '../../../../agent/core/clock.js'
import { silentLogger } from '../../../../agent/core/log.js'
import type { KubeApi } from '../../../../control/kubeapi/types.js'
import { reconcileNodes } from '../../../../control/nodes/reconcile.js'

// The guard in front of the API: a minority or a non-leader returns the empty result —
// the same shape as any pass (`failed` included, which the controller reads) — and
// touches nothing. What a pass does against a real API server is test/cluster/drain-unplug.

const untouchable = new Proxy({} as KubeApi, {
  get: (_t, name) => () => {
    throw new Error(`the API was called (${String(name)})`)
  },
})

const pass = (quorum: boolean, leader: boolean) =>
  reconcileNodes({
    kube: untouchable,
    clock: manualClock(),
    log: silentLogger(),
    policy: { nodeGraceMs: 1, nodeDeleteAfterMs: 2 },
    isLeader: () => leader,
    quorum,
    mesh: () => ({ state: 'dead', deadSinceMs: 0 }),
  })

describe('reconcileNodes guard', () => {
  it('without quorum or leadership: the empty result and no API call', async () => {
    for (const [quorum, leader] of [
      [false, true],
      [true, false],
      [false, false],
    ] as const) {
      assert.deepEqual(await pass(quorum, leader), { actions: [], applied: [], failed: [] })
    }
  })
})
