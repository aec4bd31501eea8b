import type { AddonsReport, ApplyAddonsOptions } from './types.js'

export type { AddonProblem } from './problem.js'
export { describeProblem } from './problem.js'
export type { AddonsReport, ApplyAddonsOptions } from './types.js'

// The entry the coordinator calls. Everything behind it (and @kubernetes/client-node,
// ~80 MB of RSS once loaded) is imported on the first call only, so an agent that never
// coordinates never loads it.

/**
 * Applies every manifest under `dir` that is new, changed, or due for a resync, with
 * server-side apply (field manager `homecloud`, strict field validation). A refused
 * document is reported with its file, document number and field; the rest still apply.
 * Throws KUBE_ADDONS_FAILED only when nothing could be tried (directory unreadable, API
 * server unreachable).
 */
export async function applyAddons(opts: ApplyAddonsOptions): Promise<AddonsReport> {
  const { runAddons } = await import('./apply.js')
  return runAddons(opts)
}
