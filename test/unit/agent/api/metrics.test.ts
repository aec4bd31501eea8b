import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { renderMetrics } from '../../../../agent/api/metrics.js'
import { buildApiServer } from '../../../../agent/api/server.js'
import { Counters } from '../../../../agent/core/counters.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { FAILOVERS_TOTAL } from '../../../../control/coordinator/reconciler.js'
import { coordinatorRig, GRACE, me } from '../../control/coordinator/coordinator-rig.js'
import { node } from '../../control/coordinator/fake-etcd.js'
import { clusterView, member } from './fixtures.js'

const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? (\d+(\.\d+)?)$/

/** Parses Prometheus text 0.0.4 strictly enough to catch what scrapers refuse. */
function parse(text: string) {
  assert.ok(text.endsWith('\n'), 'ends with a newline')
  const samples = new Map<string, number>()
  const types = new Map<string, string>()
  const help = new Map<string, string>()
  const seenFamilies: string[] = []
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line)
    if (meta) {
      const [, kind, name, rest] = meta
      const map = kind === 'TYPE' ? types : help
      assert.ok(!map.has(name!), `${kind} for ${name} given twice`)
      if (kind === 'TYPE') assert.ok(['counter', 'gauge'].includes(rest!), line)
      map.set(name!, rest!)
      continue
    }
    const m = SAMPLE.exec(line)
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`)
    const family = m[1]!
    assert.ok(types.has(family), `${family} sampled before its TYPE`)
    if (seenFamilies.at(-1) !== family) {
      assert.ok(!seenFamilies.includes(family), `${family}'s samples are not contiguous`)
      seenFamilies.push(family)
    }
    const key = `${family}${m[2] ?? ''}`
    assert.ok(!samples.has(key), `${key} twice`)
    samples.set(key, Number(m[4]))
  }
  return { samples, types, help }
}

describe('/metrics exposition', () => {
  test('members by state and voters are gauges; the promised counters exist at 0', () => {
    const view = clusterView({}, [
      member({ self: true }),
      member({ state: 'dead' }),
      member({ state: 'suspect' }),
      member({ state: 'pending' }),
      member(),
    ])
    view.controlPlane = { ...view.controlPlane, voters: ['a', 'b', 'c'], source: 'etcd', quorum: true }
    const { samples, types, help } = parse(renderMetrics(view, new Counters()))
    assert.equal(samples.get('homecloud_members{state="alive"}'), 2)
    assert.equal(samples.get('homecloud_members{state="dead"}'), 1)
    assert.equal(samples.get('homecloud_members{state="suspect"}'), 1)
    assert.equal(samples.get('homecloud_members{state="pending"}'), 1)
    assert.equal(samples.get('homecloud_etcd_voters'), 3)
    assert.equal(types.get('homecloud_members'), 'gauge')
    for (const name of ['homecloud_failovers_total', 'homecloud_joins_total', 'homecloud_drains_total']) {
      assert.equal(samples.get(name), 0, name)
      assert.equal(types.get(name), 'counter')
      assert.ok(help.get(name), `${name} has help`)
    }
    assert.match(help.get('homecloud_drains_total')!, /always 0.*drains do not exist yet/i)
  })

  test('counted values appear once, labelled families stay contiguous', () => {
    const counters = new Counters()
    counters.inc('homecloud_joins_total')
    counters.inc('homecloud_joins_total')
    counters.inc('homecloud_failovers_total')
    counters.inc('homecloud_logins_total', { result: 'ok' })
    counters.inc('homecloud_http_rejected_total', { reason: 'csrf' })
    counters.inc('homecloud_logins_total', { result: 'refused' })
    counters.inc('homecloud_http_rejected_total', { reason: 'a "quoted"\nvalue' })
    const { samples, types } = parse(renderMetrics(clusterView(), counters))
    assert.equal(samples.get('homecloud_joins_total'), 2)
    assert.equal(samples.get('homecloud_failovers_total'), 1)
    assert.equal(samples.get('homecloud_drains_total'), 0)
    assert.equal(samples.get('homecloud_logins_total{result="ok"}'), 1)
    assert.equal(samples.get('homecloud_logins_total{result="refused"}'), 1)
    assert.equal(samples.get('homecloud_http_rejected_total{reason="a _quoted__value"}'), 1)
    assert.equal(types.get('homecloud_logins_total'), 'counter')
  })

  test('GET /metrics serves it as text 0.0.4', async () => {
    const app = buildApiServer({
      log: silentLogger(),
      counters: new Counters(),
      clusterView: () => clusterView(),
      meshInfo: () => ({ dhtAddress: null, bootstrapNodes: [], connections: 0, incarnation: 1 }),
      ready: () => true,
    })
    const res = await app.inject({ url: '/metrics' })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4')
    assert.equal(parse(res.body).samples.get('homecloud_members{state="alive"}'), 3)
    await app.close()
  })

  test('the coordinator counts a failover when it removes a dead voter', async () => {
    const nodes = [node(me.id), node('b'), node('c'), node('d', { memoryMB: 4096 })]
    const { clock, counters, coordinator, assigned, boot } = coordinatorRig(nodes)
    for (const id of ['b', 'c']) {
      await coordinator.tick()
      boot(assigned.at(-1)!.memberId, id)
      await coordinator.tick()
    }
    assert.equal(counters.get(FAILOVERS_TOTAL), 0, 'growing to three voters is no failover')
    const c = nodes[2]!
    c.view = { ...c.view, alive: false, state: 'dead', deadSinceMs: clock.nowMs() }
    clock.advance(GRACE + 1000)
    const r = await coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind, 'remove')
    assert.equal(counters.get(FAILOVERS_TOTAL), 1)
    assert.equal(parse(renderMetrics(clusterView(), counters)).samples.get(FAILOVERS_TOTAL), 1)
  })
})
