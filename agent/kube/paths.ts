import { join } from 'node:path'
import { type CertKeyPaths, pkiPaths } from '../pki/store.js'

// Where the Kubernetes parts of a node live under its state directory. Certificates stay
// in `<state>/pki` (one place for every key, 0600); kubeconfigs and component data here.

export interface KubePaths {
  dir: string
  caCert: string
  caKey: string
  serviceAccountKey: string
  serviceAccountPub: string
  apiserver: CertKeyPaths
  apiserverKubeletClient: CertKeyPaths
  etcdClient: CertKeyPaths
  controllerManagerKubeconfig: string
  schedulerKubeconfig: string
  adminKubeconfig: string
  /** The node's own identity towards the API server (kubelet, or kwok in a lab). */
  nodeKubeconfig: string
  /** kwok's own identity (labs only; see manifests/kwok-rbac/rbac.yaml). */
  kwokKubeconfig: string
  logDir: string
}

export function kubePaths(stateDir: string): KubePaths {
  const pki = pkiPaths(stateDir)
  const dir = join(stateDir, 'kube')
  return {
    dir,
    caCert: pki.caCert,
    caKey: pki.caKey,
    serviceAccountKey: join(pki.dir, 'kube', 'service-account.key'),
    serviceAccountPub: join(pki.dir, 'kube', 'service-account.pub'),
    apiserver: pki.profile('kube-apiserver'),
    apiserverKubeletClient: pki.profile('kubelet-client'),
    etcdClient: pki.profile('etcd-client'),
    controllerManagerKubeconfig: join(dir, 'controller-manager.kubeconfig'),
    schedulerKubeconfig: join(dir, 'scheduler.kubeconfig'),
    adminKubeconfig: join(dir, 'admin.kubeconfig'),
    nodeKubeconfig: join(dir, 'node.kubeconfig'),
    kwokKubeconfig: join(dir, 'kwok.kubeconfig'),
    logDir: join(dir, 'logs'),
  }
}
