import { createHash, createHmac } from 'node:crypto'
import type { Clock } from '../core/clock.js'
import type { CaMaterial } from '../pki/ca.js'
import { gatewayValidityMs, issueGatewayCertificate } from '../pki/gateway-cert.js'
import type { ClientTls, EtcdLogin } from './gateway.js'
import { etcdMessages } from './model/errors.js'

// Who may use etcd: etcd's own authentication, one user per etcd member named after its
// node id (the CN of its etcd certificates) and one for the admin certificate's CN, all
// with the root role; nobody else. Clients that speak gRPC (kube-apiserver, etcdctl) are
// known by their certificate's CN; the agent speaks to etcd's JSON gateway, which never
// passes a certificate's name on, so a member's agent logs in with a password only CA-key
// holders can work out (HMAC of the name under the CA key: nothing new to hand out or
// store, and every CA-key holder is an etcd member anyway). A worker's certificates name
// no user and it holds no CA key: etcd refuses it. etcd also refuses any gateway request
// whose certificate carries a common name once auth is on, so the gateway is spoken to
// with a certificate that names nobody (pki/gateway-cert.ts) plus the login.

export const ETCD_ROOT = 'root'
/** The admin profile's CN (pki/profiles.ts). */
export const ETCD_ADMIN_USER = 'homecloud-admin'

/** The password of etcd user `name`, from the cluster CA key (whitespace in the PEM ignored). */
export function etcdPassword(caKeyPem: string, name: string): string {
  const key = createHash('sha256').update(caKeyPem.replace(/\s+/g, '')).digest()
  return createHmac('sha256', key).update(`homecloud-etcd-user:${name}`).digest('base64url')
}

export function etcdLogin(caKeyPem: string, name: string): EtcdLogin {
  return { name, password: etcdPassword(caKeyPem, name) }
}

/**
 * A CA-key holder's way into etcd through the JSON gateway: a certificate without a
 * common name (etcd refuses gateway requests with one once auth is on) and its login.
 */
export function gatewayTls(
  ca: CaMaterial,
  name: string,
  clock: Pick<Clock, 'nowMs'>,
  keyPem: string,
): ClientTls {
  return {
    caPem: ca.certPem,
    ...issueGatewayCertificate(ca, clock, keyPem),
    login: etcdLogin(ca.keyPem, name),
    // Half its life: long-running agents make a new one well before it expires.
    renewAtMs: clock.nowMs() + gatewayValidityMs / 2,
  }
}

/** What etcd's auth store holds, as read. */
export interface AccessObserved {
  enabled: boolean
  /** user → its roles */
  users: ReadonlyMap<string, readonly string[]>
  rootRole: boolean
}

export interface AccessWanted {
  /** Node ids of every etcd member (voters and learners). */
  members: readonly string[]
  /** False while some member's node id is unknown: then no user is deleted. */
  complete: boolean
}

export type AccessAction =
  | { kind: 'add-root-role' }
  | { kind: 'add-user'; name: string; login: boolean }
  | { kind: 'grant-root'; name: string }
  | { kind: 'delete-user'; name: string }
  | { kind: 'enable' }

/**
 * The steps from what etcd holds to what it should (pure). Users first, then auth on:
 * enabling before the members' users exist would lock the agents out. A user of a node
 * that is no longer a member is deleted, which is what takes etcd from a board whose
 * seat moved (it may keep its certificates; they name no user any more).
 */
export function decideAccess(o: AccessObserved, w: AccessWanted): AccessAction[] {
  const out: AccessAction[] = []
  if (!o.rootRole) out.push({ kind: 'add-root-role' })
  const wanted = new Map<string, boolean>([
    [ETCD_ROOT, false],
    [ETCD_ADMIN_USER, true],
    ...w.members.map((m) => [m, true] as const),
  ])
  for (const [name, login] of wanted) {
    const roles = o.users.get(name)
    if (!roles) out.push({ kind: 'add-user', name, login })
    if (!roles?.includes(ETCD_ROOT)) out.push({ kind: 'grant-root', name })
  }
  if (w.complete)
    for (const name of o.users.keys()) if (!wanted.has(name)) out.push({ kind: 'delete-user', name })
  if (!o.enabled) out.push({ kind: 'enable' })
  return out
}

/** The slice of EtcdClient this needs. */
export interface AuthApi {
  authCall(op: string, body: unknown): Promise<Record<string, unknown>>
}

export async function observeAccess(etcd: AuthApi): Promise<AccessObserved> {
  const status = await etcd.authCall('status', {})
  const users = new Map<string, string[]>()
  const names = ((await etcd.authCall('user/list', {})).users as string[] | undefined) ?? []
  for (const name of names) {
    const u = await etcd.authCall('user/get', { name })
    users.set(name, (u.roles as string[] | undefined) ?? [])
  }
  const roles = ((await etcd.authCall('role/list', {})).roles as string[] | undefined) ?? []
  return { enabled: status.enabled === true, users, rootRole: roles.includes(ETCD_ROOT) }
}

/** Applies one step; "already exists" counts as done (another coordinator got there first). */
export async function applyAccess(etcd: AuthApi, a: AccessAction, caKeyPem: string): Promise<void> {
  try {
    if (a.kind === 'add-root-role') await etcd.authCall('role/add', { name: ETCD_ROOT })
    else if (a.kind === 'add-user')
      await etcd.authCall(
        'user/add',
        a.login
          ? { name: a.name, password: etcdPassword(caKeyPem, a.name) }
          : { name: a.name, options: { no_password: true } },
      )
    else if (a.kind === 'grant-root') await etcd.authCall('user/grant', { user: a.name, role: ETCD_ROOT })
    else if (a.kind === 'delete-user') await etcd.authCall('user/delete', { name: a.name })
    else await etcd.authCall('enable', {})
  } catch (err) {
    const said = (err as { failure?: { etcdMessage?: string } }).failure?.etcdMessage
    if (said === etcdMessages.userExists || said === etcdMessages.roleExists) return
    if (said === etcdMessages.userNotFound && a.kind === 'delete-user') return
    throw err
  }
}

/** Reads etcd's auth store and makes it what `w` says; returns the steps taken. */
export async function syncAccess(etcd: AuthApi, w: AccessWanted, caKeyPem: string): Promise<AccessAction[]> {
  const steps = decideAccess(await observeAccess(etcd), w)
  for (const a of steps) await applyAccess(etcd, a, caKeyPem)
  return steps
}
