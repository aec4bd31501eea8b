import type { Clock } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import { loadProfile, profileFacts } from './profiles.js'
import type { Facts } from './schema.js'

export { BoardProfile, listProfiles, loadProfile, type NamedProfile, profileFacts } from './profiles.js'
export * from './schema.js'
export { FactsSummary, factsSummary } from './summary.js'

export interface LoadFactsInit {
  dataDir: string
  /** Board profile name (lab mode); absent means read the real machine. */
  profile?: string
  /** Per-node seed for the values a profile cannot fix (the MAC). */
  seed: string
  profilesDir?: string
  /** Run the fsync probe on the real machine (default true). */
  probe?: boolean
  log?: Logger
  clock?: Clock
}

/** The one place the agent gets its facts; swap the profile to simulate hardware. */
export async function loadFacts(init: LoadFactsInit): Promise<Facts> {
  if (init.profile !== undefined) {
    const profile = await loadProfile(init.profile, init.profilesDir)
    return profileFacts(profile, { seed: init.seed, dataDir: init.dataDir })
  }
  // systeminformation is loaded only on real machines: a lab agent never pays its memory.
  const { readMachineFacts } = await import('./machine.js')
  return readMachineFacts({ dataDir: init.dataDir, probe: init.probe, log: init.log, clock: init.clock })
}
