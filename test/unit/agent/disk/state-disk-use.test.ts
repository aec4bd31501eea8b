import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { HomecloudError } from '../../../../agent/core/errors.js'
import {
  firstPartition,
  lsblkReportBytesMax,
  mkfsArgs,
  mountedStateProblem,
  parseBlkidExport,
  parseLsblk,
  stateDiskLine,
  stateDiskLineMax,
  stateDiskPolicy,
  stateFreeMiBMin,
  withProbes,
} from '../../../../agent/disk/state-disk-use.js'
import { disk } from './devices.js'

const MiB = 1024 * 1024
const failedWith = (re: RegExp) => (e: HomecloudError) => e.code === 'STATE_DISK_FAILED' && re.test(e.message)

describe('state disk: using the choice at netboot', () => {
  it("reads lsblk's JSON, and says clearly what is wrong with a malformed report", () => {
    const ok = JSON.stringify({
      blockdevices: [
        {
          name: 'vda',
          path: '/dev/vda',
          size: 300 * MiB,
          type: 'disk',
          rm: false,
          ro: false,
          fstype: 'ext4',
          label: 'homecloud-state',
          pttype: null,
          mountpoint: null,
        },
      ],
    })
    assert.equal(parseLsblk(ok)[0]?.label, 'homecloud-state')
    assert.throws(() => parseLsblk('lsblk: unknown column'), failedWith(/not JSON/))
    assert.throws(
      () => parseLsblk('{"blockdevices": [{"name": "vda"}]}'),
      failedWith(/blockdevices\.0\.path/),
    )
    assert.throws(() => parseLsblk('{}'), failedWith(/blockdevices/))
    assert.throws(() => parseLsblk(' '.repeat(lsblkReportBytesMax + 1)), failedWith(/over/))
  })

  it("blkid's export is read for type, label and table, and fills in only what lsblk left empty", () => {
    const p = parseBlkidExport(
      'DEVNAME=/dev/vda\nLABEL=homecloud-state\nUUID=1-2\nBLOCK_SIZE=1024\nTYPE=ext4\n',
    )
    assert.deepEqual(p, { fstype: 'ext4', label: 'homecloud-state', pttype: null })
    assert.deepEqual(parseBlkidExport('PTUUID=a\nPTTYPE=gpt\n'), { fstype: null, label: null, pttype: 'gpt' })
    assert.deepEqual(parseBlkidExport('garbage\n=\nlower=x'), { fstype: null, label: null, pttype: null })
    const dev = disk('vda', {}, 1)
    const [d] = withProbes(
      [{ ...dev, children: [{ ...dev, name: 'vda1', path: '/dev/vda1', type: 'part' }] }],
      new Map([
        ['/dev/vda', { fstype: null, label: null, pttype: 'dos' }],
        ['/dev/vda1', { fstype: 'vfat', label: 'BOOT', pttype: null }],
      ]),
    )
    assert.equal(d?.pttype, 'dos')
    assert.deepEqual([d?.children?.[0]?.fstype, d?.children?.[0]?.label], ['vfat', 'BOOT'])
    const [kept] = withProbes(
      [{ ...dev, fstype: 'xfs' }],
      new Map([['/dev/vda', { fstype: 'ext4', label: null, pttype: null }]]),
    )
    assert.equal(kept?.fstype, 'xfs', "lsblk's own answer wins when it has one")
  })

  it('the policy from the kernel command line: absent is labelled-only, anything unknown a clear error', () => {
    assert.equal(stateDiskPolicy(undefined), 'labelled-only')
    assert.equal(stateDiskPolicy(''), 'labelled-only')
    assert.equal(stateDiskPolicy('adopt-empty'), 'adopt-empty')
    assert.throws(
      () => stateDiskPolicy('adopt-anything'),
      failedWith(/not one of labelled-only, adopt-empty/),
    )
  })

  it('an adopted disk gets one partition, named as the kernel names it, formatted ext4 labelled homecloud-state', () => {
    assert.equal(firstPartition('/dev/vdb'), '/dev/vdb1')
    assert.equal(firstPartition('/dev/sda'), '/dev/sda1')
    assert.equal(firstPartition('/dev/nvme0n1'), '/dev/nvme0n1p1')
    assert.equal(firstPartition('/dev/mmcblk0'), '/dev/mmcblk0p1')
    assert.deepEqual(mkfsArgs('/dev/vdb1'), ['-q', '-F', '-t', 'ext4', '-L', 'homecloud-state', '/dev/vdb1'])
  })

  it('a mounted state filesystem that is full, or holds another cluster, is not used', () => {
    const m = { path: '/dev/vda', freeBytes: 200 * MiB, clusterOnDisk: null, clusterId: 'c1' }
    assert.equal(mountedStateProblem(m), null)
    assert.equal(mountedStateProblem({ ...m, clusterOnDisk: 'c1' }), null)
    assert.match(
      mountedStateProblem({ ...m, freeBytes: (stateFreeMiBMin - 1) * MiB }) ?? '',
      /\/dev\/vda is full \(63 MiB free, the agent and etcd need at least 64 MiB\)/,
    )
    assert.match(mountedStateProblem({ ...m, freeBytes: 0 }) ?? '', /is full \(0 MiB free/)
    assert.match(
      mountedStateProblem({ ...m, clusterOnDisk: 'c2' }) ?? '',
      /holds the state of cluster c2.*into c1/,
    )
  })

  it('one line says which disk holds the state or why none, safe to put in JSON from a shell', () => {
    assert.equal(
      stateDiskLine({ kind: 'disk', path: '/dev/vda', how: 'labelled', freeBytes: 250 * MiB, member: true }),
      'on /dev/vda (labelled homecloud-state, 250 MiB free); this node was here before: same key, certificate and name',
    )
    assert.equal(
      stateDiskLine({ kind: 'disk', path: '/dev/vdb1', how: 'adopted', freeBytes: 250 * MiB, member: false }),
      'on /dev/vdb1 (adopted, made homecloud-state, 250 MiB free)',
    )
    const ram = stateDiskLine({ kind: 'ram-only', why: ['refused: "a"\nb\\c', 'x'.repeat(1000)] })
    assert.match(ram, /^in RAM \(lost at power-off; never an etcd seat\): refused: +a b c; x+…$/)
    assert.equal(ram.length, stateDiskLineMax)
    assert.doesNotMatch(ram, /["\\\n]/)
  })
})
