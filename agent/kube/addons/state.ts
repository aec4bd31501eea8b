import { createHash } from 'node:crypto'
import { z } from 'zod'

// What was applied, and when (pure). Recorded in the ConfigMap `homecloud-addons` in
// kube-system, so every coordinator, whichever board it runs on, sees the same record.

export const addonStateConfigMap = { namespace: 'kube-system', name: 'homecloud-addons', key: 'state.json' }

export const AddonState = z.object({
  version: z.literal(1),
  files: z.record(
    z.string(),
    z.object({
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      appliedAtMs: z.number().int().nonnegative(),
    }),
  ),
})
export type AddonState = z.infer<typeof AddonState>

export const emptyAddonState: AddonState = { version: 1, files: {} }

export function sha256Hex(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex')
}

/** The recorded state, or null when the text is not one (the caller re-applies everything). */
export function parseAddonState(text: string | undefined): AddonState | null {
  if (text === undefined) return emptyAddonState
  try {
    const r = AddonState.safeParse(JSON.parse(text))
    return r.success ? r.data : null
  } catch {
    return null
  }
}

export type ApplyReason = 'new' | 'changed' | 'resync'

export interface FilePlan {
  apply: { file: string; reason: ApplyReason }[]
  unchanged: string[]
}

/**
 * Which files to apply: new ones, changed ones, and every file last applied more than
 * `resyncMs` ago (drift: someone edited or deleted an object by hand).
 */
export function planFiles(
  files: readonly { file: string; sha256: string }[],
  state: AddonState,
  nowMs: number,
  resyncMs: number,
): FilePlan {
  const plan: FilePlan = { apply: [], unchanged: [] }
  for (const f of files) {
    const rec = state.files[f.file]
    if (!rec) plan.apply.push({ file: f.file, reason: 'new' })
    else if (rec.sha256 !== f.sha256) plan.apply.push({ file: f.file, reason: 'changed' })
    else if (nowMs - rec.appliedAtMs >= resyncMs) plan.apply.push({ file: f.file, reason: 'resync' })
    else plan.unchanged.push(f.file)
  }
  return plan
}

/**
 * The state after a run: files applied without a problem are recorded with their hash;
 * a file with any problem keeps its old record (so it is tried again next time);
 * files no longer present are forgotten.
 */
export function nextAddonState(
  prev: AddonState,
  files: readonly { file: string; sha256: string }[],
  applied: ReadonlySet<string>,
  nowMs: number,
): AddonState {
  const next: AddonState = { version: 1, files: {} }
  for (const f of files) {
    if (applied.has(f.file)) next.files[f.file] = { sha256: f.sha256, appliedAtMs: nowMs }
    else if (prev.files[f.file]) next.files[f.file] = prev.files[f.file]!
  }
  return next
}
