import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import type { KubePaths } from '../../agent/kube/paths.js'
import { KubeTestCluster } from '../support/kube-cluster.js'

// Every voter derives the same service-account key from the CA key (agent/kube/sa-key.ts),
// so nothing needs distributing: a token minted through one API server is accepted by
// another that wrote its own key files. Two real kube-apiservers share one etcd here.

describe('two API servers, one derived service-account key', { timeout: 300_000 }, () => {
  let c: KubeTestCluster
  let second: { url: string; paths: KubePaths }
  before(async () => {
    c = await KubeTestCluster.create({ block: 220 })
    second = await c.addApiserver(2)
    // Our own account: the controller manager creates `default` only eventually.
    const sa = await c.kubectl(['create', 'serviceaccount', 'token-probe', '-n', 'default'])
    assert.equal(sa.exitCode, 0, sa.stderr)
  })
  after(async () => {
    await c?.cleanup()
  })

  const review = async (kubeconfig: string, token: string) => {
    const r = await c.kubectlWith(
      kubeconfig,
      ['create', '-o', 'json', '-f', '-'],
      JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }),
    )
    assert.equal(r.exitCode, 0, r.stderr)
    return JSON.parse(r.stdout).status as { authenticated?: boolean; user?: { username?: string } }
  }
  const mint = async (kubeconfig: string) => {
    const r = await c.kubectlWith(kubeconfig, ['create', 'token', 'token-probe', '-n', 'default'])
    assert.equal(r.exitCode, 0, r.stderr)
    return r.stdout.trim()
  }

  it('the second API server wrote its own key files, derived to the same key', async () => {
    assert.notEqual(second.paths.serviceAccountKey, c.paths.serviceAccountKey)
    assert.equal(
      await readFile(second.paths.serviceAccountPub, 'utf8'),
      await readFile(c.paths.serviceAccountPub, 'utf8'),
    )
    // Its admin kubeconfig really points at the second server.
    assert.match(
      await readFile(second.paths.adminKubeconfig, 'utf8'),
      new RegExp(second.url.replaceAll('.', '\\.')),
    )
  })

  it('a token minted through either API server is accepted by the other', async () => {
    const fromFirst = await mint(c.adminKubeconfig)
    const onSecond = await review(second.paths.adminKubeconfig, fromFirst)
    assert.equal(onSecond.authenticated, true)
    assert.equal(onSecond.user?.username, 'system:serviceaccount:default:token-probe')

    const fromSecond = await mint(second.paths.adminKubeconfig)
    assert.equal((await review(c.adminKubeconfig, fromSecond)).authenticated, true)
  })

  it('a token with a broken signature is refused by both', async () => {
    const token = await mint(c.adminKubeconfig)
    const [h, p, sig] = token.split('.')
    const flipped = `${h}.${p}.${sig!.slice(0, 10)}${sig![10] === 'A' ? 'B' : 'A'}${sig!.slice(11)}`
    assert.notEqual((await review(c.adminKubeconfig, flipped)).authenticated, true)
    assert.notEqual((await review(second.paths.adminKubeconfig, flipped)).authenticated, true)
  })
})
