import type { CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { type Clock, systemClock } from '../../agent/core/clock.js'
import { HomecloudError } from '../../agent/core/errors.js'
import {
  type EvictionAnswer,
  type KubeApi,
  KubeApiError,
  type V1Node,
  type V1Pod,
  type V1PodDisruptionBudget,
} from './types.js'

// KubeApi over @kubernetes/client-node, loaded lazily: the library is large and the
// agent must not pay for it at start. Every failure becomes KUBE_API_FAILED naming the
// call and the status, except the answers callers act on (404 = absent, evictions).

/** `clock` stamps the Events it writes. */
export async function kubeApiFromKubeconfig(
  file: string,
  clock: Pick<Clock, 'nowMs'> = systemClock(),
): Promise<KubeApi> {
  const k8s = await import('@kubernetes/client-node')
  const kc = loadKubeconfig(new k8s.KubeConfig(), file)
  const core = kc.makeApiClient(k8s.CoreV1Api)
  const policy = kc.makeApiClient(k8s.PolicyV1Api)
  const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)
  const server = kc.getCurrentCluster()?.server ?? file

  const { fail, orAbsent, call } = callsTo(server)

  return {
    getNode: (name) => orAbsent(`get node ${name}`, () => core.readNode({ name })),
    listNodes: async () => (await call('list nodes', () => core.listNode())).items,
    patchNode: (name, body) => call(`patch node ${name}`, () => core.patchNode({ name, body }, mergePatch)),
    async deleteNode(name) {
      return (await orAbsent(`delete node ${name}`, () => core.deleteNode({ name }))) !== undefined
    },
    podsOnNode: async (node): Promise<V1Pod[]> =>
      (
        await call(`list pods on ${node}`, () =>
          core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }),
        )
      ).items,
    getPod: (namespace, name) =>
      orAbsent(`get pod ${namespace}/${name}`, () => core.readNamespacedPod({ namespace, name })),
    listPdbs: async (): Promise<V1PodDisruptionBudget[]> =>
      (await call('list PodDisruptionBudgets', () => policy.listPodDisruptionBudgetForAllNamespaces())).items,
    evict: (namespace, name) => evictPod(core, fail, namespace, name),
    async nodeEvent(node, type, reason, message) {
      const now = new Date(clock.nowMs())
      await core
        .createNamespacedEvent({
          namespace: 'default',
          body: {
            metadata: { generateName: `${node}.homecloud.` },
            involvedObject: { kind: 'Node', name: node, uid: node, apiVersion: 'v1' },
            reason,
            message,
            type,
            source: { component: 'homecloud' },
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
        })
        .catch(() => {})
    },
  } satisfies KubeApi
}

function loadKubeconfig(kc: KubeConfig, file: string): KubeConfig {
  try {
    kc.loadFromFile(file)
  } catch (err) {
    throw new HomecloudError(
      'KUBE_API_FAILED',
      `cannot read the kubeconfig ${file}: ${(err as Error).message}`,
      'pass --kubeconfig FILE: an admin kubeconfig (a control-plane node keeps one as STATE/kube/admin.kubeconfig)',
    )
  }
  return kc
}

type Fail = (what: string, err: unknown) => never

/** Calls that turn every failure into KUBE_API_FAILED (`orAbsent`: a 404 is an answer). */
function callsTo(server: string) {
  const fail: Fail = (what, err) => {
    const status = statusOf(err)
    const detail = bodyOf(err).message ?? (err as Error).message
    throw new KubeApiError(
      `${what}: ${status ? `HTTP ${status}: ` : ''}${detail}`,
      status,
      status ? undefined : `check that the API server at ${server} is reachable`,
      err,
    )
  }
  const orAbsent = async <T>(what: string, f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f()
    } catch (err) {
      if (statusOf(err) === 404) return undefined
      return fail(what, err)
    }
  }
  const call = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f()
    } catch (err) {
      return fail(what, err)
    }
  }
  return { fail, orAbsent, call }
}

/** An eviction: done, or refused with the API's reason (a PodDisruptionBudget, mostly). */
async function evictPod(
  core: CoreV1Api,
  fail: Fail,
  namespace: string,
  name: string,
): Promise<EvictionAnswer> {
  try {
    await core.createNamespacedPodEviction({
      name,
      namespace,
      body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
    })
    return { kind: 'evicted' }
  } catch (err) {
    const status = statusOf(err)
    if (!status) return fail(`evict ${namespace}/${name}`, err)
    const b = bodyOf(err)
    return {
      kind: 'refused',
      status,
      reason: b.reason ?? '',
      message: b.message ?? (err as Error).message,
      causes: (b.details?.causes ?? []).map((c) => `${c.reason ?? ''}: ${c.message ?? ''}`),
    }
  }
}

interface StatusBody {
  message?: string
  reason?: string
  details?: { causes?: { reason?: string; message?: string }[] }
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code
  return typeof code === 'number' ? code : undefined
}

/** client-node 1.x keeps the response body as text; older paths parsed it. */
function bodyOf(err: unknown): StatusBody {
  const body = (err as { body?: unknown }).body
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody
    } catch {
      return { message: body.slice(0, 300) }
    }
  }
  return (body && typeof body === 'object' ? body : {}) as StatusBody
}

export type { V1Node }
