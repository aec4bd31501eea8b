import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { lanServices } from '../../../../../agent/kube/metallb/lan-services.js'

const svc = (name: string, type: string, ip?: string) => ({
  metadata: { name, namespace: 'default' },
  spec: { type, ports: [{ port: 80, protocol: 'TCP' }] },
  status: { loadBalancer: ip ? { ingress: [{ ip }] } : {} },
})

describe('LAN services table', () => {
  it('lists LoadBalancer Services with their addresses and the answering node', () => {
    const rows = lanServices(
      {
        items: [
          svc('web', 'LoadBalancer', '10.77.1.64'),
          svc('db', 'ClusterIP'),
          svc('waiting', 'LoadBalancer'),
        ],
      },
      {
        items: [
          { status: { node: 'x86-4', serviceName: 'web', serviceNamespace: 'default' } },
          { status: {} },
        ],
      },
    )
    assert.deepEqual(rows, [
      { namespace: 'default', name: 'waiting', addresses: [], ports: ['80/tcp'], node: null },
      { namespace: 'default', name: 'web', addresses: ['10.77.1.64'], ports: ['80/tcp'], node: 'x86-4' },
    ])
  })

  it('a malformed L2 status list names no node; a malformed service list is refused', () => {
    const rows = lanServices({ items: [svc('web', 'LoadBalancer', '10.77.1.64')] }, { items: 'nope' })
    assert.equal(rows[0]!.node, null)
    assert.throws(() => lanServices({ items: [{ metadata: {} }] }, { items: [] }))
  })
})
