import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ClusterViewSchema } from '../../../../agent/api/cluster-schema.js'
import { buildClusterView } from '../../../../agent/api/cluster-view.js'
import type { Member } from '../../../../agent/mesh/membership.js'
import type { NodeRecordBody } from '../../../../agent/mesh/record.js'

const mac = '52:54:00:4c:01:01'
const record = (id: string, name: string, startedAtMs: number, ramOnly: boolean) =>
  ({
    clusterId: 'c1',
    id,
    publicKey: '00'.repeat(32),
    name,
    addresses: ['10.77.1.115'],
    ports: { api: 7080, tls: 7443, dht: 49737 },
    facts: {
      arch: 'amd64',
      board: 'qemu',
      memoryMB: 1,
      cores: 1,
      storageClass: 'unknown',
      fsyncP99Ms: null,
      macs: [mac],
      ...(ramOnly ? { ramOnly: true } : {}),
    },
    version: '1',
    roles: ['worker'],
    incarnation: 1,
    heartbeat: 1,
    startedAtMs,
  }) as unknown as NodeRecordBody
const member = (body: NodeRecordBody, state: Member['state']) =>
  ({ signed: { body }, state, lastHeardMs: 1, stateSinceMs: 1 }) as unknown as Member

test('a netbooted machine is listed once: its former members (dead, state in RAM) give way to the one it is now', () => {
  const view = (members: Member[]) =>
    buildClusterView({
      cluster: { id: 'c1', name: 'home' },
      self: { record: record('voter', 'pi5-1', 0, false), nowMs: 10 },
      members,
      events: [],
    }).members.map((m) => `${m.id}:${m.state}`)
  assert.deepEqual(
    view([
      member(record('boot1', 'pxe-4c0101', 1, true), 'dead'),
      member(record('boot2', 'pxe-4c0101', 2, true), 'dead'),
      member(record('boot3', 'pxe-4c0101', 3, true), 'alive'),
    ]),
    ['voter:alive', 'boot3:alive'],
  )
  // No successor yet (it is rebooting), or a node with a disk: the dead member stays listed.
  assert.deepEqual(view([member(record('boot1', 'pxe-4c0101', 1, true), 'dead')]), [
    'voter:alive',
    'boot1:dead',
  ])
  assert.deepEqual(
    view([member(record('d1', 'x86', 1, false), 'dead'), member(record('d2', 'x86', 2, false), 'alive')]),
    ['voter:alive', 'd1:dead', 'd2:alive'],
  )
})

test("a netbooted node's own state-disk line is on its self member only", () => {
  const v = buildClusterView({
    cluster: { id: 'c1', name: 'home' },
    self: {
      record: record('me', 'pxe-4c0104', 0, false),
      nowMs: 10,
      stateDisk: 'on /dev/vdb (labelled homecloud-state, 252 MiB free)',
    },
    members: [member(record('other', 'pi5-2', 1, false), 'alive')],
    events: [],
  })
  assert.equal(
    v.members.find((m) => m.self)?.stateDisk,
    'on /dev/vdb (labelled homecloud-state, 252 MiB free)',
  )
  assert.equal(v.members.find((m) => !m.self)?.stateDisk, undefined)
  assert.ok(ClusterViewSchema.safeParse(v).success)
})
