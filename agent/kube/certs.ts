import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Clock } from '../core/clock.js'
import type { CaMaterial } from '../pki/ca.js'
import { generateRsaKeyPemAsync } from '../pki/keys.js'
import type { ProfileName } from '../pki/profiles.js'
import { issueCertificate } from '../pki/sign.js'
import { writeCertAndKey, writeCertFile, writeFileAtomic, writeKeyFile } from '../pki/store.js'
import { renderKubeconfig } from './kubeconfig.js'
import type { KubePaths } from './paths.js'
import { deriveServiceAccountKey } from './sa-key.js'

// What a control-plane board writes before it starts kube-apiserver, the controller
// manager and the scheduler. Only voters run this: they hold the CA key and sign for
// themselves, so a new voter needs nothing from anyone. Keys are made off the event loop.

export interface ControlPlaneIdentity {
  ca: CaMaterial
  nodeId: string
  nodeName: string
  /** The node's addresses: the API server's certificate names them. */
  ips: readonly string[]
  /** Where the controller manager and scheduler reach an API server (their own, usually). */
  apiserverUrl: string
  clock: Pick<Clock, 'nowMs'>
}

export interface IssuedPair {
  certPem: string
  keyPem: string
}

export async function issueForProfile(
  profile: ProfileName,
  init: Pick<ControlPlaneIdentity, 'ca' | 'nodeId' | 'nodeName' | 'ips' | 'clock'> & { localhost?: boolean },
): Promise<IssuedPair> {
  const keyPem = await generateRsaKeyPemAsync()
  const issued = issueCertificate({
    ca: init.ca,
    profile,
    identity: { nodeId: init.nodeId, nodeName: init.nodeName, ips: init.ips, localhost: init.localhost },
    keyPem,
    clock: init.clock,
  })
  return { certPem: issued.certPem, keyPem }
}

/**
 * Writes every file the three control-plane components read (the etcd client
 * certificate is the node's own, written when it became an etcd member).
 */
export async function writeControlPlaneFiles(paths: KubePaths, id: ControlPlaneIdentity): Promise<void> {
  const [apiserver, kubeletClient, cm, scheduler, admin] = await Promise.all([
    issueForProfile('kube-apiserver', { ...id, localhost: true }),
    issueForProfile('kubelet-client', id),
    issueForProfile('controller-manager', id),
    issueForProfile('scheduler', id),
    issueForProfile('admin', id),
  ])
  await writeCertFile(paths.caCert, id.ca.certPem)
  await writeCertAndKey(paths.apiserver, apiserver)
  await writeCertAndKey(paths.apiserverKubeletClient, kubeletClient)
  const sa = deriveServiceAccountKey(id.ca.keyPem)
  await mkdir(dirname(paths.serviceAccountKey), { recursive: true, mode: 0o700 })
  await writeKeyFile(paths.serviceAccountKey, sa.privateKeyPem)
  await writeCertFile(paths.serviceAccountPub, sa.publicKeyPem)
  await mkdir(paths.dir, { recursive: true, mode: 0o700 })
  const kubeconfig = (user: string, pair: IssuedPair) =>
    renderKubeconfig({ server: id.apiserverUrl, caPem: id.ca.certPem, user, ...pair })
  await writeFileAtomic(
    paths.controllerManagerKubeconfig,
    kubeconfig('system:kube-controller-manager', cm),
    0o600,
  )
  await writeFileAtomic(paths.schedulerKubeconfig, kubeconfig('system:kube-scheduler', scheduler), 0o600)
  await writeFileAtomic(paths.adminKubeconfig, kubeconfig('homecloud-admin', admin), 0o600)
}

/**
 * The node's identity towards Kubernetes: `system:node:<name>` (kubelet, and the agent
 * registering its Node) or, in labs, kwok's own.
 */
export async function writeNodeKubeconfig(
  paths: KubePaths,
  init: {
    caPem: string
    nodeName: string
    server: string
    pair: IssuedPair
    who?: 'node' | 'kwok'
    tlsServerName?: string
  },
): Promise<void> {
  await mkdir(paths.dir, { recursive: true, mode: 0o700 })
  const kwok = init.who === 'kwok'
  const body = renderKubeconfig({
    server: init.server,
    caPem: init.caPem,
    user: kwok ? `homecloud-kwok:${init.nodeName}` : `system:node:${init.nodeName}`,
    ...init.pair,
    ...(init.tlsServerName ? { tlsServerName: init.tlsServerName } : {}),
  })
  await writeFileAtomic(kwok ? paths.kwokKubeconfig : paths.nodeKubeconfig, body, 0o600)
}
