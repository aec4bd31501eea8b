// The node's pod network (pure): a Linux bridge with the node's own pod range, handed
// out by host-local, from the CNI reference plugins (Debian: containernetworking-plugins).
// Pods on one node reach each other and the node; other nodes' ranges are routed by the
// cluster's CNI add-on (flannel host-gw routes each Node's spec.podCIDR via its address),
// which is why the range here is exactly the Node's spec.podCIDR.

export const cniNetworkName = 'homecloud'
export const cniBridgeName = 'hc0'

export function cniConflist(podCidr: string): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: cniNetworkName,
      plugins: [
        {
          type: 'bridge',
          bridge: cniBridgeName,
          isGateway: true,
          // No masquerade: pod addresses stay visible between nodes (host-gw routing).
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
