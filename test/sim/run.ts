// Run the simulator on demand: many random fault schedules, or one seed again.
//   npm run sim -- --seeds 5000 [--from 1] [--nodes N]      membership only (fast)
//   npm run sim -- --cluster --seeds 1000 [--from 1]        whole cluster (coordinator, etcd, lock)
//   npm run sim -- --trust --seeds 1000 [--from 1] [--strict]  joins and revocations over membership
//                                                           (--strict: admins revoke nodes with no known certificate too;
//                                                           --boot-non-signers: nodes bootstrap from members without the CA key;
//                                                           --nodes M --joiners J: M members, then J joiners in a burst;
//                                                           --busy-signers P: messages to/from signers lost with probability P)
//   npm run sim -- --rollout --seeds 200 [--from 1]          a rollout (good or bad release) over the whole cluster
//   npm run sim -- [--cluster|--trust|--rollout] --seed 123  replay one, printing its schedule
// A failure prints its seed and schedule; the seed replays it exactly.
import { parseArgs } from 'node:util'
import { describeClusterRun, runClusterSchedule } from './cluster-run.js'
import { describeRun, runMembershipSchedule } from './membership-run.js'
import { describeRolloutRun, runRolloutSchedule } from './rollout-run.js'
import { describeTrustRun, runTrustSchedule } from './trust-run.js'

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1000' },
    from: { type: 'string' },
    seed: { type: 'string' },
    nodes: { type: 'string' },
    joiners: { type: 'string' },
    'busy-signers': { type: 'string' },
    cluster: { type: 'boolean', default: false },
    trust: { type: 'boolean', default: false },
    rollout: { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    'boot-non-signers': { type: 'boolean', default: false },
  },
})
const nodes = values.nodes ? Number(values.nodes) : undefined
const opts = nodes ? { nodesMin: nodes, nodesMax: nodes } : {}

/** Trust runs: joiners, and joins signed by a second signer after the joiner moved on (the one case left). */
const trustTotals = { joiners: 0, signedAfterMovingOn: 0, revoked: 0, memberAnswers: 0 }

const rolloutTotals = { runs: 0, drainsRefused: 0, deferred: 0, left: 0, quorumLost: 0, haltedByPowerCut: 0 }

async function one(seed: number): Promise<{ ok: boolean; text: string }> {
  if (values.cluster) {
    const r = await runClusterSchedule(seed, opts)
    return { ok: r.ok, text: describeClusterRun(r) }
  }
  if (values.rollout) {
    const r = await runRolloutSchedule(seed, opts)
    rolloutTotals.runs++
    rolloutTotals.drainsRefused += r.drainsRefused
    rolloutTotals.deferred += r.deferred.length
    if (r.left) rolloutTotals.left++
    if (r.quorumLost) rolloutTotals.quorumLost++
    if (r.haltedByPowerCut.length > 0) rolloutTotals.haltedByPowerCut++
    return { ok: r.ok, text: describeRolloutRun(r, values.seed !== undefined) }
  }
  if (values.trust) {
    const boot = values['boot-non-signers'] ? ('non-signers' as const) : ('signers' as const)
    // Bootstrapping from non-signers needs a few of them (test/unit/sim/trust.test.ts does the same).
    const sizes = nodes
      ? { membersMin: nodes, membersMax: nodes }
      : boot === 'non-signers'
        ? { membersMin: 6, membersMax: 9 }
        : {}
    const joiners = values.joiners ? { joiners: Number(values.joiners) } : {}
    const busy = values['busy-signers'] ? { busySigners: Number(values['busy-signers']) } : {}
    const r = runTrustSchedule(seed, { ...sizes, ...joiners, ...busy, strict: values.strict, boot })
    trustTotals.joiners += r.joiners
    trustTotals.revoked += r.revoked
    trustTotals.signedAfterMovingOn += r.signedAfterMovingOn.length
    trustTotals.memberAnswers += r.memberAnswers
    return { ok: r.ok, text: describeTrustRun(r) }
  }
  const r = runMembershipSchedule(seed, opts)
  return { ok: r.ok, text: describeRun(r) }
}

if (values.seed !== undefined) {
  const r = await one(Number(values.seed))
  console.log(r.text)
  process.exit(r.ok ? 0 : 1)
}
const count = Number(values.seeds)
const from = values.from !== undefined ? Number(values.from) : Math.floor(Math.random() * 1e9)
const t0 = performance.now()
let failures = 0
for (let seed = from; seed < from + count; seed++) {
  const r = await one(seed)
  if (!r.ok) {
    failures++
    console.log(r.text)
  }
  if ((seed - from + 1) % 250 === 0)
    console.log(
      `… ${seed - from + 1} schedules, ${failures} failed, ${Math.round(performance.now() - t0)} ms`,
    )
}
console.log(
  `${count} schedules from seed ${from}: ${failures} failed (${Math.round(performance.now() - t0)} ms)`,
)
if (values.rollout)
  console.log(
    `${rolloutTotals.drainsRefused} drains refused by the rollout's hold on a node in progress; ${rolloutTotals.deferred} nodes let go after staying away the rollout's lease; ${rolloutTotals.left} runs with a worker leaving for good; ${rolloutTotals.quorumLost} ended without an etcd quorum; ${rolloutTotals.haltedByPowerCut} good rollouts halted by a power cut during a gate`,
  )
if (values.trust)
  console.log(
    `${trustTotals.joiners} joiners, ${trustTotals.revoked} revoked; ${trustTotals.signedAfterMovingOn} joins signed again by a second signer after the joiner moved on; ${trustTotals.memberAnswers} joins answered by a member with the certificate issued before`,
  )
process.exit(failures === 0 ? 0 : 1)
