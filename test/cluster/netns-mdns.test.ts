// Real network namespaces (root only): three agents of one cluster find each other's
// DHT address over mDNS, a fourth of another cluster stays invisible, and a cut link
// isolates a node until it is restored.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { execa } from 'execa'
import {
  addNode,
  createLabNetwork,
  cutLink,
  destroyLabNetwork,
  destroyLabNetworkSync,
  restoreLink,
} from '../../lab/netns/index.js'
import type { FixtureProc } from '../support/netns-mdns-procs.js'
import { pidIsNode, startFixture, waitFor } from '../support/netns-mdns-procs.js'

const labIndex = 197
const prefix = `hc${labIndex}`
const clusterTag = 'c0ffee01'
const otherClusterTag = 'badc0de2'
const intervalMs = 1_000
const dhtPort = 49_737
/** Generous: includes tsx start-up of several processes on a 2-core machine. */
const discoveryMsMax = 45_000
/** How long a node must have been up, hearing nothing, before "finds nobody" counts. */
const silenceMs = 5 * intervalMs

const isRoot = process.getuid?.() === 0
const procs: FixtureProc[] = []

const start = (node: number, tag: string, port = dhtPort) => {
  const p = startFixture(labIndex, node, tag, port, intervalMs)
  procs.push(p)
  return p
}
const key = (p: FixtureProc) => `${p.address}:${p.dhtPort}`
const report = (ps: FixtureProc[]) =>
  ps
    .map(
      (p) =>
        `${p.name} ready=${p.readyAt !== undefined} peers=[${[...p.peers.keys()]}]\n  ${p.stderrTail.slice(-8).join('\n  ')}`,
    )
    .join('\n')

let cleanedUp = false

async function cleanup() {
  await Promise.all(procs.map((p) => p.kill()))
  await destroyLabNetwork(labIndex)
  cleanedUp = true
}

// node:test answers SIGINT/SIGTERM with process.exit(), so async cleanup would never
// finish there: tear down synchronously on 'exit', which every exit path passes through.
const onExit = () => {
  if (cleanedUp) return
  for (const p of procs) p.killNow()
  try {
    destroyLabNetworkSync(labIndex)
  } catch (err) {
    process.stderr.write(`lab ${labIndex} teardown failed: ${err}\n`)
  }
}
const onSignal = (signal: NodeJS.Signals) => process.exit(signal === 'SIGINT' ? 130 : 143)

describe('mDNS first contact in lab namespaces', {
  skip: !isRoot && 'needs root for network namespaces',
}, () => {
  before(async () => {
    process.on('exit', onExit)
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    await destroyLabNetwork(labIndex) // leftovers of a crashed run
    await createLabNetwork({ labIndex, nodes: 3 })
    await addNode(labIndex, 4)
  })

  after(async () => {
    try {
      await cleanup()
    } finally {
      process.off('exit', onExit)
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
    const netns = (await execa('ip', ['netns', 'list'])).stdout
    const links = (await execa('ip', ['-br', 'link'])).stdout
    assert.ok(!netns.includes(prefix), `namespaces left: ${netns}`)
    assert.ok(!links.includes(prefix), `links left: ${links}`)
  })

  it('same-cluster nodes find each other; another cluster is invisible both ways', async (t) => {
    const members = [1, 2, 3].map((i) => start(i, clusterTag))
    const stranger = start(4, otherClusterTag)
    const all = [...members, stranger]
    await waitFor(
      () => all.every((p) => p.readyAt !== undefined),
      discoveryMsMax,
      () => `ready\n${report(all)}`,
    )
    for (const p of all)
      assert.ok(p.pid !== undefined && pidIsNode(p.pid), `${p.name}: pid is the node process`)

    await waitFor(
      () => members.every((p) => members.every((q) => p === q || p.peers.has(key(q)))),
      discoveryMsMax,
      () => `full discovery\n${report(all)}`,
    )
    const lastReady = Math.max(...members.map((p) => p.readyAt ?? 0))
    const lastFound = Math.max(...members.flatMap((p) => [...p.peers.values()]))
    t.diagnostic(`full discovery ${Math.round(lastFound - lastReady)} ms after the last member was ready`)
    t.diagnostic(`rss MB (under tsx): ${members.map((p) => p.rssMb).join(', ')}`)

    await waitFor(
      () => performance.now() - (stranger.readyAt ?? Number.POSITIVE_INFINITY) >= silenceMs,
      discoveryMsMax,
      () => 'silence window',
    )
    assert.deepEqual([...stranger.peers.keys()], [], 'the stranger found nobody')
    for (const p of members) {
      assert.deepEqual(
        [...p.peers.keys()].sort(),
        members
          .filter((q) => q !== p)
          .map(key)
          .sort(),
        p.name,
      )
    }
  })

  it('a cut link isolates a node until restored', async (t) => {
    const [m1, m2, m3] = procs
    assert.ok(m1 && m2 && m3)
    await m3.kill()
    await cutLink(labIndex, 3)
    const isolated = start(3, clusterTag, dhtPort + 1)
    await waitFor(
      () => isolated.readyAt !== undefined,
      discoveryMsMax,
      () => `ready\n${report([isolated])}`,
    )
    await waitFor(
      () => performance.now() - (isolated.readyAt ?? Number.POSITIVE_INFINITY) >= silenceMs,
      discoveryMsMax,
      () => 'silence window',
    )
    assert.deepEqual([...isolated.peers.keys()], [], 'isolated node found nobody')
    assert.ok(!m1.peers.has(key(isolated)) && !m2.peers.has(key(isolated)), 'nobody found the isolated node')

    // The same process must recover once the link is back: proves the cut was the cause.
    const restoredAt = performance.now()
    await restoreLink(labIndex, 3)
    await waitFor(
      () =>
        isolated.peers.has(key(m1)) &&
        isolated.peers.has(key(m2)) &&
        m1.peers.has(key(isolated)) &&
        m2.peers.has(key(isolated)),
      discoveryMsMax,
      () => `discovery after restore\n${report([m1, m2, isolated])}`,
    )
    const found = Math.max(
      ...[isolated, m1, m2].map((p) => p.peers.get(key(p === isolated ? m1 : isolated)) ?? 0),
    )
    t.diagnostic(`rediscovery ${Math.round(found - restoredAt)} ms after restoreLink`)
  })
})
