import type { KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { signHolders } from '../../control/releases/holders.js'
import {
  CURRENT_KEY,
  HOLDERS_PREFIX,
  KEYS_KEY,
  MANIFEST_PREFIX,
  type PublishedRelease,
  setCurrent,
  signCaRecord,
  withKey,
} from '../../control/releases/records.js'
import { systemClock } from '../core/clock.js'
import { writeFileAtomic } from '../core/files.js'
import type { Logger } from '../core/log.js'
import { pkiPaths } from '../pki/store.js'
import type { Release } from './manifest.js'
import type { HolderEntry, ReleaseRecords } from './records-client.js'
import type { RecordsEtcd } from './records-relay.js'

// What a node writes into etcd for releases. The CA-signed records (trusted keys,
// current release) are written only by a node holding the CA key, after the admin
// asked over mutual TLS (routes) — or, for the first key set, from the file `init`
// signed (`<state>/releases/initial-keys.json`).

export const INITIAL_KEYS_FILE = join('releases', 'initial-keys.json')

/** `init --release-key`: the first key set, CA-signed now, put into etcd by the agent (seedKeysRecord). */
export async function writeInitialReleaseKeys(
  stateDir: string,
  clusterId: string,
  keys: string[],
): Promise<void> {
  const caKeyPem = await readFile(pkiPaths(stateDir).caKey, 'utf8')
  const nowMs = systemClock().nowMs()
  const body = withKey(null, clusterId, keys[0]!, nowMs)
  for (const k of keys.slice(1)) body.keys = withKey(body, clusterId, k, nowMs).keys
  await writeFileAtomic(
    join(stateDir, INITIAL_KEYS_FILE),
    signCaRecord('release-keys', body, caKeyPem),
    0o644,
  )
}

/** The founder's first key set (CA-signed at init) goes into etcd once, if etcd has none. */
export async function seedKeysRecord(
  etcd: RecordsEtcd,
  stateDir: string,
  records: ReleaseRecords,
  log: Logger,
): Promise<void> {
  if (records.keys) return
  const text = await readFile(join(stateDir, INITIAL_KEYS_FILE), 'utf8').catch(() => null)
  if (!text) return
  if (await etcd.createIfAbsent(KEYS_KEY, text.trim()))
    log.info('trusted release keys from init written to etcd')
}

/** Adds a trusted release key (signer only): the next version of the CA-signed key set. */
export async function addTrustedKey(
  etcd: RecordsEtcd,
  records: ReleaseRecords,
  o: { clusterId: string; caKeyPem: string; key: string; nowMs: number; note?: string },
): Promise<number> {
  await records.refresh(etcd)
  const next = withKey(records.keys, o.clusterId, o.key, o.nowMs, o.note)
  // Never below a version this node has seen, even if etcd now holds an older one.
  next.version = Math.max(next.version, records.seenVersions.keys + 1)
  await etcd.put(KEYS_KEY, signCaRecord('release-keys', next, o.caKeyPem))
  await records.refresh(etcd)
  return next.version
}

/** Moves an architecture's current release (signer only). Null: it already was current. */
export async function setCurrentRelease(
  etcd: RecordsEtcd,
  records: ReleaseRecords,
  o: { clusterId: string; caKeyPem: string; release: Release; by: string; nowMs: number },
): Promise<number | null> {
  await records.refresh(etcd)
  const m = o.release.manifest
  const next = setCurrent(
    records.current,
    o.clusterId,
    m.arch,
    { id: o.release.id, version: m.version },
    o.by,
    o.nowMs,
  )
  if (!next) return null
  next.version = Math.max(next.version, records.seenVersions.current + 1)
  // Two signers deciding at once (first publish): the record they both read decides who writes.
  const r = await etcd.txn({
    compare: [
      records.currentRev === 0
        ? { key: CURRENT_KEY, target: 'create_revision', op: 'equal', value: 0 }
        : { key: CURRENT_KEY, target: 'mod_revision', op: 'equal', value: records.currentRev },
    ],
    success: [{ put: { key: CURRENT_KEY, value: signCaRecord('release-current', next, o.caKeyPem) } }],
  })
  await records.refresh(etcd)
  return r.succeeded ? next.version : null
}

/** Announces a release the origin now holds complete; the first publish of an id wins. */
export async function publishManifest(
  etcd: RecordsEtcd,
  o: { release: Release; sigText: string; origin: string; nowMs: number },
): Promise<boolean> {
  const value: PublishedRelease = {
    v: 1,
    manifest: o.release.manifestBytes.toString('base64'),
    sig: o.sigText,
    publishedAtMs: o.nowMs,
    origin: o.origin,
  }
  return etcd.createIfAbsent(`${MANIFEST_PREFIX}${o.release.id}`, JSON.stringify(value))
}

/** What this node holds, for `release list` and the status page: signed with its identity key. */
export async function writeHolders(etcd: RecordsEtcd, h: HolderEntry, identityKey: KeyObject): Promise<void> {
  await etcd.put(`${HOLDERS_PREFIX}${h.node}`, signHolders({ v: 1, ...h }, identityKey))
}
