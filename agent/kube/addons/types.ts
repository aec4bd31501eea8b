import type { Clock } from '../../core/clock.js'
import type { Logger } from '../../core/log.js'
import type { KubeAccess } from './client.js'
import type { AddonProblem } from './problem.js'
import type { ApplyReason } from './state.js'

export interface ApplyAddonsOptions {
  /** An admin kubeconfig (the coordinator's, through the local load balancer). */
  kubeconfigPath: string
  /** The manifests directory: every .yaml/.yml/.json file under it, recursively. */
  dir: string
  log: Logger
  clock: Clock
  /** Re-apply unchanged files after this long, to heal drift (default 10 min). */
  resyncMs?: number
  fieldManager?: string
  /**
   * The kube-system ConfigMap recording what was applied (default `homecloud-addons`).
   * One per manifests directory: a file missing from the directory is forgotten.
   */
  stateConfigMap?: string
  /** Tests only: another way to reach the API server. */
  kube?: KubeAccess
}

export interface AddonsReport {
  /** Files whose every document was accepted, with why they were applied. */
  applied: { file: string; reason: ApplyReason; objects: number }[]
  /** Files with at least one refused document (their other documents were still applied). */
  failed: string[]
  /** Files skipped: same content as the last successful apply, within the resync period. */
  unchanged: string[]
  problems: AddonProblem[]
  objectsApplied: number
  durationMs: number
}
