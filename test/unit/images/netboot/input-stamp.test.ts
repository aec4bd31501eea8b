import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { packageRoot } from '../../../../agent/core/package-root.js'

const run = promisify(execFile)
const ROOT = packageRoot()
const tmp = await mkdtemp(join(tmpdir(), 'hc-input-stamp-'))
after(() => rm(tmp, { recursive: true, force: true }))

/** Runs `script` in bash with images/netboot/input-stamp.sh sourced. */
async function stampShell(script: string, env: Record<string, string> = {}) {
  const r = await run('bash', ['-c', `set -euo pipefail; . images/netboot/input-stamp.sh; ${script}`], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  })
  return r.stdout
}

// images/netboot/input-stamp.sh: the fast key that lets build.sh skip apt and the big hashes.
describe('the netboot build’s input stamp', () => {
  it('a file written back byte for byte, its time set back, still reads as changed', async () => {
    const f = join(tmp, 'node')
    await writeFile(f, 'same bytes')
    const before = await stampShell(`file_stats ${f}`)
    assert.equal(await stampShell(`file_stats ${f}`), before, 'unchanged: the same line')
    const { mtime } = await stat(f)
    await new Promise((r) => setTimeout(r, 10)) // a change time of its own
    await writeFile(f, 'same bytes')
    await run('touch', ['-d', mtime.toISOString(), f])
    assert.notEqual(await stampShell(`file_stats ${f}`), before, 'the change time moved')
  })

  it('a missing file gives no key', async () => {
    await assert.rejects(stampShell(`file_stats ${join(tmp, 'absent')}`))
  })

  it("apt's state changes with its configuration", async () => {
    const conf = join(tmp, 'apt.conf')
    await writeFile(conf, '// nothing\n')
    const a = await stampShell('apt_state', { APT_CONFIG: conf })
    assert.match(a, /\/status \d+/, "dpkg's status is part of it")
    await writeFile(conf, 'Acquire::Retries "0";\n')
    assert.notEqual(await stampShell('apt_state', { APT_CONFIG: conf }), a)
  })

  it('a recorded key gives its version back; an unknown one nothing', async () => {
    const dir = join(tmp, 'stamps')
    assert.equal(
      await stampShell(`stamp_record ${dir} k1 0123456789abcdef; stamp_lookup ${dir} k1`),
      '0123456789abcdef\n',
    )
    await assert.rejects(stampShell(`stamp_lookup ${dir} k2`))
  })
})

// The whole script with stand-ins for etcd and node (no build, nothing fetched): a second
// look is answered from the stamp without apt; a changed etcd binary is a new image.
const debianAmd64 = await run('dpkg', ['--print-architecture']).then(
  (r) => r.stdout.trim() === 'amd64',
  () => false,
)
const distBuilt = await stat(join(ROOT, 'dist', 'cli', 'main.js')).then(
  () => true,
  () => false,
)

describe('images/netboot/build.sh with its input stamp', {
  skip:
    (!debianAmd64 && 'needs an amd64 Debian (apt)') || (!distBuilt && 'needs the compiled agent (npx tsc)'),
}, () => {
  it('up to date without apt when nothing changed; a changed input is a new image', async () => {
    const cache = join(tmp, 'cache')
    const xdg = join(tmp, 'xdg')
    const bin = join(tmp, 'bin')
    const aptLog = join(tmp, 'apt-cache.log')
    const env = {
      ...process.env,
      HOMECLOUD_CACHE: cache,
      XDG_CACHE_HOME: xdg,
      PATH: `${bin}:${process.env.PATH}`,
    }
    // apt-cache, counted: the full look asks it, the fast one must not.
    await mkdir(bin, { recursive: true })
    await writeFile(
      join(bin, 'apt-cache'),
      `#!/bin/sh\necho "$*" >>${aptLog}\nexec /usr/bin/apt-cache "$@"\n`,
    )
    await chmod(join(bin, 'apt-cache'), 0o755)
    const etcdDir = await standInEtcd(env)
    await standInNode(xdg)
    const aptCalls = async () =>
      (await readFile(aptLog, 'utf8').catch(() => '')).split('\n').filter(Boolean).length
    const build = async (...args: string[]) => {
      const r = await run('bash', ['images/netboot/build.sh', ...args], { cwd: ROOT, env })
      return { dir: r.stdout.trim().split('\n').at(-1)!, stderr: r.stderr }
    }

    const first = await build('--print-dir')
    const asked = await aptCalls()
    assert.ok(asked > 0, 'the first look asks apt')
    assert.equal((await build('--print-dir')).dir, first.dir)
    // An image there: the up-to-date answer comes from the stamp.
    await mkdir(first.dir, { recursive: true })
    await writeFile(join(first.dir, 'manifest.json'), '{}\n')
    const again = await build()
    assert.equal(again.dir, first.dir)
    assert.match(again.stderr, /is up to date .*inputs unchanged since their last full check/)
    assert.equal(await aptCalls(), asked, 'no apt-cache run for an unchanged image')

    // etcd rebuilt to other bytes of the same size, its time set back: a new image.
    const etcd = join(etcdDir, 'etcd')
    const { mtime } = await stat(etcd)
    await writeFile(etcd, (await readFile(etcd, 'utf8')).replace('one', 'two'))
    await run('touch', ['-d', mtime.toISOString(), etcd])
    const changed = await build('--print-dir')
    assert.ok((await aptCalls()) > asked, 'the full look ran again')
    assert.notEqual(changed.dir, first.dir)
  })
})

/** etcd as images/etcd/build.sh leaves it when cached: three programs and their stamp lines. */
async function standInEtcd(env: NodeJS.ProcessEnv): Promise<string> {
  const r = await run('bash', ['images/etcd/build.sh', '--print-dir', '--arch', 'amd64'], { cwd: ROOT, env })
  const dir = r.stdout.trim()
  const version = dir.split('/').at(-3)!
  const recipe = /^RECIPE=(\d+)/m.exec(await readFile(join(ROOT, 'images', 'etcd', 'build.sh'), 'utf8'))?.[1]
  await mkdir(dir, { recursive: true })
  const lines: string[] = []
  for (const name of ['etcd', 'etcdctl', 'etcdutl']) {
    await writeFile(join(dir, name), `#!/bin/sh\necho ${name} one\n`)
    await chmod(join(dir, name), 0o755)
    lines.push(`${name} ${version} recipe=${recipe} stand-in`)
  }
  await writeFile(join(dir, '..', 'stamp'), `${lines.join('\n')}\n`)
  return dir
}

/** The pinned Node.js where scripts/node.sh looks for it (so nothing is fetched). */
async function standInNode(xdg: string): Promise<void> {
  const r = await run('bash', ['-c', '. scripts/node.sh; echo "$HOMECLOUD_NODE_VERSION"'], { cwd: ROOT })
  const dir = join(xdg, 'homecloud', 'node', `v${r.stdout.trim()}-amd64`, 'bin')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'node'), '#!/bin/sh\n')
  await chmod(join(dir, 'node'), 0o755)
}
