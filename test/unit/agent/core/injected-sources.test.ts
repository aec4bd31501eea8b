import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { packageRoot } from '../../../../agent/core/package-root.js'

// Time and randomness reach agent/ and control/ only through the injected Clock and
// Random (agent/core/clock.ts, agent/core/random.ts), so every decision can run on a
// manual clock and a seeded source. The status page's browser script runs in the
// browser, where the page's own clock is the right one.

const allowed = new Set(['agent/core/clock.ts', 'agent/core/random.ts', 'agent/api/page/browser.ts'])

const forbidden: { what: string; re: RegExp }[] = [
  { what: 'Date.now()', re: /\bDate\.now\s*\(/ },
  { what: 'new Date()', re: /\bnew Date\(\s*\)/ },
  { what: 'performance.now()', re: /\bperformance\.now\s*\(/ },
  { what: 'Math.random', re: /\bMath\.random\b/ },
  {
    what: 'a global setTimeout/setInterval',
    re: /(?<![.\w])(?:globalThis\.)?(?:setTimeout|setInterval)\s*\(/,
  },
]
/** Checked on the raw text: the module name is a string. */
const timersImport = /^\s*import\b.*from\s+'(?:node:)?timers(?:\/promises)?'/

/** The code without comments and string contents, so prose and messages may name these. */
export function codeOnly(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ''))
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g, "''")
}

export function findViolations(file: string, text: string): string[] {
  const out: string[] = []
  const raw = text.split('\n')
  codeOnly(text)
    .split('\n')
    .forEach((line, i) => {
      for (const f of forbidden) if (f.re.test(line)) out.push(`${file}:${i + 1}: ${f.what}`)
      if (timersImport.test(raw[i] ?? '')) out.push(`${file}:${i + 1}: node:timers`)
    })
  return out
}

async function sources(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...(await sources(p)))
    else if (e.name.endsWith('.ts')) out.push(p)
  }
  return out
}

describe('time and randomness only through injected sources', () => {
  it('the check catches each form and ignores comments and strings', () => {
    const bad = [
      'const t = Date.now()',
      'const d = new Date()',
      'const m = performance.now()',
      'const r = Math.random()',
      'const f = c.random ?? Math.random',
      'setTimeout(fn, 5)',
      'const i = setInterval(fn, 5)',
      "import { setTimeout } from 'node:timers/promises'",
    ]
    for (const line of bad) assert.equal(findViolations('x.ts', line).length, 1, line)
    const fine = [
      'clock.setTimeout(fn, 5)',
      'this.c.clock.setInterval(fn, 5)',
      'new Date(clock.nowMs())',
      '// never Date.now() here',
      "log.info('Math.random is not used')",
      '/* setTimeout( */',
    ]
    for (const line of fine) assert.deepEqual(findViolations('x.ts', line), [], line)
  })

  it('agent/ and control/ use only core/clock.ts and core/random.ts', async () => {
    const root = packageRoot()
    const files = [...(await sources(join(root, 'agent'))), ...(await sources(join(root, 'control')))]
    const violations: string[] = []
    for (const f of files) {
      const rel = relative(root, f)
      if (allowed.has(rel)) continue
      violations.push(...findViolations(rel, await readFile(f, 'utf8')))
    }
    assert.deepEqual(violations, [], 'inject the Clock (core/clock.ts) or Random (core/random.ts) instead')
  })
})
