import { readFile } from 'node:fs/promises'
import { HomecloudError } from '../core/errors.js'
import { hostPort } from '../etcd/spec.js'
import type { AdminConfig } from '../trust/admin-config.js'
import { apiserverTlsName, renderKubeconfig } from './kubeconfig.js'
import { kubePaths } from './paths.js'

// The admin kubeconfig a person uses. The admin client certificate made at `init`
// (admin.json; group system:masters) is also a Kubernetes admin, so a kubeconfig can be
// built anywhere admin.json is, pointing at a node's local load balancer — which reaches
// whichever boards run the API servers now.

export const lbPortDefault = 6444

/** admin.json names the files of the CA certificate and the admin certificate and key. */
export async function adminKubeconfigFrom(
  admin: AdminConfig,
  lb: { host: string; port?: number },
): Promise<string> {
  const read = async (path: string) => {
    try {
      return await readFile(path, 'utf8')
    } catch (err) {
      throw new HomecloudError('ADMIN_UNAUTHORIZED', `cannot read ${path}: ${(err as Error).message}`)
    }
  }
  return renderKubeconfig({
    server: `https://${hostPort(lb.host, lb.port ?? lbPortDefault)}`,
    caPem: await read(admin.caCert),
    user: 'homecloud-admin',
    certPem: await read(admin.cert),
    keyPem: await read(admin.key),
    tlsServerName: apiserverTlsName,
  })
}

/** The kubeconfig a control-plane board wrote for itself (through its own load balancer). */
export async function readNodeAdminKubeconfig(stateDir: string): Promise<string> {
  const path = kubePaths(stateDir).adminKubeconfig
  try {
    return await readFile(path, 'utf8')
  } catch {
    throw new HomecloudError(
      'KUBE_API',
      `${path} does not exist: this node is not (yet) a control-plane board`,
      'pass --admin admin.json (written by `homecloud init`; a lab has one in its directory) instead',
    )
  }
}
