import { z } from 'zod'
import type { KubeHttpClient } from '../api-client.js'
import type { ObservedNode } from './plan.js'

// The Nodes as the pod network needs them, read with this node's own identity (a node may
// list Nodes) and parsed at the edge.

const NodeList = z.object({
  items: z.array(
    z.object({
      metadata: z.object({ name: z.string(), annotations: z.record(z.string(), z.string()).optional() }),
      spec: z.object({ podCIDR: z.string().optional() }).optional(),
      status: z
        .object({ addresses: z.array(z.object({ type: z.string(), address: z.string() })).optional() })
        .optional(),
    }),
  ),
})

export function observedNodes(body: unknown): ObservedNode[] {
  return NodeList.parse(body).items.map((n) => {
    const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address
    return {
      name: n.metadata.name,
      annotations: n.metadata.annotations ?? {},
      ...(ip ? { internalIp: ip } : {}),
      ...(n.spec?.podCIDR ? { podCidr: n.spec.podCIDR } : {}),
    }
  })
}

export async function listObservedNodes(api: KubeHttpClient): Promise<ObservedNode[]> {
  return observedNodes((await api.ok('GET', '/api/v1/nodes')).body)
}
