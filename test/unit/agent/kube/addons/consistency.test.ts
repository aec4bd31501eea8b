import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { packageRoot } from '../../../../../agent/core/package-root.js'
import { splitManifest } from '../../../../../agent/kube/addons/documents.js'
import {
  clusterDnsDefault,
  controllerManagerArgs,
  podCidrDefault,
  serviceCidrDefault,
} from '../../../../../agent/kube/args.js'
import { kubePaths } from '../../../../../agent/kube/paths.js'

// The add-on manifests and the component command lines must agree on the addresses.

interface Loose {
  kind: string
  metadata: { annotations?: Record<string, string> }
  spec: { clusterIP?: string }
  data: Record<string, string>
}

const manifest = async (file: string): Promise<Loose[]> =>
  splitManifest(file, await readFile(join(packageRoot(), 'manifests', 'addons', file), 'utf8')).docs.map(
    (d) => d.object as unknown as Loose,
  )

describe('add-ons agree with the control plane', () => {
  it('CoreDNS sits at the cluster DNS address inside the service range', async () => {
    const svc = (await manifest('coredns.yaml')).find((o) => o.kind === 'Service')!
    assert.equal(svc.spec.clusterIP, clusterDnsDefault)
    assert.equal(serviceCidrDefault, '10.96.0.0/16')
    assert.ok(clusterDnsDefault.startsWith('10.96.'))
  })

  it('flannel routes the pod network the controller manager hands out', async () => {
    const cm = (await manifest('flannel.yaml')).find((o) => o.kind === 'ConfigMap')!
    const net = JSON.parse(cm.data['net-conf.json'] ?? '{}')
    assert.equal(net.Network, podCidrDefault)
    assert.equal(net.Backend.Type, 'host-gw')
    const args = controllerManagerArgs({ address: '10.77.1.2', paths: kubePaths('/s') })
    assert.ok(args.includes('--allocate-node-cidrs=true'))
    assert.ok(args.includes(`--cluster-cidr=${podCidrDefault}`))
  })

  it('exactly one default StorageClass', async () => {
    const classes = (await manifest('local-path-storage.yaml')).filter((o) => o.kind === 'StorageClass')
    assert.deepEqual(
      classes.map((c) => c.metadata.annotations?.['storageclass.kubernetes.io/is-default-class']),
      ['true'],
    )
  })

  it('every image is pinned to a version', async () => {
    for (const file of ['coredns.yaml', 'flannel.yaml', 'local-path-storage.yaml']) {
      const text = await readFile(join(packageRoot(), 'manifests', 'addons', file), 'utf8')
      const images = [...text.matchAll(/image:\s*(\S+)/g)].map((m) => m[1]!)
      assert.ok(images.length > 0, file)
      for (const image of images) assert.match(image, /:v?\d+\.\d+\.\d+[\w.-]*$/, `${file}: ${image}`)
    }
  })
})
