import { z } from 'zod'

// Which Services answer on the LAN, and which node answers for each (pure): Services of
// type LoadBalancer with the addresses MetalLB gave them (status.loadBalancer.ingress),
// joined with MetalLB's ServiceL2Status objects, which name the node whose speaker
// answers ARP for the Service. Parsed with zod: these come from the API server.

const ServiceList = z.object({
  items: z.array(
    z.object({
      metadata: z.object({ name: z.string(), namespace: z.string() }),
      spec: z.object({
        type: z.string().optional(),
        ports: z.array(z.object({ port: z.number(), protocol: z.string().optional() })).optional(),
      }),
      status: z
        .object({
          loadBalancer: z
            .object({ ingress: z.array(z.object({ ip: z.string().optional() })).optional() })
            .optional(),
        })
        .optional(),
    }),
  ),
})

const L2StatusList = z.object({
  items: z.array(
    z.object({
      status: z
        .object({
          node: z.string().optional(),
          serviceName: z.string().optional(),
          serviceNamespace: z.string().optional(),
        })
        .optional(),
    }),
  ),
})

export interface LanService {
  namespace: string
  name: string
  /** LAN addresses; empty while the Service waits for one (no pool, or the pool is full). */
  addresses: string[]
  ports: string[]
  /** The node answering ARP for it; null when no node announces it (yet). */
  node: string | null
}

/** Bounded: the status page shows at most this many. */
export const lanServicesMax = 200

export function lanServices(servicesJson: unknown, l2StatusesJson: unknown): LanService[] {
  const services = ServiceList.parse(servicesJson).items.filter((s) => s.spec.type === 'LoadBalancer')
  const l2 = L2StatusList.safeParse(l2StatusesJson)
  const nodeOf = new Map<string, string>()
  for (const item of l2.success ? l2.data.items : []) {
    const st = item.status
    if (st?.node && st.serviceName && st.serviceNamespace)
      nodeOf.set(`${st.serviceNamespace}/${st.serviceName}`, st.node)
  }
  return services
    .map((s) => ({
      namespace: s.metadata.namespace,
      name: s.metadata.name,
      addresses: (s.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : [])),
      ports: (s.spec.ports ?? []).map((p) => `${p.port}/${(p.protocol ?? 'TCP').toLowerCase()}`),
      node: nodeOf.get(`${s.metadata.namespace}/${s.metadata.name}`) ?? null,
    }))
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`, 'en'))
    .slice(0, lanServicesMax)
}
