import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { HomecloudError } from '../core/errors.js'
import { writeFileAtomic } from '../core/files.js'
import type { ProfileName } from './profiles.js'
import { type RevocationList, RevocationList as RevocationListSchema } from './revocations.js'

// Where PKI material lives in the state directory, and the only code that writes it.
// Keys are created 0600 (never chmod-ed down afterwards, so no moment exists where they
// are readable by others); every write is tmp + fsync + rename, so a power cut leaves
// either the old file or the new one.

export const keyFileMode = 0o600
export const certFileMode = 0o644
export const pkiDirMode = 0o700
export const pkiFileBytesMax = 1_048_576

export interface CertKeyPaths {
  cert: string
  key: string
}

export interface PkiPaths {
  dir: string
  caCert: string
  /** Present only on nodes that may sign (the founder and control-plane members). */
  caKey: string
  nodeCert: string
  nodeKey: string
  adminCert: string
  adminKey: string
  adminGatewayCert: string
  adminGatewayKey: string
  revocations: string
  /** Lists that lost to revocations.json but hold entries it lacks (trust/revocations.ts). */
  revocationsRaced: string
  profile(name: ProfileName): CertKeyPaths
}

/** File stem per profile, relative to `<state>/pki`. */
export const PROFILE_FILES: Readonly<Record<ProfileName, string>> = {
  agent: 'node',
  admin: 'admin',
  'etcd-peer': 'etcd/peer',
  'etcd-server': 'etcd/server',
  'etcd-client': 'etcd/client',
  'kube-apiserver': 'kube/apiserver',
  'kubelet-client': 'kube/apiserver-kubelet-client',
  'controller-manager': 'kube/controller-manager',
  scheduler: 'kube/scheduler',
  'kubelet-serving': 'kubelet/serving',
  kubelet: 'kubelet/client',
  kwok: 'kubelet/kwok',
}

export function pkiPaths(stateDir: string): PkiPaths {
  const dir = join(stateDir, 'pki')
  const profile = (name: ProfileName): CertKeyPaths => ({
    cert: join(dir, `${PROFILE_FILES[name]}.crt`),
    key: join(dir, `${PROFILE_FILES[name]}.key`),
  })
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    nodeCert: profile('agent').cert,
    nodeKey: profile('agent').key,
    adminCert: profile('admin').cert,
    adminKey: profile('admin').key,
    /** The admin's name-less certificate for etcd's JSON gateway (gateway-cert.ts). */
    adminGatewayCert: join(dir, 'admin/etcd-gateway.crt'),
    adminGatewayKey: join(dir, 'admin/etcd-gateway.key'),
    revocations: join(dir, 'revocations.json'),
    revocationsRaced: join(dir, 'revocations-raced.json'),
    profile,
  }
}

function stateError(message: string, cause: unknown): HomecloudError {
  return new HomecloudError('STATE_DIR', message, 'check the state directory exists and is writable', {
    cause,
  })
}

/** One atomic writer for the whole agent (agent/core/files.ts). */
export { writeFileAtomic }

export const writeKeyFile = (path: string, keyPem: string) => writeFileAtomic(path, keyPem, keyFileMode)
export const writeCertFile = (path: string, certPem: string) => writeFileAtomic(path, certPem, certFileMode)

/** Key first: a certificate on disk always has its key beside it. */
export async function writeCertAndKey(
  files: CertKeyPaths,
  pair: { certPem: string; keyPem: string },
): Promise<void> {
  await writeKeyFile(files.key, pair.keyPem)
  await writeCertFile(files.cert, pair.certPem)
}

async function readWithMode(path: string): Promise<{ text: string; mode: number } | undefined> {
  try {
    const info = await stat(path)
    if (info.size > pkiFileBytesMax) throw new Error(`larger than ${pkiFileBytesMax} bytes`)
    return { text: await readFile(path, 'utf8'), mode: info.mode & 0o777 }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw stateError(`cannot read ${path}: ${(err as Error).message}`, err)
  }
}

/** A file's text, or undefined when it does not exist. */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  return (await readWithMode(path))?.text
}

export const readCertFile = readTextIfExists

/** Like ssh, refuses a key that others can read: it may already be in someone else's hands. */
export async function readKeyFile(path: string): Promise<string | undefined> {
  const file = await readWithMode(path)
  if (file === undefined) return undefined
  if ((file.mode & 0o077) !== 0) {
    throw new HomecloudError(
      'PKI_KEY_EXPOSED',
      `${path} has mode ${file.mode.toString(8)}`,
      `chmod 600 ${path}, and consider the key compromised if others could log in`,
    )
  }
  return file.text
}

export async function readCertAndKey(
  files: CertKeyPaths,
): Promise<{ certPem: string; keyPem: string } | undefined> {
  const certPem = await readCertFile(files.cert)
  const keyPem = await readKeyFile(files.key)
  return certPem !== undefined && keyPem !== undefined ? { certPem, keyPem } : undefined
}

/** The CA certificate, with its key only on nodes that hold it. */
export async function readCa(paths: PkiPaths): Promise<{ certPem: string; keyPem?: string } | undefined> {
  const certPem = await readCertFile(paths.caCert)
  if (certPem === undefined) return undefined
  const keyPem = await readKeyFile(paths.caKey)
  return keyPem === undefined ? { certPem } : { certPem, keyPem }
}

/** Schema-checked only; the caller verifies the signature against its CA. */
export async function readRevocationsFile(path: string): Promise<RevocationList | undefined> {
  const text = await readTextIfExists(path)
  if (text === undefined) return undefined
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new HomecloudError('PKI_REVOCATIONS_INVALID', `${path} is not JSON`, undefined, { cause: err })
  }
  const parsed = RevocationListSchema.safeParse(json)
  if (!parsed.success) throw new HomecloudError('PKI_REVOCATIONS_INVALID', `${path}: ${parsed.error.message}`)
  return parsed.data
}

export const writeRevocationsFile = (path: string, list: RevocationList) =>
  writeFileAtomic(path, `${JSON.stringify(list, null, 2)}\n`, certFileMode)
