import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type ClusterView, ClusterViewSchema, type MemberView } from '../../../../agent/api/cluster-schema.js'
import { renderStatusPage } from '../../../../agent/api/page/document.js'
import { boardWanted, DEFAULT_POLICY } from '../../../../agent/api/page/findings.js'
import { verdict } from '../../../../agent/api/page/verdict.js'
import { DEFAULT_PLACEMENT_POLICY } from '../../../../control/placement/policy.js'
import { clusterView, member, NOW } from './fixtures.js'

// The verdict ranks what matters: quorum lost > no failure to spare > a seat that cannot
// be refilled > a dead node > a Node not Ready > someone waiting; each finding says what
// homecloud does and, when it can do nothing, what the person should do.

/** The README's lab: three ARM voters, a Pi 4 on an SD card, an x86 laptop. */
function lab(over: Partial<Record<string, Partial<MemberView>>> = {}) {
  const m = (name: string, base: Partial<MemberView>) => member({ name, ...base, ...over[name] })
  const pi5 = m('pi5-1', { roles: ['worker', 'etcd-voter'] })
  const rock = m('rock5b-2', { roles: ['worker', 'etcd-voter'] })
  const ssd = m('pi4-ssd-3', { roles: ['worker', 'etcd-voter'], storageClass: 'ssd', fsyncP99Ms: 3 })
  const pi4 = m('pi4-4', { storageClass: 'sd', fsyncP99Ms: 40, self: true, lastSeenMs: NOW })
  const x86 = m('x86-5', { arch: 'amd64', board: 'x86 laptop' })
  const view = clusterView({}, [pi5, rock, ssd, pi4, x86])
  view.coordinator = rock.id
  view.controlPlane = {
    voters: [pi5.id, rock.id, ssd.id],
    learners: [],
    leader: rock.id,
    quorum: true,
    source: 'etcd',
    via: { id: rock.id, name: 'rock5b-2' },
    policy: { ...DEFAULT_POLICY },
    next: { kind: 'none' },
    reasons: [
      { id: pi5.id, name: 'pi5-1', why: 'voter (sticky)', eligible: true, chosen: true },
      { id: rock.id, name: 'rock5b-2', why: 'voter (sticky)', eligible: true, chosen: true },
      { id: ssd.id, name: 'pi4-ssd-3', why: 'voter (sticky)', eligible: true, chosen: true },
      {
        id: pi4.id,
        name: 'pi4-4',
        why: 'refused: SD card fsync p99 40 ms > 10 ms',
        eligible: false,
        chosen: false,
      },
      { id: x86.id, name: 'x86-5', why: 'refused: amd64 not eligible', eligible: false, chosen: false },
    ],
  }
  return { view, pi5, rock, ssd, pi4, x86 }
}

function unplug(view: ClusterView, m: MemberView, agoMs: number): void {
  const v = view.members.find((x) => x.id === m.id)!
  v.state = 'dead'
  v.stateSinceMs = NOW - agoMs
}

describe('verdict', () => {
  test('healthy: nothing to do, and it says so', () => {
    const { view } = lab()
    const v = verdict(view, NOW)
    assert.equal(v.level, 'healthy')
    assert.equal(v.headline, 'Healthy')
    assert.deepEqual(v.findings, [])
    assert.deepEqual(v.details, ['All 5 nodes are alive.'])
  })

  test('the policy default matches placement’s, and the wanted board is named from it', () => {
    assert.deepEqual(DEFAULT_POLICY, {
      eligibleArchs: DEFAULT_PLACEMENT_POLICY.eligibleArchs,
      fsyncP99MsMax: DEFAULT_PLACEMENT_POLICY.fsyncP99MsMax,
      votersTarget: DEFAULT_PLACEMENT_POLICY.votersTarget,
      failoverGraceMs: DEFAULT_PLACEMENT_POLICY.failoverGraceMs,
    })
    assert.equal(
      boardWanted(DEFAULT_POLICY),
      'an ARM board (arm64 or arm) with an SSD or NVMe disk (fsync p99 ≤ 10 ms; SD cards are too slow)',
    )
    assert.match(
      boardWanted({ ...DEFAULT_POLICY, eligibleArchs: ['arm64', 'amd64'] }),
      /^a machine \(arm64 or amd64\)/,
    )
  })

  test('a voter unplugged and no eligible spare: no failure to spare, then the seat, then the dead node', () => {
    const { view, pi5, x86 } = lab()
    unplug(view, pi5, 12_000)
    unplug(view, x86, 60_000)
    view.controlPlane.next = { kind: 'wait', id: pi5.id, reason: 'dead voter within grace' }
    view.controlPlane.reasons![0]!.why = 'voter (sticky): down 12 s of 30 s grace'
    const v = verdict(view, NOW)
    assert.equal(v.level, 'at-risk')
    assert.equal(v.headline, 'At risk: no failure to spare')
    assert.deepEqual(
      v.findings.map((f) => f.kind),
      ['no-spare', 'seat', 'node-dead', 'node-dead'],
    )
    const [spare, seat, first, second] = v.findings
    assert.match(
      spare!.what,
      /^etcd has no failure to spare: 2 of 3 voters up \(pi5-1 is dead since 13:59:48 UTC/,
    )
    assert.match(spare!.what, /One more failure stops the control plane\.$/)
    assert.equal(
      spare!.doing,
      'The coordinator (rock5b-2) waits out the failover grace for pi5-1 (12 s of 30 s), then removes it from etcd.',
    )
    assert.equal(
      seat!.what,
      'No board can take the seat of pi5-1 (pi4-4: SD card fsync p99 40 ms > 10 ms; x86-5: amd64 not eligible).',
    )
    assert.match(seat!.todo!, /Plug in an ARM board \(arm64 or arm\) with an SSD or NVMe disk/)
    // The dead voter's own line comes before the dead worker's (oldest-first within a rank is not promised).
    assert.deepEqual([first!.node, second!.node].sort(), [pi5.id, x86.id].sort())
    const worker = v.findings.find((f) => f.node === x86.id)!
    assert.match(worker.todo!, /Power x86-5 back on/)
    assert.equal(worker.command?.text, 'homecloud revoke x86-5')
    // On the page: the verdict lists them in that order, each with what homecloud does.
    const html = renderStatusPage(view, NOW)
    const kinds = [...html.matchAll(/class="finding finding-([a-z-]+)"/g)].map((m) => m[1])
    assert.deepEqual(kinds, ['no-spare', 'seat', 'node-dead', 'node-dead'])
    assert.match(
      html,
      /<span class="finding-label">homecloud: <\/span>The coordinator \(rock5b-2\) waits out/,
    )
  })

  test('after the dead voter is removed: two voters, still no failure to spare, seat still empty', () => {
    const { view, pi5, rock, ssd } = lab()
    unplug(view, pi5, 300_000)
    view.controlPlane.voters = [rock.id, ssd.id]
    view.controlPlane.reasons![0]!.why = 'refused: dead'
    view.controlPlane.reasons![0]!.eligible = false
    view.controlPlane.reasons![0]!.chosen = false
    const v = verdict(view, NOW)
    assert.deepEqual(
      v.findings.map((f) => f.kind),
      ['no-spare', 'seat', 'node-dead'],
    )
    assert.match(v.findings[0]!.what, /2 of 2 voters up/)
    assert.match(
      v.findings[1]!.what,
      /^etcd runs on 2 voters of the 3 wanted, and no other board can hold a vote/,
    )
    assert.match(v.findings[1]!.todo!, /Or power pi5-1 back on\./)
  })

  test('an eligible spare exists: homecloud refills the seat itself, so no seat finding', () => {
    const { view, pi5, pi4 } = lab({ 'pi4-4': { storageClass: 'nvme', fsyncP99Ms: 2 } })
    unplug(view, pi5, 40_000)
    view.controlPlane.reasons![3] = {
      id: pi4.id,
      name: 'pi4-4',
      why: 'spare: ranked 4th',
      eligible: true,
      chosen: false,
    }
    view.controlPlane.next = { kind: 'remove', id: pi5.id, reason: 'voter dead beyond grace' }
    const v = verdict(view, NOW)
    assert.deepEqual(
      v.findings.map((f) => f.kind),
      ['no-spare', 'node-dead'],
    )
    assert.match(v.findings[0]!.doing, /The coordinator \(rock5b-2\) is removing pi5-1 from etcd/)
  })

  test('a pending node that could take the seat: approve it, by name and code', () => {
    const { view, pi5 } = lab()
    unplug(view, pi5, 5000)
    view.members.push(member({ name: 'pi5-7', state: 'pending', code: 'AB12-CD34', fsyncP99Ms: 2 }))
    const seat = verdict(view, NOW).findings.find((f) => f.kind === 'seat')!
    assert.match(seat.todo!, /^Approve pi5-7 \(code AB12-CD34\): it can take the seat\./)
    assert.ok(verdict(view, NOW).findings.some((f) => f.kind === 'pending'))
  })

  test('quorum lost outranks everything; the recovery runs on the voter that said so', () => {
    const { view, pi5, ssd } = lab()
    unplug(view, pi5, 60_000)
    unplug(view, ssd, 60_000)
    view.controlPlane.quorum = false
    view.controlPlane.recovery = 'homecloud recover --state /var/lib/homecloud'
    view.coordinator = null
    const v = verdict(view, NOW)
    assert.equal(v.level, 'quorum-lost')
    assert.equal(v.headline, 'Quorum lost')
    assert.equal(v.findings[0]!.kind, 'quorum-lost')
    assert.match(v.findings[0]!.what, /2 voters of 3 unreachable \(pi5-1, dead since/)
    assert.deepEqual(v.findings[0]!.command, {
      text: 'homecloud recover --state /var/lib/homecloud',
      where: 'rock5b-2',
    })
    assert.ok(!v.findings.some((f) => f.kind === 'no-spare' || f.kind === 'seat'))
    assert.match(
      renderStatusPage(view, NOW),
      /Run on rock5b-2: <code class="command">homecloud recover --state/,
    )
  })

  test('a mesh-only view never claims quorum lost, and says its voter count is the mesh’s', () => {
    const { view, pi5 } = lab()
    view.controlPlane = {
      ...view.controlPlane,
      source: 'mesh',
      quorum: false,
      reasons: undefined,
      via: undefined,
    }
    assert.equal(verdict(view, NOW).level, 'healthy')
    unplug(view, pi5, 10_000)
    const v = verdict(view, NOW)
    assert.equal(v.findings[0]!.kind, 'no-spare')
    assert.match(v.findings[0]!.what, /as the mesh sees it/)
    assert.ok(!v.findings.some((f) => f.kind === 'quorum-lost' || f.kind === 'seat'))
  })

  test('a worker dead or silent: degraded, counted in the headline', () => {
    const { view, x86, pi4 } = lab()
    unplug(view, x86, 125_000)
    view.members.find((m) => m.id === pi4.id)!.state = 'suspect'
    const v = verdict(view, NOW)
    assert.equal(v.level, 'degraded')
    assert.equal(v.headline, 'Degraded: 1 dead, 1 not answering of 5 nodes')
    assert.equal(v.findings[0]!.what, 'x86-5 is dead since 13:57:55 UTC (2 min ago).')
    assert.match(v.findings[1]!.doing, /marks it dead if it stays silent/)
  })

  test('an alive node whose Kubernetes Node is not Ready', () => {
    const { view, x86 } = lab({
      'x86-5': {
        kube: {
          name: 'x86-5',
          ready: 'False',
          reason: 'KubeletNotReady: container runtime is down',
          kubeletVersion: 'v1.37.1',
          podsRunning: 0,
          unschedulable: false,
          cordonedBy: null,
          drain: null,
          upgradeStep: null,
        },
      },
    })
    const v = verdict(view, NOW)
    assert.equal(v.headline, 'Degraded: 1 not Ready of 5 nodes')
    assert.equal(v.findings[0]!.node, x86.id)
    assert.match(v.findings[0]!.what, /container runtime is down/)
  })

  test('one board alone is healthy, and says what a second and third would add', () => {
    const only = member({ name: 'pi5-1', self: true, roles: ['worker', 'etcd-voter'] })
    const view = clusterView({}, [only])
    view.controlPlane = {
      voters: [only.id],
      learners: [],
      leader: only.id,
      quorum: true,
      source: 'etcd',
      reasons: [],
    }
    const v = verdict(view, NOW)
    assert.equal(v.level, 'healthy')
    assert.match(
      v.details[1]!,
      /etcd runs on one board: it has no failure to spare until 2 more boards can hold a vote/,
    )
  })

  test('two boards, one of them amd64: the seat finding names why', () => {
    const a = member({ name: 'pi5-1', self: true, roles: ['worker', 'etcd-voter'] })
    const b = member({ name: 'x86-2', arch: 'amd64' })
    const view = clusterView({}, [a, b])
    view.controlPlane = {
      voters: [a.id],
      learners: [],
      leader: a.id,
      quorum: true,
      source: 'etcd',
      reasons: [
        { id: a.id, why: 'voter (sticky)', eligible: true, chosen: true },
        { id: b.id, why: 'refused: amd64 not eligible', eligible: false, chosen: false },
      ],
    }
    const v = verdict(view, NOW)
    assert.equal(v.headline, 'At risk: a control-plane seat cannot be refilled')
    assert.match(v.findings[0]!.what, /x86-2: amd64 not eligible/)
  })

  test('two Pis and a laptop in the third seat: healthy, and a finding says the seat is a fallback', () => {
    const { view, pi5, rock, x86 } = lab()
    view.controlPlane.voters = [pi5.id, rock.id, x86.id]
    view.controlPlane.fallback = [x86.id]
    view.controlPlane.reasons = [
      { id: pi5.id, name: 'pi5-1', why: 'voter (sticky)', eligible: true, chosen: true },
      { id: rock.id, name: 'rock5b-2', why: 'voter (sticky)', eligible: true, chosen: true },
      {
        id: x86.id,
        name: 'x86-5',
        why: 'voter (fallback amd64): only 2 arm64/arm boards can hold etcd; the seat moves to one when it appears',
        eligible: true,
        chosen: true,
      },
    ]
    const v = verdict(view, NOW)
    assert.equal(v.level, 'healthy')
    assert.equal(v.headline, 'Healthy')
    const f = v.findings.find((x) => x.kind === 'fallback')
    assert.ok(f, 'a fallback finding')
    assert.equal(
      f.what,
      'x86-5 (amd64) holds an etcd seat in place of an ARM board (arm64 or arm): only 2 such boards can hold etcd.',
    )
    assert.match(f.doing, /joins, gets its vote, and only then does the fallback voter leave/)
    assert.match(f.todo ?? '', /^Plug in an ARM board \(arm64 or arm\) with an SSD or NVMe disk/)
    const html = renderStatusPage(view, NOW)
    assert.match(html, /x86-5 \(amd64\) holds an etcd seat in place of an ARM board/)
  })

  test('chosen but not yet seated, the laptop "will take" the seat; no fallback, no finding', () => {
    const { view, x86 } = lab()
    assert.equal(
      verdict(view, NOW).findings.find((x) => x.kind === 'fallback'),
      undefined,
    )
    view.controlPlane.fallback = [x86.id]
    const f = verdict(view, NOW).findings.find((x) => x.kind === 'fallback')
    assert.match(f?.what ?? '', /^x86-5 \(amd64\) will take an etcd seat/)
  })

  test('the view carrying fallback ids passes the API schema; the field stays optional', () => {
    const { view, x86 } = lab()
    view.controlPlane.fallback = [x86.id]
    assert.ok(ClusterViewSchema.safeParse(view).success)
  })
})
