import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { waitFor } from '../support/etcd-lab.js'
import { KubeTestCluster } from '../support/kube-cluster.js'

// The upstream control plane as homecloud configures it (agent/kube args, certificates,
// the derived service-account key, kwok stages and RBAC), with no agent around it: real
// etcd, kube-apiserver, controller manager, scheduler and one kwok per node.

describe('Kubernetes control plane from agent/kube', { timeout: 300_000 }, () => {
  let c: KubeTestCluster
  before(async () => {
    c = await KubeTestCluster.create({ block: 241 })
    await c.addNode({ name: 'arm1', arch: 'arm64', board: 'pi4' }, 1)
    await c.addNode({ name: 'x86a', arch: 'amd64', board: 'x86' }, 2)
  })
  after(async () => {
    await c?.cleanup()
  })

  it('nodes register themselves and kwok makes them Ready', async () => {
    await waitFor('two Ready nodes', 120_000, async () => {
      const r = await c.kubectl(['get', 'nodes', '-o', 'json'])
      if (r.exitCode !== 0) return false
      const items = JSON.parse(r.stdout).items as {
        status: { conditions?: { type: string; status: string }[] }
      }[]
      return (
        items.length === 2 &&
        items.every((n) => n.status.conditions?.some((k) => k.type === 'Ready' && k.status === 'True'))
      )
    })
    const r = await c.kubectl(['get', 'node', 'arm1', '-o', 'jsonpath={.metadata.labels}'])
    const labels = JSON.parse(r.stdout) as Record<string, string>
    assert.equal(labels['kubernetes.io/arch'], 'arm64')
    assert.equal(labels['homecloud.dev/board'], 'pi4')
  })

  it('a Deployment is scheduled and Running, with service-account tokens signed by the derived key', async () => {
    const created = await c.kubectl([
      'create',
      'deployment',
      'web',
      '--image=registry.invalid/web',
      '--replicas=4',
    ])
    assert.equal(created.exitCode, 0, created.stderr)
    await waitFor('4 Running pods', 120_000, async () => {
      const r = await c.kubectl(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].status.phase}'])
      return r.stdout.split(' ').filter((p) => p === 'Running').length === 4
    })
    // The token controller and the API server agree on the key: a token is minted and accepted.
    const token = await c.kubectl(['create', 'token', 'default'])
    assert.equal(token.exitCode, 0, token.stderr)
    const review = await c.kubectl(
      ['create', '-o', 'jsonpath={.status.authenticated}', '-f', '-'],
      JSON.stringify({
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token: token.stdout.trim() },
      }),
    )
    assert.equal(review.stdout, 'true', review.stderr)
  })

  it('a node identity may not register or label another node', async () => {
    const r = await c.kubectlAs('arm1', ['label', 'node', 'x86a', 'stolen=yes'])
    assert.notEqual(r.exitCode, 0)
    assert.match(r.stderr, /forbidden/i)
  })
})
