import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  guessProfile,
  PROFILE_NAMES,
  PROFILES,
  profileFromMarker,
  profileMarker,
  profileSans,
} from '../../../../agent/pki/profiles.js'

test('the table covers every profile, and etcd certificates serve and dial', () => {
  assert.deepEqual(Object.keys(PROFILES).sort(), [...PROFILE_NAMES].sort())
  for (const name of ['etcd-peer', 'etcd-server', 'agent'] as const) {
    assert.ok(PROFILES[name].serverAuth && PROFILES[name].clientAuth, name)
  }
  assert.ok(PROFILES['etcd-peer'].san.ipRequired)
  for (const name of [
    'kubelet-client',
    'kubelet',
    'controller-manager',
    'scheduler',
    'admin',
    'etcd-client',
  ] as const) {
    assert.ok(!PROFILES[name].serverAuth && PROFILES[name].clientAuth, name)
  }
  for (const name of ['kube-apiserver', 'kubelet-serving'] as const) {
    assert.ok(PROFILES[name].serverAuth && !PROFILES[name].clientAuth, name)
  }
})

test('markers round-trip; unknown markers are ignored', () => {
  for (const name of PROFILE_NAMES) assert.equal(profileFromMarker(profileMarker(name)), name)
  assert.equal(profileFromMarker('homecloud:root'), undefined)
  assert.equal(profileFromMarker('agent'), undefined)
})

test('localhost only when asked (etcd) or always (kube-apiserver)', () => {
  assert.deepEqual(profileSans('etcd-server', { nodeId: 'n1', ips: ['10.0.0.1'] }).fixedIps, [])
  assert.deepEqual(profileSans('etcd-server', { nodeId: 'n1', localhost: true }).fixedIps, ['127.0.0.1'])
  const api = profileSans('kube-apiserver', { serviceIp: '10.43.0.1', clusterDomain: 'home.arpa' })
  assert.deepEqual(api.fixedIps, ['10.43.0.1', '127.0.0.1'])
  assert.ok(api.dnsNames.includes('kubernetes.default.svc.home.arpa'))
  assert.ok(api.dnsNames.includes('localhost'))
  assert.deepEqual(profileSans('kubelet', { nodeName: 'x', ips: ['10.0.0.1'] }), {
    dnsNames: [],
    nodeIps: [],
    fixedIps: [],
  })
})

test('certificates without our marker still get a sensible guess', () => {
  const g = (commonName: string, organizations: string[], serverAuth: boolean, clientAuth: boolean) =>
    guessProfile({ commonName, organizations, serverAuth, clientAuth })
  assert.equal(g('n1', ['homecloud:nodes'], true, true), 'agent')
  assert.equal(g('system:node:a', ['system:nodes'], true, false), 'kubelet-serving')
  assert.equal(g('system:node:a', ['system:nodes'], false, true), 'kubelet')
  assert.equal(g('homecloud-admin', ['system:masters'], false, true), 'admin')
  assert.equal(g('system:kube-scheduler', [], false, true), 'scheduler')
  assert.equal(g('kube-apiserver', [], true, false), 'kube-apiserver')
  assert.equal(g('n1', [], true, true), 'unknown')
})
