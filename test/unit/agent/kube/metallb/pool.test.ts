import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AgentConfig } from '../../../../../agent/config/schema.js'
import { splitManifest } from '../../../../../agent/kube/addons/documents.js'
import { parseAddressRange, poolManifest } from '../../../../../agent/kube/metallb/pool.js'

describe('LoadBalancer address pool', () => {
  it('accepts ranges and CIDRs, refuses the rest', () => {
    assert.deepEqual(parseAddressRange('10.77.1.64-10.77.1.95'), { first: 0x0a4d0140, last: 0x0a4d015f })
    assert.deepEqual(parseAddressRange('10.77.1.64/27'), parseAddressRange('10.77.1.64-10.77.1.95'))
    for (const bad of [
      '10.77.1.95-10.77.1.64',
      '10.77.1.65/27',
      '10.0.0.0/8',
      'x-y',
      '10.77.1.300-10.77.1.301',
      '1-2-3',
    ])
      assert.equal(parseAddressRange(bad), null, bad)
  })

  it('the config refuses a bad range, naming the field', () => {
    const r = AgentConfig.safeParse({ kube: { loadBalancer: { addresses: ['10.77.1.9-10.77.1.1'] } } })
    assert.equal(r.success, false)
    assert.match(JSON.stringify(r.error!.issues[0]!.path), /loadBalancer.*addresses/)
    assert.deepEqual(AgentConfig.parse({}).kube.loadBalancer.addresses, [])
  })

  it('renders the pool and its layer-2 announcement as documents the applier reads', () => {
    const text = poolManifest(['10.77.1.64/27', '10.77.1.200-10.77.1.201'])
    const { docs } = splitManifest('pool.yaml', text)
    assert.deepEqual(
      docs.map((d) => (d.object as { kind: string }).kind),
      ['IPAddressPool', 'L2Advertisement'],
    )
    const pool = docs[0]!.object as unknown as {
      spec: { addresses: string[] }
      metadata: { namespace: string }
    }
    assert.deepEqual(pool.spec.addresses, ['10.77.1.64-10.77.1.95', '10.77.1.200-10.77.1.201'])
    assert.equal(pool.metadata.namespace, 'metallb-system')
    assert.equal(poolManifest([]), '')
    assert.throws(() => poolManifest(['nope']), /bad address range/)
  })
})
