import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DIGEST_LINES_MAX, digest, parseFailures } from '../../support/failures.js'

// A node:test TAP stream: one suite with a failed and a passed test, and a top-level failure.
const TAP = `TAP version 13
# Subtest: status page in Chromium
    # Subtest: lists every node
    not ok 1 - lists every node
      ---
      duration_ms: 128319.3
      type: 'test'
      location: '/x/main/test/browser/status-page.test.ts:4:537'
      failureType: 'testCodeFailure'
      error: |-
        locator.waitFor: Timeout 120000ms exceeded.
        Call log:
        \u001b[2m  - waiting for locator('#node-rows tr')\u001b[22m
      code: 'ERR_TEST_FAILURE'
      stack: |-
        TestContext.<anonymous> (/x/main/test/browser/status-page.test.ts:106:8)
        process.processTicksAndRejections (node:internal/process/task_queues:104:5)
      ...
    # Subtest: goes live
    ok 2 - goes live
      ---
      duration_ms: 4476.1
      ...
    1..2
not ok 1 - status page in Chromium
  ---
  duration_ms: 186672.8
  type: 'suite'
  failureType: 'subtestsFailed'
  error: '1 subtest failed'
  ...
# Subtest: releases
not ok 2 - releases
  ---
  failureType: 'hookFailed'
  error: 'lab up timed out'
  ...
1..2
`

test('names each failed test under its suites, with its error and stack, and skips suites that failed by a subtest', () => {
  const f = parseFailures(TAP)
  assert.deepEqual(
    f.map((x) => x.path),
    [['status page in Chromium', 'lists every node'], ['releases']],
  )
  assert.equal(f[0]?.location, '/x/main/test/browser/status-page.test.ts:4:537')
  assert.deepEqual(f[0]?.lines, [
    'error:',
    '  locator.waitFor: Timeout 120000ms exceeded.',
    '  Call log:',
    "    - waiting for locator('#node-rows tr')",
    'stack:',
    '  TestContext.<anonymous> (/x/main/test/browser/status-page.test.ts:106:8)',
  ])
  assert.deepEqual(f[1]?.lines, ["error: 'lab up timed out'"])
})

test('the digest is short: nothing when all passed, capped when much failed', () => {
  assert.deepEqual(digest([]), [])
  const many = Array.from({ length: 100 }, (_, i) => ({
    path: [`t${i}`],
    location: '',
    lines: ['error: x', '  y'],
  }))
  const d = digest(many)
  assert.equal(d.length, DIGEST_LINES_MAX)
  assert.match(d[d.length - 1] ?? '', /more lines in test\/output\/results.tap/)
  assert.match(digest(many.slice(0, 1))[1] ?? '', /^✖ t0$/)
})
