import { generateKeyPairSync } from 'node:crypto'
import { type Identity, identityFromPem } from '../../agent/identity/identity.js'
import { type NodeRecordBody, type SignedRecord, signRecord } from '../../agent/mesh/record.js'

export function newIdentity(): Identity {
  const { privateKey } = generateKeyPairSync('ed25519')
  return identityFromPem(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString())
}

export const CLUSTER = '0123456789abcdef'

/** A valid record body for `identity`, with overrides. */
export function recordBody(identity: Identity, over: Partial<NodeRecordBody> = {}): NodeRecordBody {
  return {
    v: 1,
    cluster: CLUSTER,
    id: identity.id,
    publicKey: identity.publicKey.toString('hex'),
    name: `node-${identity.id.slice(0, 4)}`,
    addresses: ['127.0.1.9'],
    ports: { api: 7080, tls: 7443, dht: 49737 },
    facts: {
      arch: 'arm64',
      board: 'Raspberry Pi 5',
      cpuModel: 'Cortex-A76',
      cores: 4,
      memoryMB: 8192,
      storageClass: 'nvme',
      fsyncP99Ms: 2,
      macs: ['02:00:00:00:00:01'],
    },
    version: '0.1.0',
    roles: ['worker'],
    incarnation: 1,
    heartbeat: 1,
    startedAtMs: 1,
    ...over,
  }
}

export function signed(identity: Identity, over: Partial<NodeRecordBody> = {}): SignedRecord {
  return signRecord(recordBody(identity, over), identity)
}
