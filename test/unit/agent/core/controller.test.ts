import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pino from 'pino'
import { backoffDelayMs } from '../../../../agent/core/backoff.js'
import { type Clock, manualClock, type Timer } from '../../../../agent/core/clock.js'
import {
  Controller,
  type ControllerInit,
  controllerBackoffDefault,
} from '../../../../agent/core/controller.js'
import { Counters } from '../../../../agent/core/counters.js'
import type { Logger } from '../../../../agent/core/log.js'
import { seededRandom } from '../../../../agent/core/random.js'

/** A manual clock that also counts live timers, to prove stop() leaves none behind. */
function countingClock() {
  const inner = manualClock()
  const live = new Set<Timer>()
  const wrap =
    (make: (fn: () => void, ms: number) => Timer, once: boolean) => (fn: () => void, ms: number) => {
      const handle: Timer = {
        cancel: () => {
          live.delete(handle)
          t.cancel()
        },
      }
      const t = make(() => {
        if (once) live.delete(handle)
        fn()
      }, ms)
      live.add(handle)
      return handle
    }
  const clock: Clock & { advance(ms: number): void; liveTimers(): number } = {
    nowMs: () => inner.nowMs(),
    monoMs: () => inner.monoMs(),
    setTimeout: wrap(inner.setTimeout, true),
    setInterval: wrap(inner.setInterval, false),
    advance: (ms) => inner.advance(ms),
    liveTimers: () => live.size,
  }
  return clock
}

function captureLog() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = []
  const log = pino(
    { level: 'debug' },
    { write: (s: string) => lines.push(JSON.parse(s)) },
  ) as unknown as Logger
  return { log, lines, warnings: () => lines.filter((l) => l.level === 40) }
}

function rig<K extends string = string>(
  init: Omit<ControllerInit<K>, 'name' | 'sync'> & Partial<Pick<ControllerInit<K>, 'sync'>>,
  seed = 7,
) {
  const clock = countingClock()
  const random = seededRandom(seed)
  const { log, lines, warnings } = captureLog()
  const counters = new Counters()
  const synced: K[] = []
  const ctl = new Controller<K>(
    {
      name: 'test',
      sync: (key) => {
        synced.push(key)
      },
      ...init,
    },
    { clock, random, log, counters },
  )
  return { ctl, clock, synced, lines, warnings, counters }
}

function deferred() {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

const tick = () => new Promise<void>((r) => setImmediate(r))

describe('Controller: queue', () => {
  it('syncs keys in the order first asked for, once per burst', async () => {
    const { ctl, synced } = rig({})
    ctl.add('a')
    ctl.add('b')
    ctl.add('a')
    ctl.add('c')
    ctl.add('b')
    await ctl.idle()
    assert.deepEqual(synced, ['a', 'b', 'c'])
  })

  it('runs one sync per key at a time and syncs once more for changes made meanwhile', async () => {
    const gate = deferred()
    const running: string[] = []
    let concurrentSameKey = false
    const order: string[] = []
    const { ctl } = rig({
      workersMax: 4,
      sync: async (key) => {
        if (running.includes(key)) concurrentSameKey = true
        running.push(key)
        order.push(key)
        if (order.length === 1) await gate.promise
        running.splice(running.indexOf(key), 1)
      },
    })
    ctl.add('a')
    await tick()
    assert.deepEqual(order, ['a'])
    ctl.add('a')
    ctl.add('a')
    ctl.add('b')
    await tick()
    assert.deepEqual(order, ['a', 'b'], 'b runs beside a; a waits for its own sync')
    gate.resolve()
    await ctl.idle()
    assert.deepEqual(order, ['a', 'b', 'a'], 'a is synced exactly once more')
    assert.equal(concurrentSameKey, false)
  })

  it('refuses new keys beyond the bound, logs that once, and accepts again once work drains', async () => {
    const gate = deferred()
    const { ctl, synced, warnings, counters } = rig({
      queueKeysMax: 2,
      sync: async (key) => {
        synced.push(key)
        await gate.promise
      },
    })
    assert.equal(ctl.add('a'), true)
    assert.equal(ctl.add('b'), true)
    assert.equal(ctl.add('c'), false)
    assert.equal(ctl.add('d'), false)
    assert.equal(ctl.add('a'), true, 'a key already queued is never refused (and not queued twice)')
    assert.equal(ctl.stats().refused, 2)
    assert.equal(counters.get('homecloud_controller_refused_total', { controller: 'test' }), 2)
    assert.equal(warnings().filter((l) => /queue full/.test(l.msg)).length, 1)
    gate.resolve()
    await ctl.idle()
    assert.deepEqual(synced, ['a', 'b'])
    assert.equal(ctl.add('c'), true)
    await ctl.idle()
    assert.deepEqual(synced, ['a', 'b', 'c'])
  })
})

describe('Controller: failures', () => {
  it('retries a failing key after a jittered exponential backoff within its bounds', async () => {
    const policy = { initialDelayMs: 100, factor: 2, delayMsMax: 1000, jitter: 0.2 }
    const seen: number[] = []
    const { ctl, clock } = rig({
      backoff: policy,
      sync: (_k, ctx) => {
        seen.push(ctx.failures)
        throw new Error('down')
      },
    })
    const replay = seededRandom(7)
    ctl.add('k')
    await ctl.idle()
    for (let attempt = 1; attempt <= 6; attempt++) {
      const expected = backoffDelayMs(attempt, policy, replay.next())
      const base = Math.min(1000, 100 * 2 ** (attempt - 1))
      assert.ok(expected >= Math.round(base * 0.8) && expected <= Math.min(1000, Math.round(base * 1.2)))
      const at = ctl.waiting().get('k')
      assert.equal(at, clock.monoMs() + expected, `attempt ${attempt}`)
      clock.advance(expected - 1)
      await ctl.idle()
      assert.equal(seen.length, attempt, 'not before its time')
      clock.advance(1)
      await ctl.idle()
      assert.equal(seen.length, attempt + 1)
    }
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6])
    await ctl.stop()
  })

  it('a success resets the backoff and cancels a pending retry', async () => {
    let fail = true
    const seen: number[] = []
    const { ctl, clock } = rig({
      sync: (_k, ctx) => {
        seen.push(ctx.failures)
        if (fail) throw new Error('down')
      },
    })
    ctl.add('k')
    await ctl.idle()
    assert.equal(ctl.waiting().size, 1)
    fail = false
    ctl.add('k')
    await ctl.idle()
    assert.equal(ctl.waiting().size, 0, 'the retry is cancelled')
    clock.advance(controllerBackoffDefault.delayMsMax)
    await ctl.idle()
    ctl.add('k')
    await ctl.idle()
    assert.deepEqual(seen, [0, 1, 0])
    assert.equal(clock.liveTimers(), 0)
  })

  it('logs an error once, counts its repeats, and logs when it changes or recovers', async () => {
    let message = 'etcd down'
    let fail = true
    const { ctl, clock, lines, warnings } = rig({
      backoff: { initialDelayMs: 10, delayMsMax: 10, jitter: 0 },
      sync: () => {
        if (fail) throw Object.assign(new Error(message), { code: 'ETCD_UNREACHABLE' })
      },
    })
    ctl.add('k')
    await ctl.idle()
    for (let i = 0; i < 4; i++) {
      clock.advance(10)
      await ctl.idle()
    }
    assert.equal(warnings().length, 1)
    assert.equal(warnings()[0]?.err, 'ETCD_UNREACHABLE: etcd down')
    assert.equal(ctl.stats().repeatsQuiet, 4)
    message = 'etcd slow'
    clock.advance(10)
    await ctl.idle()
    assert.equal(warnings().length, 2)
    assert.equal(warnings()[1]?.previousRepeats, 4)
    fail = false
    clock.advance(10)
    await ctl.idle()
    const recovered = lines.filter((l) => /synced again/.test(l.msg))
    assert.equal(recovered.length, 1)
    assert.deepEqual(ctl.stats(), { syncs: 1, failures: 6, skipped: 0, refused: 0, repeatsQuiet: 4 })
  })
})

describe('Controller: resync, leadership, delays', () => {
  it('resyncs each key a period after its last sync, leaving a key that failed to its retry', async () => {
    const failing = new Set(['b'])
    const { ctl, clock, synced } = rig({
      keys: () => ['a', 'b'],
      resyncMs: 1000,
      backoff: { initialDelayMs: 5000, delayMsMax: 5000, jitter: 0 },
      sync: (key) => {
        synced.push(key)
        if (failing.has(key)) throw new Error('no')
      },
    })
    ctl.start()
    ctl.start()
    await ctl.idle()
    assert.deepEqual(synced, ['a', 'b'])
    clock.advance(1000)
    await ctl.idle()
    clock.advance(1000)
    await ctl.idle()
    assert.deepEqual(synced, ['a', 'b', 'a', 'a'], 'b waits out its backoff')
    failing.clear()
    // a's resync at 3 s and b's retry at 5 s fire within one advance: a's next resync is
    // only scheduled once its sync has run, after the advance.
    clock.advance(3000)
    await ctl.idle()
    assert.deepEqual(synced, ['a', 'b', 'a', 'a', 'a', 'b'])
    clock.advance(1000)
    await ctl.idle()
    assert.deepEqual(synced.slice(6), ['a', 'b'], 'b resyncs like a once it succeeds')
    await ctl.stop()
  })

  it('finds new keys every period, drops keys no longer listed, and can wait a period before the first sync', async () => {
    let keys = ['a']
    const { ctl, clock, synced } = rig({ keys: () => keys, resyncMs: 1000, syncAtStart: false })
    ctl.start()
    await ctl.idle()
    assert.deepEqual(synced, [])
    keys = ['a', 'b']
    clock.advance(1000)
    await ctl.idle()
    assert.deepEqual(synced, ['a', 'b'])
    keys = ['b']
    clock.advance(1000)
    await ctl.idle()
    clock.advance(1000)
    await ctl.idle()
    assert.deepEqual(synced, ['a', 'b', 'b', 'b'])
    await ctl.stop()
  })

  it('a sync ran on demand restarts its key’s resync period', async () => {
    const { ctl, clock, synced } = rig({ keys: () => ['a'], resyncMs: 1000 })
    ctl.start()
    await ctl.idle()
    clock.advance(600)
    ctl.add('a')
    await ctl.idle()
    assert.equal(ctl.waiting().get('a'), 1600)
    clock.advance(999)
    await ctl.idle()
    assert.equal(synced.length, 2)
    clock.advance(1)
    await ctl.idle()
    assert.equal(synced.length, 3)
    await ctl.stop()
  })

  it('skips a sync when mayAct() says no, and drops that key’s retry', async () => {
    let leader = true
    const { ctl, clock, synced, counters } = rig({
      mayAct: () => leader,
      sync: (key) => {
        synced.push(key)
        throw new Error('x')
      },
    })
    ctl.add('k')
    await ctl.idle()
    assert.equal(ctl.waiting().size, 1)
    leader = false
    ctl.add('k')
    await ctl.idle()
    assert.equal(ctl.waiting().size, 0)
    clock.advance(60_000)
    await ctl.idle()
    assert.deepEqual(synced, ['k'])
    assert.equal(ctl.stats().skipped, 1)
    assert.equal(
      counters.get('homecloud_controller_syncs_total', { controller: 'test', result: 'skipped' }),
      1,
    )
  })

  it('gives the sync a mayAct() that turns false on stop', async () => {
    const gate = deferred()
    let before: boolean | undefined
    let after: boolean | undefined
    const { ctl } = rig({
      sync: async (_k, ctx) => {
        before = ctx.mayAct()
        await gate.promise
        after = ctx.mayAct()
      },
    })
    ctl.add('k')
    await tick()
    const stopped = ctl.stop()
    gate.resolve()
    await stopped
    assert.equal(before, true)
    assert.equal(after, false)
  })

  it('requeues a key after the delay a successful sync asks for', async () => {
    const { ctl, clock, synced } = rig({
      sync: (key) => {
        synced.push(key)
        return { requeueAfterMs: 250 }
      },
    })
    ctl.add('k')
    await ctl.idle()
    clock.advance(249)
    await ctl.idle()
    assert.equal(synced.length, 1)
    clock.advance(1)
    await ctl.idle()
    assert.equal(synced.length, 2)
    assert.equal(ctl.addAfter('k', 1000), true)
    assert.equal(ctl.waiting().get('k'), clock.monoMs() + 250, 'the earlier wait wins')
    await ctl.stop()
  })
})

describe('Controller: stop', () => {
  it('is idempotent, resolves only after the sync in flight, and leaves no timer', async () => {
    const gate = deferred()
    let finished = false
    let aborted = false
    const { ctl, clock, synced } = rig<string>({
      keys: () => ['a', 'b'],
      resyncMs: 1000,
      sync: async (key, ctx) => {
        synced.push(key)
        if (key === 'a') {
          await gate.promise
          aborted = ctx.signal.aborted
          finished = true
          throw new Error('interrupted')
        }
      },
    })
    ctl.start()
    ctl.addAfter('c', 500)
    await tick()
    assert.deepEqual(synced, ['a'])
    const first = ctl.stop()
    assert.equal(ctl.stop(), first)
    let resolved = false
    void first.then(() => {
      resolved = true
    })
    await tick()
    assert.equal(resolved, false, 'waits for the sync in flight')
    gate.resolve()
    await first
    assert.equal(finished, true)
    assert.equal(aborted, true)
    assert.equal(clock.liveTimers(), 0, 'resync, delayed add and retry timers are gone')
    assert.equal(ctl.add('b'), false)
    clock.advance(10_000)
    await tick()
    assert.deepEqual(synced, ['a'], 'b was dropped from the queue; nothing ran after stop')
    assert.equal(ctl.stats().failures, 0, 'an error from a sync cut short by stop is not a failure')
    await ctl.stop()
  })

  it('stops at once when nothing runs', async () => {
    const { ctl, clock } = rig({ keys: () => ['a'], resyncMs: 10 })
    ctl.start()
    await ctl.idle()
    await ctl.stop()
    assert.equal(clock.liveTimers(), 0)
    ctl.start()
    assert.equal(clock.liveTimers(), 0, 'a stopped controller does not start again')
  })
})
