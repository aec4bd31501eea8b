/** Summary statistics over the numbers that were measured (nulls are timeouts, counted apart). */
export function present(values: (number | null)[]): number[] {
  return values.filter((v): v is number => v !== null && Number.isFinite(v))
}

export function median(values: (number | null)[]): number | null {
  const v = present(values).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = Math.floor(v.length / 2)
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2
}

export function max(values: (number | null)[]): number | null {
  const v = present(values)
  return v.length === 0 ? null : Math.max(...v)
}

export function mean(values: (number | null)[]): number | null {
  const v = present(values)
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length
}

/** "3 runs: 1812 ms, 1904 ms, timed out" plus how many produced no number. */
export function runsNote(values: (number | null)[], unit: string): string {
  const missing = values.length - present(values).length
  const list = values.map((v) => (v === null ? 'timed out' : `${Math.round(v)} ${unit}`)).join(', ')
  return `${values.length} run${values.length === 1 ? '' : 's'}: ${list}${missing > 0 ? ` (${missing} without a number)` : ''}`
}
