// Run the simulator on demand: many random fault schedules, or one seed again.
//   npm run sim -- --seeds 5000 [--from 1]     schedules with seeds from..from+seeds-1
//   npm run sim -- --seed 123                  replay one, printing its schedule
// A failure prints its seed and schedule; the seed replays it exactly.
import { parseArgs } from 'node:util'
import { describeRun, runMembershipSchedule } from './membership-run.js'

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1000' },
    from: { type: 'string' },
    seed: { type: 'string' },
    nodes: { type: 'string' },
  },
})
const nodes = values.nodes ? Number(values.nodes) : undefined
const opts = nodes ? { nodesMin: nodes, nodesMax: nodes } : {}

if (values.seed !== undefined) {
  const r = runMembershipSchedule(Number(values.seed), opts)
  console.log(describeRun(r))
  console.log(`converged ${r.convergedAfterMs} ms after the faults stopped; ${r.events} events`)
  process.exit(r.ok ? 0 : 1)
}
const count = Number(values.seeds)
const from = values.from !== undefined ? Number(values.from) : Math.floor(Math.random() * 1e9)
const t0 = performance.now()
let failures = 0
for (let seed = from; seed < from + count; seed++) {
  const r = runMembershipSchedule(seed, opts)
  if (!r.ok) {
    failures++
    console.log(describeRun(r))
  }
  if ((seed - from + 1) % 500 === 0)
    console.log(
      `… ${seed - from + 1} schedules, ${failures} failed, ${Math.round(performance.now() - t0)} ms`,
    )
}
console.log(
  `${count} schedules from seed ${from}: ${failures} failed (${Math.round(performance.now() - t0)} ms)`,
)
process.exit(failures === 0 ? 0 : 1)
