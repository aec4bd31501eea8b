import { isActive, newRollout, type RolloutBody, type TargetRelease } from './record.js'

// What the admin asks of a rollout (pure): start, pause, resume, abort. Each returns the
// next record or why not (the route answers 409 with it; nothing is written).

export interface PublishedTarget extends TargetRelease {
  arch: 'amd64' | 'arm64'
  publishedAtMs: number
}

export type AdminResult =
  | { ok: true; body: RolloutBody }
  | { ok: false; code: 'ROLLOUT_REFUSED' | 'RELEASE_UNKNOWN'; message: string; hint: string }

const refused = (message: string, hint: string): AdminResult => ({
  ok: false,
  code: 'ROLLOUT_REFUSED',
  message,
  hint,
})

/**
 * The releases a spec names: a release id (or an unambiguous prefix of 8+ hex digits),
 * or a version — then every architecture's newest release of that version.
 */
export function resolveTarget(spec: string, published: readonly PublishedTarget[]): PublishedTarget[] {
  if (/^[0-9a-f]{8,64}$/.test(spec)) {
    const byId = published.filter((p) => p.id.startsWith(spec))
    if (byId.length === 1) return byId
  }
  const out: PublishedTarget[] = []
  for (const arch of ['amd64', 'arm64'] as const) {
    const newest = published
      .filter((p) => p.arch === arch && p.version === spec)
      .sort((a, b) => b.publishedAtMs - a.publishedAtMs)[0]
    if (newest) out.push(newest)
  }
  return out
}

/** "3.6.17" → [3, 6]; null when it is not a version. */
export function minorOf(v: string | undefined): [number, number] | null {
  const m = /^v?(\d+)\.(\d+)/.exec(v ?? '')
  return m ? [Number(m[1]), Number(m[2])] : null
}

/** Version skew a rollout may not cross: etcd and Kubernetes move one minor at a time, never back. */
export function skewProblems(
  targets: readonly TargetRelease[],
  running: { etcd?: string | undefined; kubernetes?: string | undefined },
): string[] {
  const out: string[] = []
  for (const [what, now, next] of targets.flatMap((t) => [
    ['etcd', running.etcd, t.etcd] as const,
    ['Kubernetes', running.kubernetes, t.kubernetes] as const,
  ])) {
    const a = minorOf(now)
    const b = minorOf(next)
    if (!a || !b) continue
    if (b[0] !== a[0] || b[1] > a[1] + 1)
      out.push(`${what} ${now} → ${next} skips a minor version (one minor at a time)`)
    else if (b[1] < a[1]) out.push(`${what} ${now} → ${next} goes back a minor version`)
  }
  return [...new Set(out)]
}

export function startRollout(
  prev: RolloutBody | null,
  o: {
    clusterId: string
    spec: string
    canary: number
    retryBad: boolean
    nowMs: number
    published: readonly PublishedTarget[]
    running: { etcd?: string; kubernetes?: string }
  },
): AdminResult {
  if (isActive(prev))
    return refused(
      `a rollout to ${prev?.target?.version} is in progress (${prev?.phase})`,
      'wait for it, or `homecloud upgrade abort` it first',
    )
  const found = resolveTarget(o.spec, o.published)
  if (found.length === 0)
    return {
      ok: false,
      code: 'RELEASE_UNKNOWN',
      message: `no published release has the id or version "${o.spec}"`,
      hint: 'see `homecloud release list`; publish it first with `homecloud release publish`',
    }
  const versions = new Set(found.map((f) => f.version))
  if (versions.size > 1)
    return refused(`"${o.spec}" names releases of several versions`, 'name one release id')
  const bad = found.filter((f) => prev?.bad.some((b) => b.id === f.id))
  if (bad.length > 0 && !o.retryBad) {
    const b = prev?.bad.find((x) => x.id === bad[0]?.id)
    return refused(
      `release ${bad[0]?.version} (${bad[0]?.id.slice(0, 12)}) is marked bad: ${b?.reason}`,
      'fix the release and publish a new one; or, if you know it is fixed, add --retry-bad',
    )
  }
  const skew = skewProblems(found, o.running)
  if (skew.length > 0)
    return refused(
      `not a safe upgrade: ${skew.join('; ')}`,
      'upgrade through the minor version in between first',
    )
  const releases: NonNullable<RolloutBody['target']>['releases'] = {}
  for (const { arch, publishedAtMs: _p, ...t } of found) releases[arch] = t
  const target = { version: found[0]?.version ?? o.spec, releases }
  return {
    ok: true,
    body: newRollout(prev, {
      clusterId: o.clusterId,
      target,
      canary: o.canary,
      nowMs: o.nowMs,
      retryBad: o.retryBad,
    }),
  }
}

export function pauseRollout(r: RolloutBody | null): AdminResult {
  if (r?.phase !== 'running')
    return refused(`no running rollout to pause (${r?.phase ?? 'none'})`, '`homecloud upgrade status`')
  return { ok: true, body: { ...r, version: r.version + 1, phase: 'paused' } }
}

export function resumeRollout(r: RolloutBody | null): AdminResult {
  if (r?.phase !== 'paused')
    return refused(
      `no paused rollout to resume (${r?.phase ?? 'none'})`,
      r?.phase === 'halted'
        ? 'a halted rollout found a bad release: fix it and start a new one'
        : '`homecloud upgrade status`',
    )
  return { ok: true, body: { ...r, version: r.version + 1, phase: 'running', waiting: null } }
}

/** Stops starting nodes; the node in progress finishes (committed or reverted) and is uncordoned. */
export function abortRollout(r: RolloutBody | null): AdminResult {
  if (!r || !(r.phase === 'running' || r.phase === 'paused'))
    return refused(`no rollout to abort (${r?.phase ?? 'none'})`, '`homecloud upgrade status`')
  return { ok: true, body: { ...r, version: r.version + 1, phase: 'aborted' } }
}
