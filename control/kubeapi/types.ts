import type { V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node'
import { HomecloudError } from '../../agent/core/errors.js'

// The narrow slice of the Kubernetes API that drain, undrain and dead-node handling use.
// Decisions are pure functions of these objects; this interface is the only door to the
// cluster (client-node behind it; a fake only in unit tests of the executors' logic).

export type { V1Node, V1Pod, V1PodDisruptionBudget }

/** What the Eviction API answered (never thrown: every status means something to drain). */
export type EvictionAnswer =
  | { kind: 'evicted' }
  | { kind: 'refused'; status: number; reason: string; message: string; causes: string[] }

export interface KubeApi {
  getNode(name: string): Promise<V1Node | undefined>
  listNodes(): Promise<V1Node[]>
  /** JSON merge patch (RFC 7386); include metadata.resourceVersion to make it conditional. */
  patchNode(name: string, patch: object): Promise<V1Node>
  /** False when it was already gone. */
  deleteNode(name: string): Promise<boolean>
  podsOnNode(node: string): Promise<V1Pod[]>
  getPod(namespace: string, name: string): Promise<V1Pod | undefined>
  listPdbs(): Promise<V1PodDisruptionBudget[]>
  /** POST pods/NAME/eviction (policy/v1). */
  evict(namespace: string, name: string): Promise<EvictionAnswer>
  /** A core/v1 Event about a Node (best effort: an event lost is not an error). */
  nodeEvent(node: string, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>
}

/** KUBE_API_FAILED with the HTTP status, when there was one (409 = conflict: re-read and retry). */
export class KubeApiError extends HomecloudError {
  constructor(
    message: string,
    readonly status: number | undefined,
    hint?: string,
    cause?: unknown,
  ) {
    super('KUBE_API_FAILED', message, hint, { cause })
  }
}

export const conflictRetriesMax = 5

/**
 * Read, build a patch conditional on what was read (resourceVersion), write; on a
 * conflict (someone else wrote the Node in between) read again, a bounded number of times.
 */
export async function patchNodeFresh(
  kube: Pick<KubeApi, 'getNode' | 'patchNode'>,
  name: string,
  build: (n: V1Node) => object | undefined,
): Promise<V1Node | undefined> {
  for (let attempt = 1; ; attempt++) {
    const n = await kube.getNode(name)
    if (!n) return undefined
    const patch = build(n)
    if (!patch) return n
    try {
      return await kube.patchNode(name, patch)
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 409) || attempt >= conflictRetriesMax) throw err
    }
  }
}
