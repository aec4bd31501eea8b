import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { ERROR_CODES } from '../../../../agent/core/errors.js'
import { packageRoot } from '../../../../agent/core/package-root.js'
import type { DropReason } from '../../../../agent/mesh/intake.js'

const doc = readFileSync(`${packageRoot()}/docs/errors.md`, 'utf8')

describe('error catalogue', () => {
  it('documents every error code', () => {
    for (const code of Object.keys(ERROR_CODES))
      assert.ok(doc.includes(`\`${code}\``), `${code} missing from docs/errors.md`)
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
