import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { manualClock, systemClock } from '../../../../agent/core/clock.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { seededRandom } from '../../../../agent/core/random.js'
import { minutePoints, StatsHistory } from '../../../../agent/stats/history.js'
import { parseProcStat, processTree, readAllProcStats, treeBytes } from '../../../../agent/stats/proc.js'
import { labSampler, parseThrottled } from '../../../../agent/stats/samplers.js'
import type { MachineSample } from '../../../../agent/stats/schema.js'
import { NodeStats } from '../../../../agent/stats/service.js'

const T0 = Date.UTC(2025, 4, 1, 14, 0, 0)
const sample = (atMs: number, cpuPct = 10, memUsedMB = 512): MachineSample => ({
  atMs,
  cpuPct,
  memUsedMB,
  memTotalMB: 1024,
  diskUsedPct: 20,
  tempC: null,
  throttled: null,
})

describe('history of the last hour', () => {
  test('bounded, in time order, replays dropped, pruned to the hour', () => {
    const h = new StatsHistory(3)
    for (const t of [1, 2, 3, 4]) h.add(sample(T0 + t * 1000))
    h.add(sample(T0 + 2000))
    assert.deepEqual(
      h.since(0).map((s) => s.atMs - T0),
      [2000, 3000, 4000],
    )
    assert.deepEqual(
      h.since(T0 + 3000).map((s) => s.atMs - T0),
      [4000],
    )
    h.prune(T0 + 3600_000 + 3500)
    assert.deepEqual(
      h.since(0).map((s) => s.atMs - T0),
      [4000],
    )
  })

  test('one chart point a minute (the minute’s mean), at most 60', () => {
    const samples = [sample(T0, 10, 256), sample(T0 + 15_000, 30, 768), sample(T0 + 60_000, 50, 1024)]
    assert.deepEqual(minutePoints(samples, T0 + 120_000), [
      { atMs: T0 + 15_000, cpuPct: 20, memPct: 50 },
      { atMs: T0 + 60_000, cpuPct: 50, memPct: 100 },
    ])
    const many = Array.from({ length: 200 }, (_, i) => sample(T0 + i * 30_000))
    const points = minutePoints(many, T0 + 200 * 30_000)
    assert.equal(points.length, 60)
  })
})

describe('/proc, for lab nodes', () => {
  test('a stat line whose command holds spaces and parentheses', () => {
    const line =
      '4242 (node (agent) x) S 4000 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 11 0 1000 123456 3000 0'
    assert.deepEqual(parseProcStat(line), { pid: 4242, ppid: 4000, ticks: 300, rssPages: 3000 })
    assert.equal(parseProcStat('garbage'), null)
    assert.equal(parseProcStat('12 (x) S a b'), null)
  })

  test('a process tree: the root and everything below it, nothing beside it', () => {
    const p = (pid: number, ppid: number) => ({ pid, ppid, ticks: 1, rssPages: 1 })
    const all = [p(1, 0), p(10, 1), p(11, 10), p(12, 11), p(20, 1), p(13, 10)]
    assert.deepEqual(
      processTree(all, 10)
        .map((x) => x.pid)
        .sort(),
      [10, 11, 12, 13],
    )
    assert.deepEqual(processTree(all, 99), [])
  })

  test('the real /proc: this process and a child it starts are counted', async () => {
    const child = spawn('sleep', ['5'])
    try {
      await new Promise((r) => child.once('spawn', r))
      const tree = processTree(await readAllProcStats(), process.pid)
      assert.ok(tree.some((p) => p.pid === process.pid))
      assert.ok(tree.some((p) => p.pid === child.pid))
      const dir = await mkdtemp(join(tmpdir(), 'hc-stats-'))
      await writeFile(join(dir, 'a'), Buffer.alloc(1000))
      assert.equal(await treeBytes(dir), 1000)
      const lab = labSampler({
        rootPid: process.pid,
        stateDir: dir,
        board: { cores: 4, memoryMB: 4096, diskGB: 32 },
        clock: systemClock(),
      })
      await lab.sample()
      const s = await lab.sample()
      assert.equal(s.memTotalMB, 4096)
      assert.ok(s.memUsedMB > 10, `this process uses memory: ${s.memUsedMB} MB`)
      assert.equal(s.tempC, null)
      assert.ok(s.diskUsedPct !== null && s.diskUsedPct < 0.001)
      await rm(dir, { recursive: true, force: true })
    } finally {
      child.kill()
    }
  })

  test('Raspberry Pi throttling flags: the current bits only', () => {
    assert.equal(parseThrottled('0x0\n'), false)
    assert.equal(parseThrottled('0x50000'), false, 'happened since boot, not now')
    assert.equal(parseThrottled('0x50005'), true)
    assert.equal(parseThrottled('junk'), null)
  })
})

describe('peers’ numbers', () => {
  test('pulled only while someone reads, then only what is new; a bad answer is refused', async () => {
    const clock = manualClock(T0)
    const asked: string[] = []
    let answer: unknown = { source: 'lab', samples: [sample(T0 - 30_000), sample(T0 - 15_000)] }
    const stats = new NodeStats(
      { sampleMs: 15_000, demandMs: 60_000 },
      {
        clock,
        random: seededRandom(7),
        log: silentLogger(),
        sampler: { source: 'machine', sample: async () => sample(clock.nowMs(), 5) },
        peers: () => [{ id: 'p1', url: 'https://10.0.0.9:7443/' }],
        fetch: async (_peer, path) => {
          asked.push(path)
          return answer
        },
      },
    )
    const run = async (ms: number) => {
      // In steps, letting each sync finish: a sync in flight holds back that key's next one.
      for (let left = ms; left > 0; left -= 500) {
        clock.advance(Math.min(500, left))
        for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
      }
    }
    stats.start()
    await run(1)
    assert.deepEqual(asked, [], 'nobody reads: no pulls')
    assert.equal(stats.viewOf('self', true)?.cpuPct, 5, 'but it samples itself')
    stats.touch()
    await run(1)
    assert.deepEqual(asked, ['/api/v1/stats?since=0'])
    assert.equal(stats.viewOf('p1', false)?.source, 'lab')
    answer = { source: 'lab', samples: [sample(T0 + 1000, 70)] }
    await run(15_000)
    assert.equal(asked[1], `/api/v1/stats?since=${T0 - 15_000}`)
    assert.equal(stats.viewOf('p1', false)?.cpuPct, 70)
    answer = { source: 'lab', samples: [{ atMs: 'x' }] }
    await run(15_000)
    assert.equal(stats.viewOf('p1', false)?.cpuPct, 70, 'kept what it had')
    const before = asked.length
    await run(120_000)
    const after = asked.length
    await run(60_000)
    assert.equal(asked.length, after, `no pulls once nobody reads (${before} → ${after})`)
    assert.deepEqual(stats.answer(T0 + 100_000).samples.length > 0, true)
    await stats.stop()
  })
})
