import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import type { Clock } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import { hashPassword } from '../core/password.js'
import { ETCD_ADMIN_USER, etcdPassword } from '../etcd/etcd-auth.js'
import { loadOrCreateIdentity } from '../identity/identity.js'
import { newClusterId } from '../mesh/cluster-id.js'
import { createCa } from '../pki/ca.js'
import { issueGatewayCertificate } from '../pki/gateway-cert.js'
import { generateRsaKeyPem } from '../pki/keys.js'
import { issueCertificate } from '../pki/sign.js'
import { pkiPaths, writeCertAndKey, writeCertFile, writeKeyFile } from '../pki/store.js'
import { type JoinPolicy, writeClusterFile } from '../state/cluster-file.js'
import { statePaths } from '../state/paths.js'
import { writeAdminConfig } from './admin-config.js'
import { writeJoinMaterial } from './join-material.js'

export interface FoundInit {
  stateDir: string
  clusterName: string
  nodeName: string
  /** The founder's address: its certificate names it, the admin config points at it. */
  host: string
  joinPolicy: JoinPolicy
  certValidityMs?: number
  /** The status-page password; stored only as a hash, in the cluster settings. */
  uiPassword: string
  force?: boolean
  clock: Clock
  dhtPort?: number
  tlsPort?: number
}

export interface Founded {
  clusterId: string
  nodeId: string
  joinFile: string
  adminConfig: string
}

/**
 * `homecloud init`: a cluster id, a CA, a join secret, the founder's own node
 * certificate, and an admin client certificate with a ready client config.
 */
export async function foundCluster(init: FoundInit): Promise<Founded> {
  const paths = statePaths(init.stateDir)
  const pki = pkiPaths(init.stateDir)
  if (existsSync(paths.clusterFile) || existsSync(pki.caCert)) {
    if (!init.force) {
      throw new HomecloudError(
        'CLUSTER_EXISTS',
        `${init.stateDir} already holds a cluster`,
        'nothing was changed; use --force to found a new one here (this node leaves the old cluster)',
      )
    }
    await rm(pki.dir, { recursive: true, force: true })
    for (const f of [
      paths.clusterFile,
      paths.joinFile,
      paths.approvals,
      paths.signedSettings,
      paths.adminConfig,
      paths.meshState,
    ]) {
      await rm(f, { force: true })
    }
  }
  const { identity } = await loadOrCreateIdentity(paths.identityKey)
  const clusterId = newClusterId()
  const certValidityMs = init.certValidityMs ?? 365 * 86_400_000
  const ca = createCa({ clusterId, clusterName: init.clusterName, clock: init.clock })
  await writeCertFile(pki.caCert, ca.certPem)
  await writeKeyFile(pki.caKey, ca.keyPem)
  const node = issueCertificate({
    profile: 'agent',
    identity: { nodeId: identity.id, nodeName: init.nodeName, ips: [init.host] },
    ca,
    clock: init.clock,
    validityMs: certValidityMs,
  })
  await writeCertAndKey(pki.profile('agent'), node)
  const admin = issueCertificate({
    profile: 'admin',
    identity: {},
    ca,
    clock: init.clock,
    validityMs: certValidityMs,
  })
  await writeCertAndKey(pki.profile('admin'), admin)
  const gateway = issueGatewayCertificate(ca, init.clock, generateRsaKeyPem(), certValidityMs)
  await writeCertAndKey({ cert: pki.adminGatewayCert, key: pki.adminGatewayKey }, gateway)
  await writeJoinMaterial(paths.joinFile, {
    v: 1,
    clusterId,
    clusterName: init.clusterName,
    secret: randomBytes(32).toString('hex'),
    bootstrap: [`${identity.publicKey.toString('hex')}@${init.host}:${init.dhtPort ?? 49737}`],
  })
  await writeAdminConfig(paths.adminConfig, {
    v: 1,
    clusterId,
    urls: [`https://${init.host}:${init.tlsPort ?? 7443}`],
    caCert: pki.caCert,
    cert: pki.adminCert,
    key: pki.adminKey,
    etcd: {
      cert: pki.adminGatewayCert,
      key: pki.adminGatewayKey,
      password: etcdPassword(ca.keyPem, ETCD_ADMIN_USER),
    },
  })
  // Written last: its presence is what marks the state directory as holding a cluster.
  await writeClusterFile(paths.clusterFile, {
    v: 1,
    id: clusterId,
    name: init.clusterName,
    joinPolicy: init.joinPolicy,
    certValidityMs,
    uiPasswordHash: await hashPassword(init.uiPassword),
  })
  return { clusterId, nodeId: identity.id, joinFile: paths.joinFile, adminConfig: paths.adminConfig }
}
