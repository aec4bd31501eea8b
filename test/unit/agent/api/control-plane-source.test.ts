import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  type ControlPlaneAnswer,
  ControlPlaneSource,
  chooseControlPlane,
  pickVoter,
  refuseAnswer,
} from '../../../../agent/api/control-plane-source.js'
import { manualClock } from '../../../../agent/core/clock.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { seededRandom } from '../../../../agent/core/random.js'

const voters = [
  { id: 'b', name: 'rock5b-2', url: 'https://10.0.0.2:7443/' },
  { id: 'a', name: 'pi5-1', url: 'https://10.0.0.1:7443/' },
  { id: 'c', name: 'pi4-ssd-3', url: 'https://10.0.0.3:7443/' },
]
const etcdView = (over: Partial<ControlPlaneAnswer['controlPlane']> = {}): ControlPlaneAnswer => ({
  controlPlane: { voters: ['a', 'b', 'c'], learners: [], leader: 'a', quorum: true, source: 'etcd', ...over },
  coordinator: 'b',
  kube: null,
})
const meshView = {
  controlPlane: {
    voters: ['a', 'b', 'c'],
    learners: [],
    leader: null,
    quorum: true,
    source: 'mesh' as const,
  },
  coordinator: null,
}

describe('which voter to ask', () => {
  test('the last one that answered; after a failure the next by id, so a dead one is skipped', () => {
    assert.equal(pickVoter(voters, null, null)?.id, 'a')
    assert.equal(pickVoter(voters, 'c', null)?.id, 'c')
    assert.equal(pickVoter(voters, 'a', 'a')?.id, 'b')
    assert.equal(pickVoter(voters, null, 'c')?.id, 'a', 'wraps around')
    assert.equal(pickVoter([voters[1]!], 'a', 'a')?.id, 'a', 'the only one is asked again')
    assert.equal(pickVoter([], null, null), null)
  })

  test('only a voter’s own etcd view is taken', () => {
    assert.equal(refuseAnswer(etcdView(), voters[1]!), null)
    assert.equal(refuseAnswer(etcdView({ source: 'mesh' }), voters[1]!), 'not an etcd view')
    assert.equal(
      refuseAnswer(etcdView({ via: { id: 'c', name: 'x' } }), voters[1]!),
      'passed on, not its own',
    )
    assert.equal(
      refuseAnswer(etcdView({ voters: ['b', 'c'] }), voters[1]!),
      'the answering node is not among its voters',
    )
  })
})

describe('what the page shows', () => {
  test('own etcd view first, then a voter’s (saying through whom), then the mesh', () => {
    const own = { controlPlane: etcdView().controlPlane, coordinator: 'b' }
    const nodes = { nodes: [], readAtMs: 1 }
    const remote = { answer: { ...etcdView(), kube: nodes }, from: voters[0]! }
    const local = chooseControlPlane({ local: own, localKube: null, remote, mesh: meshView })
    assert.equal(local.controlPlane.via, undefined)
    assert.equal(local.kube, nodes, 'a voter without Kubernetes access still shows what another voter read')
    const through = chooseControlPlane({ local: null, localKube: null, remote, mesh: meshView })
    assert.deepEqual(through.controlPlane.via, { id: 'b', name: 'rock5b-2' })
    assert.equal(through.controlPlane.source, 'etcd')
    assert.equal(through.coordinator, 'b')
    const fallback = chooseControlPlane({ local: null, localKube: null, remote: null, mesh: meshView })
    assert.equal(fallback.controlPlane.source, 'mesh')
    assert.equal(fallback.kube, null)
  })

  test('the loop asks the next voter after a failure, refuses a bad answer, and forgets a stale one', async () => {
    const clock = manualClock(1_000_000)
    const asked: string[] = []
    const answers: Record<string, () => unknown> = {
      a: () => {
        throw new Error('connection refused')
      },
      b: () => etcdView(),
      c: () => ({ nonsense: true }),
    }
    const source = new ControlPlaneSource({
      clock,
      random: seededRandom(1),
      log: silentLogger(),
      local: () => null,
      localKube: () => null,
      mesh: () => meshView,
      voters: () => voters,
      fetch: async (v) => {
        asked.push(v.id)
        return answers[v.id]!()
      },
    })
    const runFor = async (ms: number) => {
      // In steps, letting each sync finish: a sync in flight holds back that key's next one.
      for (let left = ms; left > 0; left -= 500) {
        clock.advance(Math.min(500, left))
        for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
      }
    }
    source.start()
    source.touch()
    await runFor(1)
    assert.equal(source.current().controlPlane.source, 'mesh', 'pi5-1 did not answer')
    await runFor(2000)
    assert.deepEqual(source.current().controlPlane.via, { id: 'b', name: 'rock5b-2' })
    assert.deepEqual(asked, ['a', 'b'])
    answers.b = () => etcdView({ source: 'mesh' })
    await runFor(2000)
    assert.equal(source.current().controlPlane.via?.id, 'b', 'the last good answer holds a while')
    await runFor(12_000)
    assert.equal(source.current().controlPlane.source, 'mesh', 'then the mesh again')
    // Nobody reading: a voter is asked every 10 s instead of every 2 s.
    answers.c = () => etcdView()
    await runFor(120_000)
    const before = asked.length
    await runFor(30_000)
    assert.equal(
      asked.length - before,
      3,
      `asked ${asked.slice(before).join()} in 30 s while nobody read (all: ${asked.join()})`,
    )
    await source.stop()
  })
})
