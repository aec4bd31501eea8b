import type { V1Node } from '../kubeapi/types.js'

// What homecloud writes on a Node it drains, so any later reader (undrain, the status
// page, a human with kubectl) knows who cordoned it and how the drain went.

export const CORDONED_BY = 'homecloud.dev/cordoned-by'
export const CORDONED_AT = 'homecloud.dev/cordoned-at'
export const DRAIN_STATUS = 'homecloud.dev/drain-status'
export const DRAIN_MESSAGE = 'homecloud.dev/drain-message'
export const DRAIN_TOKEN = 'homecloud.dev/drain-lock-token'
/** Why homecloud drained it, when the asker said (`shutdown`: the node drained itself to stop). */
export const DRAIN_REASON = 'homecloud.dev/drain-reason'
export const HOMECLOUD = 'homecloud'

export type DrainStatus = 'draining' | 'drained' | 'gave-up'

export interface NodeDrainState {
  unschedulable: boolean
  cordonedByHomecloud: boolean
  status: DrainStatus | null
  message: string | null
  reason: string | null
}

export function drainStateOf(n: V1Node): NodeDrainState {
  const a = n.metadata?.annotations ?? {}
  const s = a[DRAIN_STATUS]
  return {
    unschedulable: n.spec?.unschedulable === true,
    cordonedByHomecloud: a[CORDONED_BY] === HOMECLOUD,
    status: s === 'draining' || s === 'drained' || s === 'gave-up' ? s : null,
    message: a[DRAIN_MESSAGE] ?? null,
    reason: a[DRAIN_REASON] ?? null,
  }
}

/**
 * The merge patch that cordons for a drain. A node someone else cordoned keeps no
 * claim of ours on its cordon, so undrain leaves it cordoned.
 */
export function cordonPatch(n: V1Node, token: number, nowIso: string, reason?: string): object {
  const s = drainStateOf(n)
  const ours = !s.unschedulable || s.cordonedByHomecloud
  return {
    metadata: {
      resourceVersion: n.metadata?.resourceVersion,
      annotations: {
        ...(ours ? { [CORDONED_BY]: HOMECLOUD, [CORDONED_AT]: nowIso } : {}),
        [DRAIN_STATUS]: 'draining',
        [DRAIN_MESSAGE]: null,
        [DRAIN_TOKEN]: String(token),
        [DRAIN_REASON]: reason ?? null,
      },
    },
    spec: { unschedulable: true },
  }
}

export function statusPatch(status: DrainStatus, message: string | null): object {
  return { metadata: { annotations: { [DRAIN_STATUS]: status, [DRAIN_MESSAGE]: message } } }
}

/** Undrain: uncordon only what we cordoned; always drop our drain bookkeeping. */
export function undrainPatch(n: V1Node): { patch: object; uncordons: boolean } {
  const s = drainStateOf(n)
  const annotations = {
    [CORDONED_BY]: null,
    [CORDONED_AT]: null,
    [DRAIN_STATUS]: null,
    [DRAIN_MESSAGE]: null,
    [DRAIN_TOKEN]: null,
    [DRAIN_REASON]: null,
  }
  return {
    patch: {
      metadata: { resourceVersion: n.metadata?.resourceVersion, annotations },
      ...(s.cordonedByHomecloud ? { spec: { unschedulable: false } } : {}),
    },
    uncordons: s.cordonedByHomecloud && s.unschedulable,
  }
}
