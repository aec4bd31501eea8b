import { z } from 'zod'
import { Arch, type Facts, StorageClass } from './schema.js'

export const summaryMacsMax = 4

/** The compact slice of Facts gossiped in node records. */
export const FactsSummary = z.object({
  arch: Arch,
  board: z.string().max(128),
  cpuModel: z.string().max(128),
  cores: z.number().int().positive(),
  memoryMB: z.number().int().nonnegative(),
  /** Class of the device holding the data directory. */
  storageClass: StorageClass,
  /** null when the probe did not run. */
  fsyncP99Ms: z.number().nonnegative().nullable(),
  macs: z.array(z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/)).max(summaryMacsMax),
  /**
   * Present (true) only when the node's state is in RAM: records of nodes with a state
   * disk stay byte for byte what agents without this field sign and verify.
   */
  ramOnly: z.literal(true).optional(),
})
export type FactsSummary = z.infer<typeof FactsSummary>

export function factsSummary(f: Facts): FactsSummary {
  return {
    arch: f.arch,
    board: f.board,
    cpuModel: f.cpuModel,
    cores: f.cores,
    memoryMB: f.memoryMB,
    storageClass: f.dataStorageClass,
    fsyncP99Ms: f.fsync ? f.fsync.p99Ms : null,
    macs: f.macs.slice(0, summaryMacsMax),
    ...(f.ramOnly ? { ramOnly: true as const } : {}),
  }
}
