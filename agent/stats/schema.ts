import { z } from 'zod'

// What a node says about its own load: the status page's charts and numbers.

/** One point of a machine's recent load, for the page's charts (agent/stats). */
export const StatsPoint = z.object({
  atMs: z.number(),
  /** Percent of all cores (lab: of the board's cores, from the node's processes). */
  cpuPct: z.number().min(0).max(100),
  memPct: z.number().min(0).max(100),
})
export type StatsPoint = z.infer<typeof StatsPoint>

export const NodeStatsView = z.object({
  /** machine: the real hardware (systeminformation); lab: this node's processes measured on a shared host. */
  source: z.enum(['machine', 'lab']),
  atMs: z.number(),
  cpuPct: z.number().min(0).max(100),
  memUsedMB: z.number().nonnegative(),
  memTotalMB: z.number().nonnegative(),
  /** The data disk (lab: bytes in the state directory against the board's disk size). */
  diskUsedPct: z.number().min(0).max(100).nullable(),
  /** Where the board reports it (thermal zone; lab: never). */
  tempC: z.number().nullable(),
  /** Raspberry Pi firmware: throttled or capped now (under-voltage, heat); null where unknown. */
  throttled: z.boolean().nullable(),
  /** The last hour, oldest first, at most one point a minute. */
  history: z.array(StatsPoint).max(120),
})
export type NodeStatsView = z.infer<typeof NodeStatsView>

/** One reading, as the node keeps it and serves it to peers (GET /api/v1/stats on 7443). */
export const MachineSample = z.object({
  atMs: z.number().int().nonnegative(),
  cpuPct: z.number().min(0).max(100),
  memUsedMB: z.number().nonnegative(),
  memTotalMB: z.number().nonnegative(),
  diskUsedPct: z.number().min(0).max(100).nullable(),
  tempC: z.number().min(-60).max(200).nullable(),
  throttled: z.boolean().nullable(),
})
export type MachineSample = z.infer<typeof MachineSample>

export const StatsSource = z.enum(['machine', 'lab'])
export type StatsSource = z.infer<typeof StatsSource>

/** The answer to GET /api/v1/stats?since=MS: readings newer than `since`, oldest first. */
export const StatsAnswer = z.object({
  source: StatsSource,
  samples: z.array(MachineSample).max(256),
})
export type StatsAnswer = z.infer<typeof StatsAnswer>
