import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { manualClock } from '../../../../agent/core/clock.js'
import { type CaMaterial, createCa } from '../../../../agent/pki/ca.js'
import type { CertSubject, ProfileName } from '../../../../agent/pki/profiles.js'

// Shared material for the PKI tests. One real 3072-bit CA per test file (≈0.5 s);
// leaves are RSA 2048 as in production.

export const startMs = 1_700_000_000_000

export function testClock() {
  return manualClock(startMs)
}

let cached: CaMaterial | undefined
export function testCa(): CaMaterial {
  cached ??= createCa({ clusterId: 'c-test', clusterName: 'test', clock: testClock() })
  return cached
}

export const node = { nodeId: 'n1a2b3c4', nodeName: 'pi5-1', ips: ['10.77.0.2'] } as const

/** An identity for every profile, as the control plane would pass it. */
export const IDENTITIES: Record<ProfileName, CertSubject> = {
  agent: { ...node, ips: [...node.ips] },
  'etcd-peer': { ...node, ips: [...node.ips] },
  'etcd-server': { ...node, ips: [...node.ips], localhost: true },
  'etcd-client': { nodeId: node.nodeId },
  'kube-apiserver': { nodeName: node.nodeName, ips: [...node.ips] },
  'kubelet-client': {},
  'kubelet-serving': { nodeName: node.nodeName, ips: [...node.ips] },
  kubelet: { nodeName: node.nodeName },
  'controller-manager': {},
  scheduler: {},
  admin: {},
  kwok: { nodeName: node.nodeName },
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'homecloud-pki-'))
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export async function openssl(args: string[], dir: string) {
  return execa('openssl', args, { cwd: dir, reject: false, all: true })
}

export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
}

export function pemToDer(pem: string): Buffer {
  const body = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '')
  return Buffer.from(body, 'base64')
}

export function derToPem(der: Buffer, label = 'CERTIFICATE'): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

/** Replaces the first occurrence of `from` by `to` (same length) inside a PEM's DER. */
export function patchPem(pem: string, from: string, to: string, label = 'CERTIFICATE'): string {
  if (from.length !== to.length) throw new Error('patch must keep the length')
  const der = pemToDer(pem)
  const at = der.indexOf(Buffer.from(from, 'latin1'))
  if (at < 0) throw new Error(`${from} not found`)
  Buffer.from(to, 'latin1').copy(der, at)
  return derToPem(der, label)
}
