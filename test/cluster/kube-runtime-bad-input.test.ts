import assert from 'node:assert/strict'
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, truncate } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { execa } from 'execa'
import { systemClock } from '../../agent/core/clock.js'
import { HomecloudError } from '../../agent/core/errors.js'
import { silentLogger } from '../../agent/core/log.js'
import { kubeImagesDir } from '../../agent/kube/binaries.js'
import { NodeRuntime, type NodeRuntimeInit } from '../../agent/kube/runtime/node-runtime.js'
import { runtimePaths } from '../../agent/kube/runtime/paths.js'

// Bad input to a kubelet node's runtime, against a real containerd: a truncated image
// archive is a clear error naming the file, and what was imported before it stays; a
// missing containerd says what is missing. The kubelet is never reached in these cases.

const root = process.getuid?.() === 0
const pauseTar = join(kubeImagesDir(), 'pause-3.10.2.tar')

describe('kubelet node runtime: bad input', {
  skip: !root && 'needs root (containerd)',
  timeout: 180_000,
}, () => {
  const dirs: string[] = []
  const runtimes: NodeRuntime[] = []
  after(async () => {
    for (const r of runtimes) await r.stop().catch(() => {})
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  async function setup(over: Partial<NodeRuntimeInit> = {}) {
    const dir = await mkdtemp(join(tmpdir(), 'hc-test-runtime-'))
    dirs.push(dir)
    const good = join(dir, 'good')
    const bad = join(dir, 'bad')
    await mkdir(good)
    await mkdir(bad)
    await copyFile(pauseTar, join(good, 'pause.tar'))
    await copyFile(pauseTar, join(bad, 'cut.tar'))
    await truncate(join(bad, 'cut.tar'), Math.floor((await stat(pauseTar)).size / 2))
    const paths = runtimePaths(join(dir, 'kube'))
    const runtime = new NodeRuntime(
      {
        nodeName: 'bad-input',
        address: '127.0.0.1',
        caCert: join(dir, 'ca.crt'),
        serving: { cert: join(dir, 's.crt'), key: join(dir, 's.key') },
        kubeconfig: join(dir, 'kubeconfig'),
        paths,
        clusterDns: '10.96.0.10',
        cgroupRoot: '/',
        podCidr: '10.244.250.0/24',
        sandboxImage: 'registry.k8s.io/pause:3.10.2',
        cniBinDirs: ['/usr/lib/cni', '/opt/cni/bin'],
        imageDirs: [good, bad],
        // Never started: every case here fails before the kubelet.
        programs: { kubelet: '/nonexistent/kubelet', containerd: 'containerd', ctr: 'ctr' },
        ...over,
      },
      { clock: systemClock(), log: silentLogger() },
    )
    runtimes.push(runtime)
    return { runtime, paths, bad }
  }

  test('a truncated image archive: KUBE_RUNTIME naming the file; the images before it stay imported', async () => {
    await stat(pauseTar).catch(() => assert.fail(`${pauseTar} is missing: run images/pause/build.sh`))
    const { runtime, paths, bad } = await setup()
    await assert.rejects(runtime.start(), (err: unknown) => {
      assert.ok(err instanceof HomecloudError)
      assert.equal(err.code, 'KUBE_RUNTIME')
      assert.ok(err.message.includes(join(bad, 'cut.tar')), err.message)
      assert.match(err.hint ?? '', /images\/pause\/build\.sh --force/)
      return true
    })
    const ls = await execa('ctr', ['--address', paths.containerdSocket, '-n', 'k8s.io', 'images', 'ls', '-q'])
    assert.match(ls.stdout, /registry\.k8s\.io\/pause:3\.10\.2/)
    assert.equal(runtime.status().kubelet, null, 'the kubelet was not started')
    await runtime.stop()
    // containerd's own config was written, with our socket: nothing went to /run/containerd.
    assert.match(await readFile(paths.containerdConfig, 'utf8'), /containerd\.sock/)
  })

  test('a containerd that is not installed: a clear error naming the program', async () => {
    const { runtime } = await setup({
      programs: { kubelet: '/nonexistent/kubelet', containerd: '/nonexistent/containerd', ctr: 'ctr' },
    })
    await assert.rejects(runtime.start(), /\/nonexistent\/containerd not found/)
    await runtime.stop()
  })
})
