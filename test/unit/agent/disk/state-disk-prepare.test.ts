import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { manualClock, systemClock } from '../../../../agent/core/clock.js'
import type { BlockDevice } from '../../../../agent/disk/state-disk.js'
import { type Exec, prepareStateDisk } from '../../../../agent/disk/state-disk-prepare.js'
import { disk as anyDisk, GiB } from './devices.js'

// The shell around the choice, with the tools answered here: which tools it runs, in which
// order, and that every failure ends RAM-only with its reason. The real tools on real
// disks: every netbooted VM in the cluster tests runs them (no disks: RAM-only); a VM with a
// labelled, a data and a blank disk is on branch statedisk-vmtest, not yet green.

const disk = (name: string, extra: Partial<BlockDevice> = {}) => anyDisk(name, extra, GiB)

const dirs: string[] = []
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

/** `probes`: what blkid finds per device (KEY=VALUE text); others: nothing (exit 2). Calls to blkid are not listed. */
function fakeTools(
  devices: BlockDevice[] | string,
  fail: Record<string, string> = {},
  probes: Record<string, string> = {},
) {
  const calls: string[] = []
  const exec: Exec = async (cmd, args) => {
    if (fail[cmd] !== undefined) return { exitCode: 1, stdout: '', stderr: fail[cmd] }
    if (cmd === 'blkid') {
      const found = probes[args.at(-1)!]
      return found === undefined
        ? { exitCode: 2, stdout: '', stderr: '' }
        : { exitCode: 0, stdout: found, stderr: '' }
    }
    calls.push(`${cmd} ${args.join(' ')}`)
    const stdout =
      cmd === 'lsblk'
        ? typeof devices === 'string'
          ? devices
          : JSON.stringify({ blockdevices: devices })
        : ''
    return { exitCode: 0, stdout, stderr: '' }
  }
  return { exec, calls }
}

async function stateDir(cluster?: string, member = false): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'hc-statedisk-'))
  dirs.push(d)
  if (cluster) await writeFile(join(d, 'cluster.json'), JSON.stringify({ v: 1, id: cluster, name: 'home' }))
  if (member) {
    await mkdir(join(d, 'pki'))
    await writeFile(join(d, 'pki', 'node.crt'), 'cert')
  }
  return d
}

const input = async (
  exec: Exec,
  over: { cluster?: string; member?: boolean; policy?: 'adopt-empty' } = {},
) => ({
  stateDir: await stateDir(over.cluster, over.member),
  policy: over.policy ?? ('labelled-only' as const),
  clusterId: '0123456789abcdef',
  exec,
  clock: systemClock(),
  say: () => {},
})

describe('state disk: preparing it at netboot', () => {
  it('a labelled filesystem is mounted on the state directory; a node certificate there means the same node', async () => {
    const t = fakeTools([
      disk('vda', { fstype: 'ext4', label: 'homecloud-state' }),
      disk('vdb', { fstype: 'xfs' }),
    ])
    const i = await input(t.exec, { cluster: '0123456789abcdef', member: true })
    const o = await prepareStateDisk(i)
    assert.equal(o.kind, 'disk')
    assert.ok(o.kind === 'disk' && o.path === '/dev/vda' && o.how === 'labelled' && o.member)
    assert.deepEqual(t.calls.slice(1), [`mount -t ext4 -o noatime /dev/vda ${i.stateDir}`])
  })

  it('an empty disk under adopt-empty is partitioned and formatted, then mounted; the data disk is never touched', async () => {
    const t = fakeTools([disk('vdb', { fstype: 'ext4' }), disk('vdc')])
    const i = await input(t.exec, { policy: 'adopt-empty' })
    let looked = 0
    // The kernel shows the new partition's device node a moment after sfdisk.
    const o = await prepareStateDisk({ ...i, exists: async (p) => p === '/dev/vdc1' && ++looked > 2 })
    assert.ok(o.kind === 'disk' && o.path === '/dev/vdc1' && o.how === 'adopted' && !o.member)
    assert.deepEqual(t.calls.slice(1), [
      'sfdisk --quiet --wipe always /dev/vdc',
      'mke2fs -q -F -t ext4 -L homecloud-state /dev/vdc1',
      `mount -t ext4 -o noatime /dev/vdc1 ${i.stateDir}`,
    ])
    assert.ok(!t.calls.some((c) => c.includes('vdb')), 'the disk holding data is not named to any tool')
    // Under labelled-only the same machine stays in RAM and says why.
    const asked = await prepareStateDisk(await input(fakeTools([disk('vdc')]).exec))
    assert.match(
      asked.kind === 'ram-only' ? asked.why.join('; ') : '',
      /vdc is empty, but the policy adopts no disk/,
    )
  })

  it('a partition that never shows up, or a failing mkfs, ends RAM-only with the reason', async () => {
    const clock = manualClock()
    const t = fakeTools([disk('vdc')])
    const i = await input(t.exec, { policy: 'adopt-empty' })
    const never = prepareStateDisk({ ...i, clock, exists: async () => false })
    for (let k = 0; k < 100; k++) {
      await new Promise((r) => setImmediate(r))
      clock.advance(200)
    }
    const o = await never
    assert.match(
      o.kind === 'ram-only' ? o.why[0]! : '',
      /\/dev\/vdc1 did not appear after partitioning \/dev\/vdc/,
    )
    const full = fakeTools([disk('vdc')], { mke2fs: 'No space left on device' })
    const f = await prepareStateDisk({
      ...(await input(full.exec, { policy: 'adopt-empty' })),
      exists: async () => true,
    })
    assert.match(
      f.kind === 'ram-only' ? f.why[0]! : '',
      /mke2fs .* failed \(exit 1\): No space left on device/,
    )
    assert.ok(!full.calls.some((c) => c.startsWith('mount')))
  })

  it("without udev's database lsblk knows no filesystems: blkid's probe finds them, so data stays untouched", async () => {
    // As in the initramfs: lsblk lists the disks with no type or label.
    const t = fakeTools(
      [disk('vda'), disk('vdb'), disk('vdc')],
      {},
      {
        '/dev/vda': 'DEVNAME=/dev/vda\nLABEL=photos\nTYPE=ext4\n',
        '/dev/vdb': 'DEVNAME=/dev/vdb\nLABEL=homecloud-state\nUUID=x\nTYPE=ext4\n',
      },
    )
    const i = await input(t.exec, { policy: 'adopt-empty' })
    const o = await prepareStateDisk(i)
    assert.ok(o.kind === 'disk' && o.path === '/dev/vdb' && o.how === 'labelled')
    assert.deepEqual(t.calls.slice(1), [`mount -t ext4 -o noatime /dev/vdb ${i.stateDir}`])
    const noLabel = fakeTools([disk('vda'), disk('vdc')], {}, { '/dev/vda': 'PTUUID=y\nPTTYPE=gpt\n' })
    const adopted = await prepareStateDisk({
      ...(await input(noLabel.exec, { policy: 'adopt-empty' })),
      exists: async () => true,
    })
    assert.ok(
      adopted.kind === 'disk' && adopted.path === '/dev/vdc1',
      'the disk with a partition table is not the one adopted',
    )
    const broken = fakeTools([disk('vda')], { blkid: 'I/O error' })
    const b = await prepareStateDisk(await input(broken.exec))
    assert.match(b.kind === 'ram-only' ? b.why[0]! : '', /blkid -p \/dev\/vda failed \(exit 1\): I\/O error/)
  })

  it('every failure boots RAM-only with its reason: bad report, refused choice, mount, full or foreign state', async () => {
    const cases: [ReturnType<typeof fakeTools>, { cluster?: string }, RegExp][] = [
      [fakeTools('not json'), {}, /lsblk's report is not usable: not JSON/],
      [
        fakeTools([], { lsblk: 'lsblk: failed to access sysfs' }),
        {},
        /lsblk -J .* failed \(exit 1\): lsblk: failed to access sysfs/,
      ],
      [
        fakeTools([
          disk('vda', { fstype: 'ext4', label: 'homecloud-state' }),
          disk('vdb', { fstype: 'ext4', label: 'homecloud-state' }),
        ]),
        {},
        /refused: \/dev\/vda and \/dev\/vdb are all labelled homecloud-state/,
      ],
      [
        fakeTools([disk('vda', { fstype: 'ext4', label: 'homecloud-state', ro: true })]),
        {},
        /refused: .*read-only/,
      ],
      [
        fakeTools([disk('vda', { fstype: 'ext4', label: 'homecloud-state' })], { mount: 'wrong fs type' }),
        {},
        /mount .* failed.*wrong fs type/,
      ],
      [
        fakeTools([disk('vda', { fstype: 'ext4', label: 'homecloud-state' })]),
        { cluster: 'fedcba9876543210' },
        /holds the state of cluster fedcba9876543210/,
      ],
      [fakeTools([disk('vdb', { fstype: 'ext4' })]), {}, /\/dev\/vdb holds data \(ext4\)/],
    ]
    for (const [t, over, want] of cases) {
      const o = await prepareStateDisk(await input(t.exec, over))
      assert.equal(o.kind, 'ram-only', String(want))
      assert.match(o.kind === 'ram-only' ? o.why.join('; ') : '', want)
    }
    // A foreign state was mounted, then unmounted again before the node went on in RAM.
    const foreign = fakeTools([disk('vda', { fstype: 'ext4', label: 'homecloud-state' })])
    const i = await input(foreign.exec, { cluster: 'fedcba9876543210' })
    await prepareStateDisk(i)
    assert.equal(foreign.calls.at(-1), `umount ${i.stateDir}`)
  })
})
