import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROFILES, type ProfileName } from '../../agent/pki/profiles.js'
import { issueCertificate } from '../../agent/pki/sign.js'
import { pkiPaths, readCa } from '../../agent/pki/store.js'
import { realClock } from './etcd-lab.js'

// Certificates of the wrong kind for the refusal tests (etcd-access.test.ts): each
// Kubernetes profile issued for real by the lab's CA key (the founder's), written to
// files so etcdctl can use them too, and the agent API routes that act, to call with them.

export interface CertFiles {
  ca: string
  cert: string
  key: string
}

/** Every Kubernetes profile: none of them may use etcd or the agent API (7443). */
export const KUBE_PROFILES = [
  'kube-apiserver',
  'kubelet-client',
  'kubelet-serving',
  'kubelet',
  'controller-manager',
  'scheduler',
  'kwok',
] as const satisfies readonly ProfileName[]

/** Serving-only certificates: a TLS server checking client certificates refuses them in the handshake. */
export const servingOnly = (p: ProfileName): boolean => !PROFILES[p].clientAuth

export interface WrongCerts {
  files: Map<ProfileName, CertFiles>
  remove(): Promise<void>
}

/** Issues each Kubernetes profile with the CA key in the founder's state, for the node named. */
export async function issueKubeCerts(
  founderStateDir: string,
  node: { name: string; address: string },
): Promise<WrongCerts> {
  const paths = pkiPaths(founderStateDir)
  const ca = await readCa(paths)
  if (!ca?.keyPem) throw new Error(`no CA key in ${paths.dir}: the founder signs`)
  const dir = await mkdtemp(join(tmpdir(), 'hc-wrong-certs-'))
  const files = new Map<ProfileName, CertFiles>()
  for (const profile of KUBE_PROFILES) {
    const issued = issueCertificate({
      ca: { certPem: ca.certPem, keyPem: ca.keyPem },
      profile,
      identity: { nodeName: node.name, ips: [node.address] },
      clock: realClock,
    })
    const base = join(dir, profile)
    await mkdir(base, { recursive: true })
    const f = { ca: paths.caCert, cert: join(base, 'tls.crt'), key: join(base, 'tls.key') }
    await writeFile(f.cert, issued.certPem)
    await writeFile(f.key, issued.keyPem, { mode: 0o600 })
    files.set(profile, f)
  }
  return { files, remove: () => rm(dir, { recursive: true, force: true }) }
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT'
  path: string
  /** JSON; POST and PUT always send one (an empty JSON body is refused before any guard). */
  body?: object
}

/**
 * The 7443 routes that act, as the admin's: a member's agent certificate gets 403 on
 * each (the admin guard comes before the signer guard and before the body is read).
 */
export const ADMIN_ROUTES: readonly Route[] = [
  { method: 'POST', path: '/api/v1/approve', body: { node: 'nobody' } },
  { method: 'POST', path: '/api/v1/revoke', body: { node: 'nobody' } },
  { method: 'POST', path: '/api/v1/settings', body: { joinPolicy: 'approve' } },
  { method: 'GET', path: '/api/v1/recovery' },
  { method: 'POST', path: '/api/v1/recover', body: { node: 'x', name: 'snap-0000000000000-r1' } },
  { method: 'POST', path: '/api/v1/upgrade', body: {} },
  { method: 'POST', path: '/api/v1/upgrade/pause', body: {} },
  { method: 'POST', path: '/api/v1/upgrade/resume', body: {} },
  { method: 'POST', path: '/api/v1/upgrade/abort', body: {} },
  { method: 'POST', path: '/api/v1/releases', body: { manifest: '', sig: '' } },
  { method: 'PUT', path: '/api/v1/releases/r-x/pieces/0', body: {} },
  { method: 'POST', path: '/api/v1/releases/r-x/publish', body: {} },
  { method: 'POST', path: '/api/v1/releases/current', body: { id: 'r-x' } },
  { method: 'POST', path: '/api/v1/releases/keys', body: { key: 'x' } },
]

/** Routes open to a member's agent certificate (each with its own rule), and the reads. */
export const MEMBER_ROUTES: readonly Route[] = [
  { method: 'GET', path: '/api/v1/whoami' },
  { method: 'GET', path: '/api/v1/cluster' },
  { method: 'GET', path: '/api/v1/snapshots' },
  { method: 'POST', path: '/api/v1/drain', body: { node: 'nobody' } },
  { method: 'POST', path: '/api/v1/slots/order', body: {} },
  { method: 'GET', path: '/api/v1/releases/etcd?prefix=/homecloud/releases/' },
  { method: 'POST', path: '/api/v1/releases/holders', body: { value: 'x' } },
  {
    method: 'POST',
    path: '/api/v1/releases/announce',
    body: { key: `/homecloud/releases/manifest/${'0'.repeat(64)}`, value: 'x' },
  },
]

/** One request over mutual TLS with the given files; the status and body as they came. */
export async function mtlsCall(
  origin: string,
  route: Route,
  files: CertFiles,
): Promise<{ status: number; body: string }> {
  const [ca, cert, key] = await Promise.all([files.ca, files.cert, files.key].map((f) => readFile(f, 'utf8')))
  const payload = route.method === 'GET' ? undefined : JSON.stringify(route.body ?? {})
  return new Promise((resolve, reject) => {
    const req = request(
      `${origin}${route.path}`,
      {
        method: route.method,
        ca,
        cert,
        key,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          text += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      },
    )
    req.setTimeout(10_000, () => req.destroy(new Error(`${route.method} ${route.path}: no answer in 10 s`)))
    req.on('error', reject)
    req.end(payload)
  })
}
