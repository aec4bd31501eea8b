// The failures of a run, in few lines, printed last by scripts/test.sh: a CI log is often
// read only from its tail, and there the unit files' output used to hide why a real-process
// test failed (stop 28's CI run named seven failures and none of their errors).
//   node --import tsx test/support/failures.ts FILE.tap...
import { readFileSync } from 'node:fs'

/** Lines of one failure's error and stack shown; the whole digest is capped too. */
export const FAILURE_LINES_MAX = 14
export const DIGEST_LINES_MAX = 160

export interface Failure {
  /** The test's name, after its suites' names. */
  path: string[]
  location: string
  lines: string[]
}

interface Open {
  depth: number
  name: string
}

/** The failed tests of a node:test TAP stream, leaves only (a suite failing because a subtest did is not news). */
export function parseFailures(tap: string): Failure[] {
  const out: Failure[] = []
  const lines = tap.split('\n')
  const open: Open[] = []
  const top = () => open[open.length - 1]?.depth ?? -1
  for (const [i, line] of lines.entries()) {
    const sub = /^(\s*)# Subtest: (.*)$/.exec(line)
    if (sub) {
      const depth = (sub[1] ?? '').length
      while (top() >= depth) open.pop()
      open.push({ depth, name: sub[2] ?? '' })
      continue
    }
    const notOk = /^(\s*)not ok \d+ - (.*)$/.exec(line)
    if (!notOk) continue
    const depth = (notOk[1] ?? '').length
    while (top() > depth) open.pop()
    const names = open.map((o) => o.name)
    if (top() === depth) open.pop()
    const yaml = yamlBlock(lines, i + 1, depth)
    if (/failureType: 'subtestsFailed'/.test(yaml.join('\n'))) continue
    out.push({
      path: names.length > 0 ? names : [notOk[2] ?? ''],
      location: field(yaml, 'location'),
      lines: errorLines(yaml),
    })
  }
  return out
}

/** The `---` … `...` block after a result line, without its indent. */
function yamlBlock(lines: string[], from: number, depth: number): string[] {
  const indent = ' '.repeat(depth + 2)
  if (lines[from] !== `${indent}---`) return []
  const block: string[] = []
  for (const l of lines.slice(from + 1)) {
    if (l === `${indent}...`) break
    block.push(l.slice(indent.length))
  }
  return block
}

function field(yaml: string[], key: string): string {
  const line = yaml.find((l) => l.startsWith(`${key}: `))
  return line ? line.slice(key.length + 2).replace(/^'|'$/g, '') : ''
}

/** The error's text and the stack's first lines, escape codes gone. */
function errorLines(yaml: string[]): string[] {
  const shown: string[] = []
  let inBlock = false
  for (const l of yaml) {
    const start = /^(error|stack|cause): ?(.*)$/.exec(l)
    if (start) {
      inBlock = true
      const rest = start[2] === '|-' ? '' : start[2]
      shown.push(`${start[1]}:${rest ? ` ${rest}` : ''}`)
      continue
    }
    if (/^\S/.test(l)) inBlock = false
    else if (inBlock && l.trim() !== '' && !l.includes('node:internal')) shown.push(l)
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the TAP keeps the terminal's colour codes
  return shown.map((l) => l.replace(/\u001b\[[0-9;]*m/g, '')).slice(0, FAILURE_LINES_MAX)
}

export function digest(failures: Failure[]): string[] {
  if (failures.length === 0) return []
  const out = [`» ${failures.length} failed test${failures.length === 1 ? '' : 's'}, and why:`]
  for (const f of failures) {
    out.push(
      `✖ ${f.path.join(' › ')}${f.location ? `  (${f.location.replace(/^.*?\/test\//, 'test/')})` : ''}`,
    )
    for (const l of f.lines) out.push(`    ${l}`)
  }
  if (out.length <= DIGEST_LINES_MAX) return out
  return [
    ...out.slice(0, DIGEST_LINES_MAX - 1),
    `  … ${out.length - DIGEST_LINES_MAX + 1} more lines in test/output/results.tap`,
  ]
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const failures = process.argv.slice(2).flatMap((f) => parseFailures(readFileSync(f, 'utf8')))
  for (const l of digest(failures)) console.log(l)
}
