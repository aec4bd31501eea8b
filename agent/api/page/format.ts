// Display formats shared by the server render and the browser (no imports: served as is).

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function ago(nowMs: number, thenMs: number): string {
  if (!Number.isFinite(nowMs - thenMs)) return 'unknown'
  const s = Math.max(0, Math.round((nowMs - thenMs) / 1000))
  if (s < 90) return `${s} s ago`
  const m = Math.round(s / 60)
  if (m < 90) return `${m} min ago`
  const hours = Math.round(m / 60)
  if (hours < 48) return `${hours} h ago`
  return `${Math.round(hours / 24)} d ago`
}

const DAY_MS = 86_400_000

/** ISO 8601 for `<time datetime>`, or null for a value no Date can hold. */
export function isoTime(ms: number): string | null {
  const d = new Date(ms)
  return Number.isFinite(d.getTime()) ? d.toISOString() : null
}

/**
 * A wall-clock time in UTC: "14:03:12 UTC" within a day of now, else "2025-05-01 14:03 UTC".
 * UTC because the server renders too and cannot know the reader's time zone.
 */
export function wallTime(nowMs: number, ms: number): string {
  const iso = isoTime(ms)
  if (!iso) return 'unknown time'
  return Math.abs(nowMs - ms) < DAY_MS
    ? `${iso.slice(11, 19)} UTC`
    : `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`
}

/** "14:03:12 UTC (2 min ago)". */
export function since(nowMs: number, ms: number): string {
  return `${wallTime(nowMs, ms)} (${ago(nowMs, ms)})`
}

/**
 * What a waiting node shows on its own console, so the owner approves the machine in
 * front of them: the first 8 hex digits of the node id, in two groups.
 */
export function shortCode(id: string): string {
  const s = id.slice(0, 8).toUpperCase()
  return s.length > 4 ? `${s.slice(0, 4)}-${s.slice(4)}` : s
}

/** A link target only if it is plain http(s) with no credentials; anything else is shown as text. */
export function safeHttpUrl(s: string): string | null {
  try {
    const u = new URL(s)
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password) return null
    return u.href
  } catch {
    return null
  }
}

/** "3.2 ms", "40 ms". */
export function millis(ms: number): string {
  return ms < 10 ? `${Math.round(ms * 10) / 10} ms` : `${Math.round(ms)} ms`
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}
