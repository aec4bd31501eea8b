import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { ERROR_CODES, HTTP_ERROR_CODES } from '../../../../agent/core/errors.js'
import { packageRoot } from '../../../../agent/core/package-root.js'
import type { DropReason } from '../../../../agent/mesh/intake.js'

// The catalogue (agent/core/errors.ts) and its page (docs/errors.md) in step, both ways.
// Thrown codes are checked by the compiler (HomecloudError takes an ErrorCode); the codes
// in HTTP answers are string literals, found here in the sources.

const root = packageRoot()
const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8')

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    if (e.isDirectory()) return sources(p)
    return e.name.endsWith('.ts') ? [p] : []
  })
}
const code = ['agent', 'control', 'cli', 'lab']
  .flatMap((d) => sources(join(root, d)))
  .filter((f) => relative(root, f) !== 'agent/core/errors.ts')
  .map((f) => ({ file: relative(root, f), text: readFileSync(f, 'utf8') }))

/** `error` codes in HTTP answers: `{ error: 'X' }` and the approve route's `bad(status, 'X', …)`. */
function httpCodesIn(text: string): string[] {
  const out: string[] = []
  for (const m of text.matchAll(/\berror:\s*'([A-Z][A-Z0-9_]+)'/g)) out.push(m[1]!)
  for (const m of text.matchAll(/\bbad\(\s*\d{3},\s*'([A-Z][A-Z0-9_]+)'/g)) out.push(m[1]!)
  return out
}

/** Codes in the first column of the page's tables: `| \`X\` |` or `| 404 \`X\` |`. */
function documentedCodes(): string[] {
  return [...doc.matchAll(/^\|\s*(?:\d{3}\s+)?`([A-Z][A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]!)
}

const catalogued = new Set([...Object.keys(ERROR_CODES), ...Object.keys(HTTP_ERROR_CODES)])

describe('error catalogue', () => {
  it('documents every error code', () => {
    for (const c of Object.keys(ERROR_CODES))
      assert.ok(doc.includes(`\`${c}\``), `${c} missing from docs/errors.md`)
  })

  it('documents every HTTP error code', () => {
    for (const c of Object.keys(HTTP_ERROR_CODES))
      assert.ok(doc.includes(`\`${c}\``), `${c} missing from docs/errors.md`)
  })

  it('every code an HTTP server answers with is catalogued', () => {
    const missing = code.flatMap(({ file, text }) =>
      httpCodesIn(text)
        .filter((c) => !catalogued.has(c))
        .map((c) => `${file}: ${c}`),
    )
    assert.deepEqual(missing, [], 'add them to HTTP_ERROR_CODES (agent/core/errors.ts) and docs/errors.md')
  })

  it('every documented code is catalogued', () => {
    const stale = documentedCodes().filter((c) => !catalogued.has(c))
    assert.deepEqual(stale, [], 'docs/errors.md lists codes the catalogue does not have')
  })

  it('every catalogued code is used by the code', () => {
    const unused = [...catalogued].filter((c) => !code.some(({ text }) => new RegExp(`'${c}'`).test(text)))
    assert.deepEqual(
      unused,
      [],
      'remove codes nothing throws or answers with (from errors.ts and docs/errors.md)',
    )
  })

  it('the source scan finds both forms', () => {
    assert.deepEqual(httpCodesIn("reply.send({ error: 'NOT_FOUND' }); return bad(403, 'CSRF', 'x')"), [
      'NOT_FOUND',
      'CSRF',
    ])
  })

  it('documents every mesh drop reason', () => {
    const reasons: Record<DropReason, true> = {
      malformed: true,
      oversized: true,
      'bad-signature': true,
      stale: true,
      'other-cluster': true,
      impersonation: true,
      'dead-incarnation': true,
      'table-full': true,
      'not-member': true,
      uncertified: true,
      revoked: true,
    }
    for (const r of Object.keys(reasons))
      assert.ok(doc.includes(`\`${r}\``), `${r} missing from docs/errors.md`)
  })
})
