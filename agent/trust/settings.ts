import type { PeerConn } from '../mesh/swarm.js'
import { type ClusterFile, type ClusterSettings, clusterSettings } from '../state/cluster-file.js'
import { type CommonEffect, log, type Step } from './effects.js'
import type { SignedSettings } from './signed-settings.js'

// Cluster settings (join policy, certificate lifetime, password hash), the same on
// every node: a change is signed with the CA key by the signer an admin used, versioned,
// and gossiped; every node keeps the greatest (version, signature). Two signers changing
// settings at once both sign version n+1; every node picks the same one of them, and the
// signer whose change lost re-applies it on top as n+2, so no admin's change is dropped
// by a race and the cluster still agrees on one history. A signer keeps its change
// pending until a higher version than its own arrives: that one was built on a version
// it had to see first, or a change made later supersedes it. (Left open: a third
// change built on the race's winner that reaches the losing signer before the winner
// does supersedes the lost change; `homecloud status` shows what holds.)
//
//   received / issued ─▶ greater than ours? adopt: save, pass on
//                     └─▶ our pending change lost a same-version race? sign it again on top
//   change(admin, signer) ─▶ sign version+1, remember it as our pending change

export interface SettingsState {
  readonly cluster: ClusterFile
  readonly signed: SignedSettings | null
  /** Our change not yet known to have won: what it changed and the version we gave it. */
  readonly intent: { version: number; change: Partial<ClusterSettings> } | null
}

export type SettingsEvent =
  | { kind: 'received'; signed: SignedSettings }
  | { kind: 'issued'; signed: SignedSettings }
  | { kind: 'change'; change: Partial<ClusterSettings> }
  /** We joined: the signer handed us its settings with our certificate. */
  | { kind: 'joined'; settings: ClusterSettings }
  | { kind: 'connected'; conn: PeerConn }

export type SettingsEffect =
  | CommonEffect
  | { kind: 'sign'; version: number; settings: ClusterSettings }
  | { kind: 'save'; cluster: ClusterFile; signed: SignedSettings | null }

export function settingsStart(cluster: ClusterFile, signed: SignedSettings | null): SettingsState {
  const usable = signed && signed.version === cluster.settingsVersion ? signed : null
  return { cluster, signed: usable, intent: null }
}

/** The total order every node applies: higher version, then the greater signature. */
export function greater(a: SignedSettings, b: { version: number; sig?: string }): boolean {
  if (a.version !== b.version) return a.version > b.version
  return b.sig !== undefined && a.sig > b.sig
}

export function settingsStep(s: SettingsState, e: SettingsEvent): Step<SettingsState, SettingsEffect> {
  switch (e.kind) {
    case 'connected':
      return {
        state: s,
        effects: s.signed ? [{ kind: 'send', conn: e.conn, msg: { t: 'settings', signed: s.signed } }] : [],
      }
    case 'joined': {
      const cluster = { ...s.cluster, ...e.settings }
      return { state: { ...s, cluster }, effects: [{ kind: 'save', cluster, signed: s.signed }] }
    }
    case 'change': {
      const version = Math.max(s.cluster.settingsVersion, s.intent?.version ?? 0) + 1
      return {
        state: { ...s, intent: { version, change: e.change } },
        effects: [{ kind: 'sign', version, settings: { ...changeBase(s), ...e.change } }],
      }
    }
    case 'issued':
    case 'received':
      return adopt(s, e.signed)
  }
}

function adopt(s: SettingsState, signed: SignedSettings): Step<SettingsState, SettingsEffect> {
  const ours = { version: s.cluster.settingsVersion, sig: s.signed?.sig }
  if (signed.settings.id !== s.cluster.id || !greater(signed, ours)) return { state: s, effects: [] }
  const cluster: ClusterFile = { ...s.cluster, ...signed.settings, settingsVersion: signed.version }
  const effects: SettingsEffect[] = [
    { kind: 'save', cluster, signed },
    log('info', 'cluster settings changed', { version: signed.version, joinPolicy: cluster.joinPolicy }),
    { kind: 'broadcast', msg: { t: 'settings', signed } },
  ]
  let intent = s.intent
  if (intent && signed.version > intent.version) intent = null
  else if (intent && signed.version === intent.version && !reflects(signed, intent.change)) {
    // Another signer's change took this version: ours goes on top of it.
    intent = { version: signed.version + 1, change: intent.change }
    effects.push(
      log('info', 'a settings change lost a race to another signer: applying it again on top', {
        version: intent.version,
      }),
      {
        kind: 'sign',
        version: intent.version,
        settings: { ...changeBase({ cluster, signed }), ...intent.change },
      },
    )
  }
  return { state: { cluster, signed, intent }, effects }
}

/**
 * What a change is signed on top of: the settings we hold, plus any field of the signed
 * ones this release does not know (a newer signer's) — dropping it would undo that
 * signer's change for the whole cluster.
 */
function changeBase(s: Pick<SettingsState, 'cluster' | 'signed'>): ClusterSettings {
  return { ...(s.signed?.settings ?? {}), ...clusterSettings(s.cluster) }
}

function reflects(signed: SignedSettings, change: Partial<ClusterSettings>): boolean {
  return Object.entries(change).every(([k, v]) => (signed.settings as Record<string, unknown>)[k] === v)
}
