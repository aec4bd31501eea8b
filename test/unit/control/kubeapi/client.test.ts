import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { HomecloudError } from '../../../../agent/core/errors.js'
import { kubeApiFromKubeconfig } from '../../../../control/kubeapi/client.js'
import { KubeApiError, patchNodeFresh } from '../../../../control/kubeapi/types.js'

describe('kubeApiFromKubeconfig', () => {
  it('a missing or malformed kubeconfig is KUBE_API_FAILED naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hc-kubeapi-'))
    try {
      const bad = join(dir, 'bad.yaml')
      await writeFile(bad, ': : not yaml [')
      for (const file of [join(dir, 'missing'), bad]) {
        await assert.rejects(kubeApiFromKubeconfig(file), (err: unknown) => {
          assert.ok(err instanceof HomecloudError)
          assert.equal(err.code, 'KUBE_API_FAILED')
          assert.ok(err.message.includes(file))
          assert.match(err.hint ?? '', /--kubeconfig/)
          return true
        })
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('an unreachable API server is KUBE_API_FAILED with what to check', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hc-kubeapi-'))
    try {
      const file = join(dir, 'kubeconfig.json')
      // 127.0.0.1 port 1: refused at once, nothing leaves the machine.
      await writeFile(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            { name: 'c', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } },
          ],
          users: [{ name: 'u', user: { token: 'x' } }],
          contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'x',
        }),
      )
      const kube = await kubeApiFromKubeconfig(file)
      await assert.rejects(kube.getNode('w1'), (err: unknown) => {
        assert.ok(err instanceof HomecloudError)
        assert.equal(err.code, 'KUBE_API_FAILED')
        assert.match(err.message, /get node w1/)
        assert.match(err.hint ?? '', /https:\/\/127\.0\.0\.1:1/)
        return true
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('patchNodeFresh', () => {
  it('re-reads and retries on a conflict, a bounded number of times', async () => {
    let version = 0
    let writes = 0
    const kube = {
      getNode: async (name: string) => ({ metadata: { name, resourceVersion: String(++version) } }),
      patchNode: async (_: string, patch: object) => {
        writes++
        const rv = (patch as { metadata: { resourceVersion: string } }).metadata.resourceVersion
        if (Number(rv) < 3) throw new KubeApiError('patch node w1: HTTP 409: conflict', 409)
        return { metadata: { resourceVersion: rv } }
      },
    }
    const r = await patchNodeFresh(kube, 'w1', (n) => ({
      metadata: { resourceVersion: n.metadata?.resourceVersion },
    }))
    assert.equal(r?.metadata?.resourceVersion, '3')
    assert.equal(writes, 3)
    const always = { ...kube, patchNode: async () => Promise.reject(new KubeApiError('conflict', 409)) }
    await assert.rejects(
      patchNodeFresh(always, 'w1', () => ({})),
      KubeApiError,
    )
    const other = { ...kube, patchNode: async () => Promise.reject(new KubeApiError('forbidden', 403)) }
    await assert.rejects(
      patchNodeFresh(other, 'w1', () => ({})),
      /forbidden/,
    )
    assert.equal(await patchNodeFresh(kube, 'w1', () => undefined).then((n) => n?.metadata?.name), 'w1')
  })
})
