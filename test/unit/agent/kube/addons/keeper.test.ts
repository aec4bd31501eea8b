import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { manualClock } from '../../../../../agent/core/clock.js'
import { HomecloudError } from '../../../../../agent/core/errors.js'
import { silentLogger } from '../../../../../agent/core/log.js'
import { packageRoot } from '../../../../../agent/core/package-root.js'
import { AddonKeeper, addonRetryPolicy } from '../../../../../agent/kube/addons/keeper.js'
import type { AddonsReport } from '../../../../../agent/kube/addons/types.js'

const report = (over: Partial<AddonsReport> = {}): AddonsReport => ({
  applied: [],
  failed: [],
  unchanged: [],
  problems: [],
  objectsApplied: 0,
  durationMs: 1,
  ...over,
})

/** Lets the keeper's controller run what its timers queued (syncs start in a microtask). */
const flush = () => new Promise((r) => setImmediate(r))

describe('add-on keeper', () => {
  it('runs a pass at start and then every period, only while this node may act, never two at once', async () => {
    const clock = manualClock()
    let leader = true
    let calls = 0
    let release: () => void = () => {}
    const keeper = new AddonKeeper({
      kubeconfigPath: 'k',
      dir: 'd',
      log: silentLogger(),
      clock,
      everyMs: 1000,
      mayAct: () => leader,
      apply: async () => {
        calls++
        await new Promise<void>((r) => {
          release = r
        })
        return report()
      },
    })
    keeper.start()
    await flush()
    assert.equal(calls, 1)
    clock.advance(1000) // the first pass is still running: no second one
    await flush()
    assert.equal(calls, 1)
    release()
    await flush()
    clock.advance(1000)
    await flush()
    assert.equal(calls, 2)
    release()
    await flush()
    leader = false
    clock.advance(5000)
    await flush()
    assert.equal(calls, 2)
    await keeper.stop()
    leader = true
    clock.advance(5000)
    await flush()
    assert.equal(calls, 2)
  })

  it('retries quickly until a first pass succeeds, then keeps the normal period', async () => {
    const clock = manualClock()
    let ready = false
    let calls = 0
    const keeper = new AddonKeeper({
      kubeconfigPath: 'k',
      dir: 'd',
      log: silentLogger(),
      clock,
      everyMs: 30_000,
      retryMs: 3000,
      mayAct: () => true,
      apply: async () => {
        calls++
        if (!ready) throw new HomecloudError('KUBE_ADDONS_FAILED', 'no API server answered')
        return report()
      },
    })
    keeper.start()
    await flush()
    assert.equal(calls, 1)
    clock.advance(3000)
    await flush()
    assert.equal(calls, 2, 'a failed pass is retried after retryMs')
    ready = true
    clock.advance(3000)
    await flush()
    assert.equal(calls, 3)
    assert.ok(keeper.lastReport)
    clock.advance(27_000)
    await flush()
    assert.equal(calls, 3, 'after a success, the normal period')
    clock.advance(3000)
    await flush()
    assert.equal(calls, 4)
    await keeper.stop()
    clock.advance(60_000)
    await flush()
    assert.equal(calls, 4)
  })

  it('the retry period: retryMs until a first success, then the normal period', () => {
    assert.deepEqual(addonRetryPolicy(false, 30_000, 3000), {
      initialDelayMs: 3000,
      factor: 1,
      delayMsMax: 3000,
      jitter: 0,
    })
    assert.equal(addonRetryPolicy(true, 30_000, 3000).initialDelayMs, 30_000)
    assert.equal(addonRetryPolicy(false, 30_000, undefined).initialDelayMs, 30_000)
  })

  it('keeps the last report and error without throwing', async () => {
    let fail = true
    const keeper = new AddonKeeper({
      kubeconfigPath: 'k',
      dir: 'd',
      log: silentLogger(),
      clock: manualClock(),
      mayAct: () => true,
      apply: async () => {
        if (fail) throw new HomecloudError('KUBE_ADDONS_FAILED', 'no API server answered')
        return report({
          failed: ['x.yaml'],
          problems: [{ file: 'x.yaml', index: 2, field: '.spec.x', message: 'bad', source: 'server' }],
        })
      },
    })
    assert.equal(await keeper.pass(), null)
    assert.match(keeper.lastError?.message ?? '', /no API server/)
    fail = false
    assert.ok(await keeper.pass())
    assert.equal(keeper.lastError, null)
    assert.deepEqual(keeper.problems(), ['x.yaml document 2, field .spec.x: bad'])
  })

  it('what the agent loads at startup never statically imports the Kubernetes client or the YAML parser', async () => {
    // Follows static (non-type) relative imports from the entry points the agent uses.
    const heavy = ['@kubernetes/client-node', 'js-yaml']
    const seen = new Set<string>()
    const bare = new Set<string>()
    const visit = async (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      const text = await readFile(file, 'utf8')
      for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^'"]*?from\s+'([^']+)'/gm)) {
        const spec = m[1]!
        if (spec.startsWith('.')) await visit(join(dirname(file), spec.replace(/\.js$/, '.ts')))
        else bare.add(spec)
      }
    }
    const dir = join(packageRoot(), 'agent', 'kube', 'addons')
    await visit(join(dir, 'index.ts'))
    await visit(join(dir, 'keeper.ts'))
    for (const h of heavy) assert.ok(!bare.has(h), `${h} is imported statically by ${[...seen].join(', ')}`)
  })
})
