import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { packageRoot } from '../../../../agent/core/package-root.js'

const run = promisify(execFile)

// The arm64 image's kernel comes from Debian 13 through the build's own apt configuration
// (images/netboot/debian13-apt.sh). A mirror that cannot be reached is a clear error that
// says what to check — before anything is built — and the machine's apt sources are left
// as they were. The mirror here is a closed port on loopback: nothing leaves the machine.
const foreignArm64 = await run('dpkg', ['--print-foreign-architectures']).then(
  (r) => r.stdout.split('\n').includes('arm64'),
  () => false,
)

test('an unreachable Debian 13 mirror stops the arm64 build with what to check', {
  skip: !foreignArm64 && 'apt does not know arm64 packages here (scripts/setup.sh adds them as root)',
}, async () => {
  const cache = await mkdtemp(join(tmpdir(), 'hc-d13-'))
  try {
    const before = await readFile('/etc/apt/sources.list.d/debian.sources', 'utf8').catch(() => '')
    // apt's own config file variable: no retries (three of them take ~7 s on a closed port).
    await writeFile(join(cache, 'apt.conf'), 'Acquire::Retries "0";\n')
    const r = await run('bash', ['images/netboot/build.sh', '--print-dir', '--arch', 'arm64'], {
      cwd: packageRoot(),
      env: {
        ...process.env,
        APT_CONFIG: join(cache, 'apt.conf'),
        HOMECLOUD_CACHE: cache,
        HOMECLOUD_DEBIAN_MIRROR: 'http://127.0.0.1:9/debian',
      },
      timeout: 60_000,
    }).then(
      () => assert.fail('the build went on without Debian 13 package lists'),
      (e: { code?: number; stderr?: string }) => e,
    )
    assert.equal(r.code, 1)
    assert.match(r.stderr ?? '', /ERROR: could not read Debian 13's package lists/)
    assert.match(r.stderr ?? '', /next: check that http:\/\/127\.0\.0\.1:9\/debian is reachable/)
    // Its own sources list, in the build cache; the machine's are untouched.
    const own = await readFile(join(cache, 'netboot/apt-debian13/sources.list'), 'utf8')
    assert.match(
      own,
      /^deb \[arch=arm64 signed-by=\S+\] http:\/\/127\.0\.0\.1:9\/debian trixie-backports main$/m,
    )
    assert.match(
      own,
      /^deb \[arch=arm64 signed-by=\S+\] http:\/\/127\.0\.0\.1:9\/debian trixie non-free-firmware$/m,
    )
    assert.equal(await readFile('/etc/apt/sources.list.d/debian.sources', 'utf8').catch(() => ''), before)
  } finally {
    await rm(cache, { recursive: true, force: true })
  }
})
