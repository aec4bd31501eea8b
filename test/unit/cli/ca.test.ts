import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { promisify } from 'node:util'
import { manualClock } from '../../../agent/core/clock.js'
import { packageRoot } from '../../../agent/core/package-root.js'
import { createCa } from '../../../agent/pki/ca.js'

const run = promisify(execFile)
const dir = await mkdtemp(join(tmpdir(), 'hc-cli-ca-'))
after(() => rm(dir, { recursive: true, force: true }))
const cli = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', join(packageRoot(), 'cli', 'main.ts'), 'ca', ...args]).then(
    (r) => ({ ...r, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => e,
  )

test('homecloud ca prints the CA alone on stdout and the fingerprint openssl computes', async () => {
  const ca = createCa({ clusterId: 'c1', clusterName: 'home', clock: manualClock(Date.UTC(2025, 0, 1)) })
  await writeFile(join(dir, 'ca.pem'), ca.certPem)
  const openssl = await run('openssl', [
    'x509',
    '-noout',
    '-fingerprint',
    '-sha256',
    '-in',
    join(dir, 'ca.pem'),
  ])
  const expected = openssl.stdout.trim().split('=')[1]!
  const admin = join(dir, 'admin.json')
  await writeFile(
    admin,
    JSON.stringify({
      v: 1,
      clusterId: 'c1',
      urls: ['https://127.0.0.1:7443'],
      caCert: ca.certPem,
      cert: 'x',
      key: 'y',
    }),
  )
  const r = await cli('--admin', admin)
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, ca.certPem.endsWith('\n') ? ca.certPem : `${ca.certPem}\n`)
  assert.match(r.stderr, new RegExp(`SHA-256 fingerprint: ${expected}`))
  const only = await cli('--admin', admin, '--fingerprint')
  assert.equal(only.stdout, `${expected}\n`)
})

test('homecloud ca names what is missing or broken', async () => {
  const none = await cli()
  assert.notEqual(none.code, 0)
  assert.match(none.stderr, /pass --state DIR/)
  const missing = await cli('--state', join(dir, 'nowhere'))
  assert.match(missing.stderr, /cannot read the cluster CA .*nowhere\/pki\/ca\.crt/)
  const bad = join(dir, 'bad.json')
  await writeFile(
    bad,
    JSON.stringify({ v: 1, clusterId: 'c1', urls: ['https://x:7443'], caCert: 'junk', cert: '', key: '' }),
  )
  const broken = await cli('--admin', bad)
  assert.match(broken.stderr, /the cluster CA is unreadable/)
})
