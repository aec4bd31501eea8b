// A kubeconfig is plain data; JSON is valid YAML, so kubectl, client-node and every
// component read it as written here. Certificates are embedded, so one file is enough
// to reach the cluster from anywhere (`homecloud kubeconfig > ~/.kube/config`).

export interface KubeconfigInit {
  /** https://host:port of an API server or of a local load balancer. */
  server: string
  caPem: string
  user: string
  certPem: string
  keyPem: string
  clusterName?: string
  /**
   * The name the API server's certificate is checked against. Set when `server` is a load
   * balancer: its address is in no API server certificate, `kubernetes.default.svc` is in all.
   */
  tlsServerName?: string
}

/** In every API server certificate (profile kube-apiserver): the name to check through a load balancer. */
export const apiserverTlsName = 'kubernetes.default.svc'

const b64 = (pem: string) => Buffer.from(pem).toString('base64')

export function renderKubeconfig(init: KubeconfigInit): string {
  const cluster = init.clusterName ?? 'homecloud'
  const context = `${init.user}@${cluster}`
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster,
        cluster: {
          server: init.server,
          'certificate-authority-data': b64(init.caPem),
          ...(init.tlsServerName ? { 'tls-server-name': init.tlsServerName } : {}),
        },
      },
    ],
    users: [
      {
        name: init.user,
        user: { 'client-certificate-data': b64(init.certPem), 'client-key-data': b64(init.keyPem) },
      },
    ],
    contexts: [{ name: context, context: { cluster, user: init.user } }],
    'current-context': context,
  }
  return `${JSON.stringify(doc, null, 2)}\n`
}
