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
import { podCidrFor } from '../../../../../agent/kube/node-runner.js'
import { kubePaths } from '../../../../../agent/kube/paths.js'

const addonFiles = ['coredns.yaml', 'local-path-storage.yaml', 'metallb.yaml', 'node-proxier.yaml']

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

  it('the pod network routes the range the controller manager hands out', () => {
    const args = controllerManagerArgs({ address: '10.77.1.2', paths: kubePaths('/s') })
    assert.ok(args.includes('--allocate-node-cidrs=true'))
    assert.ok(args.includes(`--cluster-cidr=${podCidrDefault}`))
    assert.equal(podCidrFor('10.77.1.7'), '10.244.7.0/24')
  })

  it('exactly one default StorageClass', async () => {
    const classes = (await manifest('local-path-storage.yaml')).filter((o) => o.kind === 'StorageClass')
    assert.deepEqual(
      classes.map((c) => c.metadata.annotations?.['storageclass.kubernetes.io/is-default-class']),
      ['true'],
    )
  })

  it('every image is one images/addons/build.sh makes, at its pinned version, never pulled', async () => {
    const script = await readFile(join(packageRoot(), 'images', 'addons', 'build.sh'), 'utf8')
    const pin = (name: string) => new RegExp(`^${name}=(\\S+)`, 'm').exec(script)?.[1]
    const built = new Set([
      `localhost/homecloud/coredns:${pin('COREDNS_VERSION')}`,
      `localhost/homecloud/local-path-provisioner:${pin('LOCAL_PATH_VERSION')}`,
      `localhost/homecloud/metallb-controller:${pin('METALLB_VERSION')}`,
      `localhost/homecloud/metallb-speaker:${pin('METALLB_VERSION')}`,
      `localhost/homecloud/busybox:${pin('BUSYBOX_VERSION')}`,
    ])
    const seen = new Set<string>()
    for (const file of addonFiles) {
      const text = await readFile(join(packageRoot(), 'manifests', 'addons', file), 'utf8')
      const images = [...text.matchAll(/image:\s*(\S+)(?:\s+imagePullPolicy:\s*(\S+))?/g)]
      for (const [, image, policy] of images) {
        assert.ok(built.has(image!), `${file}: ${image} is not built by images/addons/build.sh`)
        assert.equal(policy, 'Never', `${file}: ${image} must never be pulled`)
        seen.add(image!)
      }
    }
    assert.deepEqual([...seen].sort(), [...built].sort(), 'every built image is used')
  })
})
