import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AgentConfig } from '../../../../agent/config/schema.js'
import { cniConflist } from '../../../../agent/kube/runtime/cni-config.js'
import { containerdConfig } from '../../../../agent/kube/runtime/containerd-config.js'
import { hasCapSysResource, rootFsType } from '../../../../agent/kube/runtime/host.js'
import { kubeProxyArgs, kubeProxyConfig } from '../../../../agent/kube/runtime/kube-proxy-config.js'
import { kubeletArgs, kubeletConfig } from '../../../../agent/kube/runtime/kubelet-config.js'
import { parseContainerdLine } from '../../../../agent/kube/runtime/node-runtime.js'
import { runtimePaths } from '../../../../agent/kube/runtime/paths.js'
import { labCgroupRoot, mountsUnder } from '../../../../lab/kubelet-node.js'

// The pure decisions behind a kubelet node: what containerd and the kubelet are told,
// read off this machine's kernel facts. The real programs run in test/cluster/kube-kubelet.

const paths = runtimePaths('/var/lib/homecloud/kube')
const host = {
  cgroupV2: true,
  canLowerOomScore: true,
  resolvConf: '/etc/resolv.conf',
  rootIsInitramfs: false,
}
const spec = {
  nodeName: 'lap-4',
  address: '10.77.1.5',
  caCert: '/s/pki/ca.crt',
  serving: { cert: '/s/pki/kubelet-serving.crt', key: '/s/pki/kubelet-serving.key' },
  kubeconfig: '/s/kube/node.kubeconfig',
  paths,
  clusterDns: '10.96.0.10',
  cgroupRoot: '/',
  host,
}

describe('kubelet node runtime (pure)', () => {
  test('CAP_SYS_RESOURCE is read from CapEff (bit 24)', () => {
    assert.equal(hasCapSysResource('Name:\tx\nCapEff:\t000001ffffffffff\n'), true)
    // This sandbox's own mask: everything but CAP_SYS_RESOURCE.
    assert.equal(hasCapSysResource('CapEff:\t000001fffeffffff\n'), false)
    assert.equal(hasCapSysResource('no caps here'), false)
  })

  test('the root filesystem type: the initramfs (rootfs) of a netbooted machine, a disk elsewhere', () => {
    assert.equal(
      rootFsType('1 1 0:2 / / rw - rootfs rootfs rw\n20 1 0:5 / /proc rw - proc proc rw'),
      'rootfs',
    )
    assert.equal(rootFsType('27 1 254:0 / / rw,relatime - ext4 /dev/vda rw'), 'ext4')
    assert.equal(rootFsType(''), null)
  })

  test('containerd: own root, state and socket; our CNI dir; the imported pause image; oom restriction only when needed', () => {
    const text = containerdConfig({
      paths,
      sandboxImage: 'registry.k8s.io/pause:3.10.2',
      cniBinDirs: ['/usr/lib/cni'],
      restrictOomScoreAdj: true,
    })
    assert.match(text, /^root = "\/var\/lib\/homecloud\/kube\/runtime\/containerd"$/m)
    assert.match(text, /address = "\/var\/lib\/homecloud\/kube\/runtime\/containerd\.sock"/)
    assert.match(text, /sandbox_image = "registry\.k8s\.io\/pause:3\.10\.2"/)
    assert.match(text, /restrict_oom_score_adj = true/)
    assert.match(text, /conf_dir = "\/var\/lib\/homecloud\/kube\/runtime\/cni"/)
    assert.match(text, /netns_mounts_under_state_dir = true/)
    const free = containerdConfig({ paths, sandboxImage: 'p:1', cniBinDirs: [], restrictOomScoreAdj: false })
    assert.match(free, /restrict_oom_score_adj = false/)
    assert.match(free, /NoPivotRoot = false/)
    const ram = containerdConfig({
      paths,
      sandboxImage: 'p:1',
      cniBinDirs: [],
      restrictOomScoreAdj: false,
      noPivotRoot: true,
    })
    assert.match(ram, /NoPivotRoot = true/)
    // A quote in a path cannot break out of its TOML string.
    const odd = containerdConfig({
      paths: runtimePaths('/x"y'),
      sandboxImage: 'p:1',
      cniBinDirs: [],
      restrictOomScoreAdj: false,
    })
    assert.match(odd, /root = "\/x\\"y\/runtime\/containerd"/)
  })

  test('kubelet: CA-checked clients only, webhook authorization, our serving certificate, no rotation', () => {
    const c = kubeletConfig(spec) as Record<string, any>
    assert.equal(c.authentication.anonymous.enabled, false)
    assert.equal(c.authentication.x509.clientCAFile, '/s/pki/ca.crt')
    assert.equal(c.authorization.mode, 'Webhook')
    assert.equal(c.tlsCertFile, '/s/pki/kubelet-serving.crt')
    assert.equal(c.rotateCertificates, false)
    assert.equal(c.readOnlyPort, 0)
    assert.equal(c.address, '10.77.1.5')
    assert.equal(c.containerRuntimeEndpoint, `unix://${paths.containerdSocket}`)
    assert.equal(c.failCgroupV1, undefined, 'cgroup v2: the upstream default stays')
    const v1 = kubeletConfig({ ...spec, host: { ...host, cgroupV2: false, resolvConf: null } }) as Record<
      string,
      any
    >
    assert.equal(v1.failCgroupV1, false)
    assert.equal(v1.resolvConf, '')
    const args = kubeletArgs(spec)
    assert.ok(args.includes('--hostname-override=lap-4'))
    assert.ok(args.includes('--node-ip=10.77.1.5'))
    assert.ok(args.includes(`--config=${paths.kubeletConfig}`))
  })

  test("CNI: one bridge on the node's own pod range", () => {
    const c = JSON.parse(cniConflist('10.244.5.0/24'))
    assert.equal(c.plugins[0].type, 'bridge')
    assert.deepEqual(c.plugins[0].ipam.ranges, [[{ subnet: '10.244.5.0/24' }]])
    assert.equal(c.plugins[0].mtu, undefined)
    // Behind the WireGuard tunnel, pods get its MTU so encrypted packets still fit the LAN.
    assert.equal(JSON.parse(cniConflist('10.244.5.0/24', 1420)).plugins[0].mtu, 1420)
  })

  test("kube-proxy: iptables mode on the node's address, the cluster's pod range, conntrack left alone", () => {
    const c = kubeProxyConfig({
      nodeName: 'x86-4',
      address: '10.77.1.5',
      kubeconfig: '/s/node.kubeconfig',
      clusterCidr: '10.244.0.0/16',
      paths,
    })
    assert.equal(c.mode, 'iptables')
    assert.equal(c.hostnameOverride, 'x86-4')
    assert.equal(c.clusterCIDR, '10.244.0.0/16')
    assert.equal(c.healthzBindAddress, '10.77.1.5:10256')
    assert.deepEqual(c.conntrack, {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: '0s',
      tcpCloseWaitTimeout: '0s',
    })
    assert.deepEqual(c.clientConnection, { kubeconfig: '/s/node.kubeconfig' })
    assert.deepEqual(kubeProxyArgs(paths), [`--config=${paths.dir}/kube-proxy.json`, '--v=1'])
  })

  test('the pod network config: encrypted by default, a bad interface name refused', () => {
    const pn = AgentConfig.parse({}).kube.podNetwork
    assert.deepEqual(pn, { encrypt: true, interface: 'hcwg0', port: 51820, mtu: 1420 })
    assert.equal(AgentConfig.safeParse({ kube: { podNetwork: { interface: 'a/b' } } }).success, false)
    assert.equal(
      AgentConfig.safeParse({ kube: { podNetwork: { interface: 'x'.repeat(16) } } }).success,
      false,
    )
  })

  test("containerd's log lines: errors and warnings keep their level, info is debug", () => {
    assert.deepEqual(parseContainerdLine('time="t" level=error msg="failed \\"x\\"" id=1'), {
      level: 'error',
      msg: 'failed \\"x\\"',
    })
    assert.equal(parseContainerdLine('time="t" level=warning msg="w"').level, 'warn')
    assert.equal(parseContainerdLine('time="t" level=info msg="i"').level, 'debug')
  })

  test('config: the pod cgroup root must be an absolute path without ..', () => {
    const ok = AgentConfig.safeParse({ kube: { runtime: { cgroupRoot: '/homecloud' } } })
    assert.ok(ok.success)
    assert.equal(AgentConfig.parse({}).kube.runtime.cgroupRoot, '/')
    for (const bad of ['homecloud', '/a/../../etc', '/a b'])
      assert.equal(AgentConfig.safeParse({ kube: { runtime: { cgroupRoot: bad } } }).success, false, bad)
    assert.equal(AgentConfig.safeParse({ kube: { runtime: { containerd: '' } } }).success, false)
    assert.equal(AgentConfig.safeParse({ kube: { runtime: { shim: 'x' } } }).success, false, 'unknown key')
  })

  test('lab cleanup: mounts under a node, deepest first; a cgroup root per lab and node', () => {
    const info = [
      '1 0 0:1 / / rw - ext4 /dev/vda rw',
      '2 1 0:2 / /tmp/lab/nodes/x/state/kube/runtime/kubelet rw - tmpfs t rw',
      '3 1 0:3 / /tmp/lab/nodes/x/state/kube/runtime/kubelet/pods/p/volumes/v rw - tmpfs t rw',
      '4 1 0:4 / /tmp/lab/nodes/x/state2/other rw - tmpfs t rw',
      '5 1 0:5 / /tmp/lab/nodes/x/state/with\\040space rw - tmpfs t rw',
    ].join('\n')
    assert.deepEqual(mountsUnder(info, '/tmp/lab/nodes/x/state'), [
      '/tmp/lab/nodes/x/state/kube/runtime/kubelet/pods/p/volumes/v',
      '/tmp/lab/nodes/x/state/kube/runtime/kubelet',
      '/tmp/lab/nodes/x/state/with space',
    ])
    assert.equal(labCgroupRoot(3, 'x86-4'), '/homecloud-lab3-x86-4')
  })
})
