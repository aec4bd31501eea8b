import type { Goal, Row } from './types.js'

export function goalText(goal: Goal | undefined): string {
  if (!goal) return ''
  return 'max' in goal ? `<= ${formatNumber(goal.max)}` : `>= ${formatNumber(goal.min)}`
}

/** "yes"/"no" against the goal; empty without a goal, "n/a" without a value. */
export function goalMet(row: Pick<Row, 'value' | 'goal'>): string {
  if (!row.goal) return ''
  if (row.value === null) return 'n/a'
  return ('max' in row.goal ? row.value <= row.goal.max : row.value >= row.goal.min) ? 'yes' : 'no'
}

export function formatNumber(v: number | null): string {
  if (v === null) return 'n/a'
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US')
  return v.toFixed(1)
}

/** The one results table (metric, value, unit, goal, met?), then the rows' notes. */
export function formatTable(rows: Row[]): string {
  const header = ['metric', 'value', 'unit', 'goal', 'met?']
  const cells = rows.map((r) => [r.metric, formatNumber(r.value), r.unit, goalText(r.goal), goalMet(r)])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const right = new Set([1, 3])
  const line = (c: string[]) =>
    c
      .map((s, i) => (right.has(i) ? s.padStart(widths[i]!) : s.padEnd(widths[i]!)))
      .join(' | ')
      .trimEnd()
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)]
  const notes = rows.filter((r) => r.note)
  if (notes.length > 0) {
    out.push('', 'notes:')
    for (const r of notes) out.push(`  ${r.metric}: ${r.note}`)
  }
  return out.join('\n')
}
