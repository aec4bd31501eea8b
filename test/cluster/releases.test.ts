import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { execa } from 'execa'
import { systemClock } from '../../agent/core/clock.js'
import { createCa } from '../../agent/pki/ca.js'
import { Bitfield } from '../../agent/release/bitfield.js'
import { checkReleaseFiles, readReleaseDir } from '../../agent/release/dir.js'
import { DOWNLOAD_BYTES } from '../../agent/release/exchange.js'
import {
  generateReleaseKey,
  type ReleaseKey,
  readReleaseKey,
  SIGNATURE_FILE,
  signManifest,
} from '../../agent/release/signature.js'
import { adminCall, adminCallAt } from '../../cli/admin-client.js'
import { publishRelease } from '../../cli/release-publish.js'
import { KEYS_KEY, signCaRecord, withKey } from '../../control/releases/records.js'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import { labAdd, labPlug, labUnplug } from '../../lab/launcher.js'
import { labReleaseKeyFile, waitNodesHold } from '../../lab/netboot/release.js'
import { shapeLink, unshapeLink } from '../../lab/netns/index.js'
import { labNetworkAdapter } from '../../lab/network.js'
import { spawnLabProcess } from '../../lab/processes.js'
import { waitFor } from '../../lab/wait.js'
import { etcdClientWith } from '../support/controlplane.js'
import { onCleanup, startLab, TEST_MESH, view } from '../support/lab.js'
import { addTestVm, consoleText, servedBy } from '../support/netboot.js'
import {
  checkHeldPieces,
  counter,
  fillDisk,
  makeSignedRelease,
  memberClientConfig,
  releasesOf,
} from '../support/releases.js'

// Releases for real (issue 13): one namespace lab of six agents (three ARM voters,
// three x86) whose netboot image came as a release published to x86-6. Each check
// below uses that lab: a 100 MB release spreads to all six from one upload; bad
// releases and a non-admin key change are refused with nothing written; the origin of
// a release is unplugged halfway and the rest finish from each other; a rogue member
// serves corrupted pieces and is dropped; and a VM netboots, after x86-6 is gone, from
// a node that got the image only from its peers. Needs root (namespaces, taps, qemu).
const root = process.getuid?.() === 0
const MB = 1_000_000

describe('releases: signed, spread peer to peer, served by every node', {
  skip: !root && 'needs root for namespaces, taps, dnsmasq and qemu',
}, () => {
  let lab: LabFile
  let key: ReleaseKey
  let admin: string
  /** The rogue check's release: the newest candidate before the full-disk check's, which x86-5 must keep. */
  let rogueRelease: { id: string; bytes: number } | undefined
  const node = (name: string): LabNode => lab.nodes.find((n) => n.name === name)!
  const storeDir = (n: LabNode, id: string) => join(n.stateDir, 'releases', 'store', id)
  const checks: [string, () => Promise<void>][] = []
  const alive = () => lab.nodes.filter((n) => n.name !== 'x86-4' && n.name !== 'x86-7')

  const setUp = async () => {
    lab = await startLab({
      boards: 'pi5,pi5,pi4,x86,x86,x86',
      netns: true,
      netboot: true,
      kube: false,
      releaseOrigin: 'x86-6',
      firstIndex: 150,
      timeoutMs: 600_000,
    })
    key = await readReleaseKey(labReleaseKeyFile(lab.dir))
    admin = join(lab.dir, 'admin.json')
  }

  checks.push([
    'a 100 MB release published to one node ends complete and verified on all six',
    async () => {
      // The lab's own release (the netboot image) already went from x86-6 to the others.
      const labRelease = lab.netboot!.releaseId!
      for (const n of lab.nodes) {
        const v = await releasesOf(n)
        assert.ok(
          v.local.held.some((h) => h.id === labRelease && h.have === h.of),
          `${n.name} holds the lab release`,
        )
        assert.equal(v.current.amd64?.id, labRelease)
      }
      const big = await makeSignedRelease(join(lab.dir, 'r-big'), key, {
        version: 'big',
        from: lab.netboot!.imageDir,
        padBytes: 40 * 1024 * 1024,
      })
      assert.ok(big.bytes >= 100 * MB, `${big.bytes} bytes`)
      const start = performance.now()
      await publishRelease({ admin, dir: big.dir, node: 'x86-5' })
      await waitNodesHold(lab, big.id, { timeoutMs: 600_000 })
      const uploaded = (await releasesOf(node('x86-5'))).local.uploadedBytes[big.id] ?? 0
      console.log(
        `# ${(big.bytes / MB).toFixed(1)} MB on 6 nodes in ${((performance.now() - start) / 1000).toFixed(1)} s; origin uploaded ${(uploaded / MB).toFixed(1)} MB (${(uploaded / big.bytes).toFixed(2)} × the release)`,
      )
      for (const n of lab.nodes) await checkReleaseFiles(await readReleaseDir(storeDir(n, big.id)))
      // `release list`: the holders' records name all six (each node writes its own every few seconds).
      await waitFor(
        async () => {
          const list = (await releasesOf(node('pi5-1'))).releases.find((r) => r.id === big.id)
          return list?.completeOn.length === 6 ? true : `complete on ${list?.completeOn}`
        },
        { timeoutMs: 30_000 },
      )
    },
  ])

  checks.push([
    'unsigned, forged, untrusted, tampered, unknown-architecture releases and truncated pieces are refused, nothing written',
    async () => {
      const target = node('pi5-2')
      const url = `https://${target.address}:7443`
      // Each refusal is the node's own answer to the upload's first request (the CLI checks nothing first).
      const refusedWith = async (dir: string, code: string) => {
        const bytes = await readFile(join(dir, 'manifest.json'))
        const sig = await readFile(join(dir, SIGNATURE_FILE), 'utf8')
        const r = await adminCallAt(admin, url, 'POST', '/api/v1/releases', {
          manifest: bytes.toString('base64'),
          sig,
        })
        assert.equal(r.body.error, code, JSON.stringify(r.body))
        assert.ok(r.status >= 400 && r.status < 500, `${code}: HTTP ${r.status}`)
        const id = createHash('sha256').update(bytes).digest('hex')
        assert.equal(existsSync(storeDir(target, id)), false, `${code}: nothing of ${id} stored`)
      }
      const base = await makeSignedRelease(join(lab.dir, 'r-bad'), key, { version: 'bad' })
      const manifest = await readFile(join(base.dir, 'manifest.json'))
      const sigFile = join(base.dir, SIGNATURE_FILE)
      const sign = async (bytes: Buffer, k: ReleaseKey, as = k.publicHex) =>
        writeFile(sigFile, JSON.stringify({ ...signManifest(bytes, k), key: as }))
      const stranger = generateReleaseKey()
      await sign(manifest, stranger)
      await refusedWith(base.dir, 'RELEASE_KEY_UNTRUSTED')
      await sign(manifest, stranger, key.publicHex)
      await refusedWith(base.dir, 'RELEASE_SIGNATURE_INVALID')
      await writeFile(sigFile, '')
      await refusedWith(base.dir, 'RELEASE_UNSIGNED')
      await sign(manifest, key)
      const tampered = Buffer.from(manifest.toString().replace('"version": "bad"', '"version": "good"'))
      await writeFile(join(base.dir, 'manifest.json'), tampered)
      await refusedWith(base.dir, 'RELEASE_SIGNATURE_INVALID')
      const riscv = Buffer.from(manifest.toString().replace('"arch": "amd64"', '"arch": "riscv64"'))
      await writeFile(join(base.dir, 'manifest.json'), riscv)
      await sign(riscv, key)
      await refusedWith(base.dir, 'RELEASE_ARCH_UNKNOWN')
      // A truncated piece of a good release: refused, the piece not held.
      await writeFile(join(base.dir, 'manifest.json'), manifest)
      await sign(manifest, key)
      const up = await adminCallAt(admin, url, 'POST', '/api/v1/releases', {
        manifest: manifest.toString('base64'),
        sig: await readFile(sigFile, 'utf8'),
      })
      assert.equal(up.status, 200)
      // Piece 0 is the start of initrd.img (files in name order).
      const whole = await readFile(join(base.dir, 'initrd.img'))
      const cut = await adminCallAt(
        admin,
        url,
        'PUT',
        `/api/v1/releases/${base.id}/pieces/0`,
        whole.subarray(0, 1000),
      )
      assert.equal(cut.status, 400)
      assert.equal(cut.body.error, 'RELEASE_PIECE_INVALID')
      const held = (await releasesOf(target)).local.held.find((h) => h.id === base.id)
      assert.equal(held?.have, 0)
    },
  ])

  checks.push([
    'only an admin changes the trusted keys; a member replaying an older key set in etcd is refused',
    async () => {
      const k2 = generateReleaseKey()
      const added = await adminCall(admin, 'POST', '/api/v1/releases/keys', { key: k2.publicHex })
      assert.equal(added.status, 200, JSON.stringify(added.body))
      const v2 = Number(added.body.keysVersion)
      const member = await memberClientConfig(lab, node('x86-5'), node('pi5-1'))
      const denied = await adminCallAt(
        member,
        `https://${node('pi5-1').address}:7443`,
        'POST',
        '/api/v1/releases/keys',
        {
          key: generateReleaseKey().publicHex,
        },
      )
      assert.equal(denied.status, 403)
      // A node that may write etcd (since etcd-auth only members and the admin can) writes
      // the founding key set (older, without k2), then one signed by another CA.
      const etcd = await etcdClientWith(
        lab.nodes[0]!.stateDir,
        ['pi5-1', 'pi5-2', 'pi4-3'].map((n) => `https://${node(n).address}:2379`),
      )
      // Every node reads the records every 2 s: here the replay comes after each has read v2
      // (a replay before a node's next read is release-records.test.ts's case).
      await waitFor(
        async () => {
          for (const n of alive()) {
            const v = await releasesOf(n)
            if (v.keysVersion !== v2) return `${n.name} has not read version ${v2} yet: ${v.keysVersion}`
          }
          return true
        },
        { timeoutMs: 30_000 },
      )
      const initial = await readFile(join(node('pi5-1').stateDir, 'releases', 'initial-keys.json'), 'utf8')
      await etcd.put(KEYS_KEY, initial)
      await waitFor(
        async () => {
          for (const n of alive()) {
            const v = await releasesOf(n)
            if (v.keysVersion !== v2 || !v.problems.some((x) => x.includes('older than version')))
              return `${n.name}: ${v.keysVersion} ${v.problems}`
          }
          return true
        },
        { timeoutMs: 30_000 },
      )
      const evil = createCa({ clusterId: lab.clusterId, clusterName: 'evil', clock: systemClock() })
      await etcd.put(
        KEYS_KEY,
        signCaRecord(
          'release-keys',
          withKey(null, lab.clusterId, generateReleaseKey().publicHex, 1),
          evil.keyPem,
        ),
      )
      await waitFor(
        async () =>
          (await releasesOf(node('x86-6'))).problems.some((x) =>
            x.includes("not signed by this cluster's CA"),
          )
            ? true
            : 'not refused yet',
        { timeoutMs: 30_000 },
      )
      assert.equal((await releasesOf(node('x86-6'))).keysVersion, v2)
      etcd.close()
      // The admin writes the key set again: the next version, above anything seen.
      const again = await adminCall(admin, 'POST', '/api/v1/releases/keys', { key: k2.publicHex })
      assert.equal(Number(again.body.keysVersion), v2 + 1)
    },
  ])

  checks.push([
    'the origin unplugged halfway: the others finish from each other',
    async () => {
      const r = await makeSignedRelease(join(lab.dir, 'r-half'), key, {
        version: 'half',
        padBytes: 80 * 1024 * 1024,
      })
      const others = alive().filter((n) => n.name !== 'x86-4')
      await publishRelease({ admin, dir: r.dir, node: 'x86-4' })
      let progress = ''
      await waitFor(
        async () => {
          const held = await Promise.all(
            others.map(async (n) => (await releasesOf(n)).local.held.find((h) => h.id === r.id)),
          )
          if (held.some((h) => !h)) return 'not started everywhere'
          const of = held[0]!.of
          const union = new Bitfield(of)
          for (const h of held)
            for (let i = 0; i < of; i++) if (Bitfield.fromBase64(of, h!.bits).has(i)) union.set(i)
          progress = held.map((h) => `${h!.have}/${of}`).join(' ')
          return union.complete() ? true : `union ${union.count()}/${of}`
        },
        { timeoutMs: 300_000, intervalMs: 100 },
      )
      await labUnplug(lab.dir, 'x86-4')
      console.log(`# origin unplugged with the others at ${progress}`)
      assert.ok(
        progress.split(' ').some((x) => x.split('/')[0] !== x.split('/')[1]),
        'someone was still fetching',
      )
      await waitNodesHold(lab, r.id, { timeoutMs: 300_000, names: others.map((n) => n.name) })
    },
  ])

  checks.push([
    'a rogue member serving corrupted pieces is dropped; nothing corrupt is stored',
    async () => {
      const rogue = await labAdd(lab.dir, 'x86', {
        agentConfig: { mesh: TEST_MESH, releases: { enabled: false } },
      })
      lab.nodes.push(rogue)
      const r = await makeSignedRelease(join(lab.dir, 'r-rogue'), key, {
        version: 'rogue',
        padBytes: 40 * 1024 * 1024,
      })
      rogueRelease = r
      const peers = alive()
        .filter((n) => n.name !== rogue.name)
        .map((n) => `${n.key}@${n.address}`)
      const log = join(lab.dir, 'rogue.log')
      spawnLabProcess(
        lab.dir,
        'ip',
        [
          'netns',
          'exec',
          labNetworkAdapter.namespace(lab.index, rogue.slot),
          process.execPath,
          '--import',
          'tsx',
          join(import.meta.dirname, '../support/rogue-release-peer.ts'),
          rogue.stateDir,
          rogue.address,
          '7082',
          lab.clusterId,
          r.dir,
          peers.join(','),
        ],
        log,
      )
      await waitFor(
        async () =>
          (await readFile(log, 'utf8').catch(() => '')).includes('rogue provider up')
            ? true
            : 'rogue starting',
        { timeoutMs: 60_000 },
      )
      const before = (
        await Promise.all(alive().map((n) => counter(n, 'homecloud_release_bad_pieces_total')))
      ).reduce((a, b) => a + b, 0)
      await publishRelease({ admin, dir: r.dir, node: 'pi5-1' })
      await waitNodesHold(lab, r.id, {
        timeoutMs: 300_000,
        names: alive()
          .filter((n) => n.name !== rogue.name)
          .map((n) => n.name),
      })
      const after = (
        await Promise.all(alive().map((n) => counter(n, 'homecloud_release_bad_pieces_total')))
      ).reduce((a, b) => a + b, 0)
      assert.ok(after > before, `bad pieces counted: ${before} → ${after}`)
      assert.match(await readFile(log, 'utf8'), /served a corrupted piece/)
      for (const n of alive().filter((x) => x.name !== rogue.name))
        await checkReleaseFiles(await readReleaseDir(storeDir(n, r.id)))
    },
  ])

  checks.push([
    'a full disk: a clear error, held releases intact, and the download resumes where it stopped once there is room',
    async () => {
      const n = node('x86-5')
      const labRelease = lab.netboot!.releaseId!
      await labUnplug(lab.dir, n.name)
      // x86-5's store moves onto a tmpfs holding only what it must keep once this check's
      // release is published — the current release (72 MB) and the rogue check's, the
      // other newest candidate (44 MB) — and 32 MB more, too little for the new one.
      const store = join(n.stateDir, 'releases', 'store')
      const keptMiB = 72 + Math.ceil(rogueRelease!.bytes / 2 ** 20)
      await rename(store, `${store}.aside`)
      await mkdir(store)
      await execa('mount', ['-t', 'tmpfs', '-o', `size=${keptMiB + 28}m`, 'tmpfs', store])
      onCleanup(async () => void (await execa('umount', ['-l', store], { reject: false })))
      for (const id of [labRelease, rogueRelease!.id])
        await cp(join(`${store}.aside`, id), join(store, id), { recursive: true })
      await labPlug(lab.dir, n.name)
      await waitFor(async () => ((await releasesOf(n).catch(() => null)) ? true : `${n.name} starting`), {
        timeoutMs: 60_000,
      })
      const r = await makeSignedRelease(join(lab.dir, 'r-full'), key, {
        version: 'full',
        padBytes: 60 * 1024 * 1024,
      })
      await publishRelease({ admin, dir: r.dir, node: 'pi5-1' })
      // No room to start it: said by x86-5, seen by the others, on the status page.
      const needs = `needs ${(r.bytes / 1e6).toFixed(1)} MB`
      await waitFor(
        async () => {
          const own = (await releasesOf(n)).local.problem ?? ''
          const seen = (await releasesOf(node('pi5-1'))).problems.some(
            (p) => p.startsWith(`${n.name}:`) && p.includes(needs),
          )
          return own.includes(needs) && seen ? true : `x86-5 says "${own}", others see it: ${seen}`
        },
        { timeoutMs: 120_000 },
      )
      const page = await (await fetch(`http://${node('pi5-1').address}:7080/`)).text()
      assert.match(page, new RegExp(`x86-5: release store .* ${needs}`))
      const whole = async () => {
        const held = (await releasesOf(n)).local.held.find((h) => h.id === labRelease)
        assert.equal(held?.have, held?.of, 'the current release is still whole')
        await checkReleaseFiles(await readReleaseDir(join(store, labRelease)))
      }
      await whole()
      // Room to start (50 MB more), then the disk fills up in the middle of the download.
      // x86-5's link is slowed to 40 Mbit/s, so the test sees the download part-way
      // however fast this machine is.
      await shapeLink(lab.index, n.slot, 40)
      onCleanup(() => unshapeLink(lab.index, n.slot).catch(() => {}))
      const fetchedBefore = await counter(n, DOWNLOAD_BYTES)
      await execa('mount', ['-o', `remount,size=${keptMiB + 78}m`, store])
      const heldOf = async () => (await releasesOf(n)).local.held.find((h) => h.id === r.id)
      await waitFor(async () => ((await heldOf())?.have ?? 0) >= 2 || 'not started', {
        timeoutMs: 120_000,
        intervalMs: 100,
      })
      const filler = join(store, '.filler')
      await fillDisk(filler)
      await waitFor(
        async () => {
          const own = (await releasesOf(n)).local.problem ?? ''
          const seen = (await releasesOf(node('pi5-1'))).problems.some((p) => p.startsWith(`${n.name}:`))
          return own.includes('full') && seen ? true : `x86-5 says "${own}", others see it: ${seen}`
        },
        { timeoutMs: 120_000 },
      )
      const stuck = (await heldOf())!
      assert.ok(stuck.have < stuck.of, `stopped part-way: ${stuck.have}/${stuck.of}`)
      assert.equal(
        await checkHeldPieces(join(store, r.id)),
        stuck.have,
        'every piece it says it holds is whole',
      )
      await whole()
      console.log(`# x86-5's disk filled up at ${stuck.have}/${stuck.of} pieces`)
      await rm(filler)
      await waitNodesHold(lab, r.id, { timeoutMs: 300_000, names: [n.name] })
      assert.equal((await releasesOf(n)).local.problem, null)
      await checkReleaseFiles(await readReleaseDir(join(store, r.id)))
      // Resumed, not started over: what it fetched adds up to one copy.
      const fetched = (await counter(n, DOWNLOAD_BYTES)) - fetchedBefore
      assert.ok(fetched <= r.bytes, `x86-5 fetched ${fetched} bytes of a ${r.bytes}-byte release`)
      await unshapeLink(lab.index, n.slot)
    },
  ])

  checks.push([
    'releases published at once: every node ends with the newest two whole; the one given up is held by nobody part-way',
    async () => {
      // With the current release, the cluster keeps the two newest published after it
      // (candidatesPerArchMax). a is published, and while the others fetch it b and c
      // come at once: a is given up everywhere, b and c must spread whole.
      const make = (v: string, mib: number) =>
        makeSignedRelease(join(lab.dir, `r-${v}`), key, { version: v, padBytes: mib * 1024 * 1024 })
      const [a, b, c] = [await make('at-once-a', 16), await make('at-once-b', 8), await make('at-once-c', 8)]
      const origins = [
        [a, 'pi4-3'],
        [b, 'pi5-2'],
        [c, 'x86-6'],
      ] as const
      // Uploaded first (the cluster is not told), so publishing is one request each.
      for (const [r, to] of origins) await publishRelease({ admin, dir: r.dir, node: to, announce: false })
      await publishRelease({ admin, dir: a.dir, node: 'pi4-3' })
      await waitFor(
        async () => {
          for (const n of alive().filter((x) => x.name !== 'pi4-3'))
            if ((await releasesOf(n)).local.held.some((h) => h.id === a.id && h.have > 0)) return true
          return 'nobody has a piece of a yet'
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      )
      await Promise.all([
        publishRelease({ admin, dir: b.dir, node: 'pi5-2' }),
        publishRelease({ admin, dir: c.dir, node: 'x86-6' }),
      ])
      const names = alive().map((n) => n.name)
      await waitNodesHold(lab, b.id, { timeoutMs: 120_000, names })
      await waitNodesHold(lab, c.id, { timeoutMs: 120_000, names })
      // Nobody keeps or offers half of a release: a (complete on its origin only) is either
      // whole or gone, and nothing published is left part-way with no download running.
      const published = new Set((await releasesOf(node('pi5-1'))).releases.map((r) => r.id))
      await waitFor(
        async () => {
          for (const n of alive()) {
            const v = await releasesOf(n)
            const partial = v.local.held.filter((h) => published.has(h.id) && h.have !== h.of)
            if (partial.length > 0 || v.local.downloads.length > 0)
              return `${n.name} holds ${partial.map((h) => `${h.version} ${h.have}/${h.of}`)}, fetching ${v.local.downloads.map((d) => d.id.slice(0, 8))}`
          }
          return true
        },
        // Giving up a partial copy waits for its download to notice; on a loaded machine
        // (the unit files run beside) that is more than the 30 s this once allowed.
        { timeoutMs: 120_000 },
      )
      for (const n of alive())
        for (const r of [b, c]) await checkReleaseFiles(await readReleaseDir(storeDir(n, r.id)))
      const held = await Promise.all(alive().map(async (n) => (await releasesOf(n)).local.held))
      console.log(
        `# a, then b and c at once: a whole on ${held.filter((h) => h.some((x) => x.id === a.id)).length} node(s), b and c on all ${names.length}`,
      )
    },
  ])

  checks.push([
    'netboot: the origin is unplugged, a VM boots from a node that got the release from peers, and joins',
    async () => {
      await labUnplug(lab.dir, 'x86-6')
      const vm = await addTestVm(lab)
      const served = await servedBy(
        lab,
        vm.mac,
        alive().filter((n) => n.name !== 'x86-6'),
      )
      assert.equal(served.length, 1)
      assert.notEqual(served[0], 'x86-6')
      assert.match(await consoleText(vm), /homecloud: image verified/)
      // It joined (addTestVm waits for that on every live node): a member, alive, as seen by
      // its server. Waited for, not read once: a VM under TCG on a loaded machine can answer a
      // probe late and be suspect for a round, which SWIM clears when it answers.
      await waitFor(
        async () => {
          const joined = (await view(node(served[0]!))).members.find((m) => m.name === vm.name)
          return joined?.state === 'alive' || `${vm.name} as ${served[0]} sees it: ${joined?.state}`
        },
        { timeoutMs: 60_000 },
      )
      console.log(
        `# ${vm.name} netbooted from ${served[0]} (which got the release from its peers) and joined`,
      )
    },
  ])
  // One lab for every check (startLab tears it down after the test that started it).
  it('one lab: spreading, refusals, trust, unplugged origin, rogue peer, full disk, releases at once, netboot', async (t) => {
    await setUp()
    for (const [name, check] of checks) await t.test(name, check)
  })
})
