// The node's pod network (pure): a Linux bridge with the node's own pod range, handed
// out by host-local, from the CNI reference plugins (Debian: containernetworking-plugins).
// Pods on one node reach each other and the node; other nodes' ranges are routed by the
// agent's pod network (agent/kube/podnet: each Node's spec.podCIDR through the WireGuard
// tunnel), which is why the range here is exactly the Node's spec.podCIDR. With the
// tunnel, pods get its MTU, so their packets fit it once encrypted.

export const cniNetworkName = 'homecloud'
export const cniBridgeName = 'hc0'

export function cniConflist(podCidr: string, mtu?: number): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: cniNetworkName,
      plugins: [
        {
          type: 'bridge',
          bridge: cniBridgeName,
          isGateway: true,
          ...(mtu ? { mtu } : {}),
          // No masquerade here: pod addresses stay visible between nodes; the pod network
          // masquerades only what leaves it (podnet/host-plan.ts).
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: podCidr }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
      ],
    },
    null,
    2,
  )}\n`
}
