import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { packageRoot } from '../../agent/core/package-root.js'
import { parseKernelCmdline } from '../../agent/netboot/cmdline.js'
import type { readImage } from '../../agent/netboot/manifest.js'
import { renderPiConfigTxt } from '../../agent/netboot/rpi.js'
import type { LabFile } from '../../lab/lab-file.js'
import { nodeUrl } from '../../lab/launcher.js'
import { addNode, removeNode } from '../../lab/netns/network.js'
import { waitFor } from '../../lab/wait.js'
import type { DhcpOffer } from './dhcp-probe.js'
import { onCleanup } from './lab.js'
import { machines } from './netboot.js'

const run = promisify(execFile)

// No Raspberry Pi can boot here, so this plays one against the real thing: real dnsmasq
// (proxyDHCP + TFTP) in each node's namespace, the real arm64 image's files, and a
// network namespace on the lab bridge with a Pi 4's MAC that sends the Pi bootloader's
// DHCPDISCOVER (test/support/dhcp-probe.ts) and makes its TFTP requests with a real
// client (busybox tftp, 1468-byte blocks as the bootloader asks), in the order the
// Raspberry Pi documentation gives: start4.elf in `<serial>/` (when neither start4.elf nor
// start.elf is there the prefix is cleared and the root is used), config.txt, fixup4.dat,
// then what the firmware loads: the device tree, cmdline.txt, the kernel and initramfs
// config.txt names. Then a Pi 5 (a second namespace, its own MAC and serial): its
// bootloader has the firmware built in, so after start4.elf (looked for only to keep the
// prefix) and config.txt it loads what [pi5] names itself — the bcm2712 device tree,
// cmdline-pi5.txt, the same kernel and initramfs — and no fixup4.dat.
// Used by test/cluster/netboot-arm64.test.ts (its lab serves the arm64 image the Pis take).
const SERIAL = 'dc1a2b3c'
const STRANGER_SERIAL = '0badc0de'
const PI_MAC = 'dc:a6:32:01:02:03'
const PI5_SERIAL = '5e7a1b2c'
const PI5_MAC = '2c:cf:67:01:02:05'
/** Lab "node" slots the lab never uses: their namespaces and veth names are swept with the lab. */
const PI_SLOT = 89
const PI5_SLOT = 88
/** The serials whose folders the nodes serve (the lab's netboot.raspberryPi.serials). */
export const PI_SERIALS = [SERIAL, PI5_SERIAL]

const hex = (s: string) => Buffer.from(s).toString('hex')
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')
type Image = Awaited<ReturnType<typeof readImage>>

/**
 * A Pi 4, then a Pi 5: every node offers "Raspberry Pi Boot", the first serves the firmware,
 * config and kernel from serial folders and the root, and hands the Pi join material.
 */
export async function playPis(lab: LabFile, image: Image): Promise<void> {
  const pi = await addNode(lab.index, PI_SLOT)
  onCleanup(() => removeNode(lab.index, PI_SLOT).then(() => {}))
  const ns = (args: string[]) => run('ip', ['-n', pi.netns, ...args])
  await ns(['link', 'set', 'eth0', 'down'])
  await ns(['link', 'set', 'eth0', 'address', PI_MAC])
  await ns(['link', 'set', 'eth0', 'up'])
  // The DISCOVER is a limited broadcast: it needs a route, on the lab link only.
  await ns(['route', 'add', '255.255.255.255/32', 'dev', 'eth0'])

  // DHCP: every node's dnsmasq answers the Pi with a proxy offer that names itself (server
  // identifier; dnsmasq sets no siaddr for a client of arch 0, exactly as in the Raspberry Pi
  // documentation's own dnsmasq proxy setup, and the bootloader then uses that server).
  const { stdout } = await run(
    'ip',
    [
      'netns',
      'exec',
      pi.netns,
      process.execPath,
      '--import',
      'tsx',
      'test/support/dhcp-probe.ts',
      PI_MAC,
      '4500',
    ],
    { cwd: packageRoot() },
  )
  const offers = stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as DhcpOffer)
  for (const n of lab.nodes) {
    const o = offers.find(
      (x) => x.options[54] === Buffer.from(n.address.split('.').map(Number)).toString('hex'),
    )
    assert.ok(o, `${n.name} answered the Pi (offers: ${JSON.stringify(offers)})`)
    assert.equal(o.options[60], hex('PXEClient'))
    assert.ok(
      o.options[43]?.includes(hex('Raspberry Pi Boot')),
      `${n.name}: option 43 carries "Raspberry Pi Boot"`,
    )
    assert.ok(['0.0.0.0', n.address].includes(o.siaddr), `${n.name}: siaddr ${o.siaddr}`)
    assert.equal(o.yiaddr, '0.0.0.0', 'a proxy offer hands out no address')
  }
  assert.ok(
    offers.some((o) => o.yiaddr !== '0.0.0.0'),
    "the lab's router offered the address",
  )

  // TFTP from the first node, as the bootloader and firmware ask.
  const server = lab.nodes[0]!
  const tmp = await mkdtemp(join(tmpdir(), 'hc-rpi-tftp-'))
  onCleanup(() => rm(tmp, { recursive: true, force: true }))
  let k = 0
  const tftp = async (path: string): Promise<Buffer | null> => {
    const out = join(tmp, `f${k++}`)
    // A refused request (file not found, a path out of the root) is an error from busybox.
    const args = ['netns', 'exec', pi.netns, 'busybox', 'tftp', '-g', '-b', '1468', '-r', path, '-l', out]
    const ok = await run('ip', [...args, server.address], { timeout: 120_000 }).then(
      () => true,
      () => false,
    )
    if (!ok) return null
    return readFile(out)
  }
  const want = (f: string) => image.manifest.files[f]!.sha256

  // A known serial: everything from its folder.
  for (const f of ['start4.elf', 'fixup4.dat', 'bcm2711-rpi-4-b.dtb', 'vmlinuz', 'initrd.img']) {
    if (f === 'fixup4.dat') {
      const config = await tftp(`${SERIAL}/config.txt`)
      assert.equal(config?.toString(), renderPiConfigTxt(), 'config.txt, after start4.elf')
      // The bootloader looks for a self-update and a recovery file; there are none.
      assert.equal(await tftp(`${SERIAL}/pieeprom.sig`), null)
    }
    if (f === 'vmlinuz') {
      const cmdline = (await tftp(`${SERIAL}/cmdline.txt`))?.toString() ?? ''
      const p = parseKernelCmdline(cmdline)
      assert.ok(p.success, cmdline)
      assert.equal(p.data.url, `http://${server.address}:7080/netboot`)
      assert.equal(p.data.image, image.id)
      assert.equal(p.data.cluster, lab.clusterId)
      assert.ok(p.data.peers.length > 0)
      assert.equal(p.data.mac, undefined)
      assert.match(cmdline, /^console=tty0 console=ttyS1,115200 /)
    }
    const got = await tftp(`${SERIAL}/${f}`)
    assert.ok(got, `${SERIAL}/${f} served`)
    assert.equal(got.length, image.manifest.files[f]!.bytes, `${f}: the image's size`)
    assert.equal(sha256(got), want(f), `${f} is the image's`)
  }
  // A serial without a folder: start4.elf and start.elf are missing there, so the
  // bootloader clears the prefix and finds the same files in the root.
  assert.equal(await tftp(`${STRANGER_SERIAL}/start4.elf`), null)
  assert.equal(await tftp(`${STRANGER_SERIAL}/start.elf`), null)
  assert.equal(sha256((await tftp('start4.elf'))!), want('start4.elf'))
  assert.equal((await tftp('config.txt'))?.toString(), renderPiConfigTxt())
  assert.ok((await tftp('cmdline.txt'))?.toString().includes(`homecloud.image=${image.id}`))
  // Paths that climb out of the TFTP root are refused.
  assert.equal(await tftp('../dnsmasq.conf'), null)

  // The Pi fetched its cmdline.txt from this node: this node (only) hands it join material.
  await waitFor(
    async () => {
      const m = (await machines(server)).find((x) => x.mac === PI_MAC)
      return m?.servedMs ? true : `the Pi is not marked served yet (${JSON.stringify(m?.stages ?? {})})`
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  )
  const join1 = await fetch(new URL(`/netboot/join/${PI_MAC}`, nodeUrl(server)))
  assert.equal(join1.status, 200)
  assert.equal(((await join1.json()) as { clusterId?: string }).clusterId, lab.clusterId)
  const join2 = await fetch(new URL(`/netboot/join/${PI_MAC}`, nodeUrl(lab.nodes[1]!)))
  assert.equal(join2.status, 404)

  // The other node answers with the same files (only its own address differs).
  const other = lab.nodes[1]!
  const viaOther = await run('ip', [
    'netns',
    'exec',
    pi.netns,
    'busybox',
    'tftp',
    '-g',
    '-r',
    `${SERIAL}/cmdline.txt`,
    '-l',
    join(tmp, 'other'),
    other.address,
  ]).then(() => readFile(join(tmp, 'other'), 'utf8'))
  assert.ok(
    viaOther.includes(`homecloud.url=http://${other.address}:7080/netboot homecloud.image=${image.id}`),
  )

  await playPi5(lab, image, server, tmp)
}

/** A Pi 5 from its own namespace: the files its bootloader asks for, then the node marks it served. */
async function playPi5(
  lab: LabFile,
  image: Image,
  server: LabFile['nodes'][number],
  tmp: string,
): Promise<void> {
  const pi5 = await addNode(lab.index, PI5_SLOT)
  onCleanup(() => removeNode(lab.index, PI5_SLOT).then(() => {}))
  const ns = (args: string[]) => run('ip', ['-n', pi5.netns, ...args])
  await ns(['link', 'set', 'eth0', 'down'])
  await ns(['link', 'set', 'eth0', 'address', PI5_MAC])
  await ns(['link', 'set', 'eth0', 'up'])
  let k = 0
  const tftp = async (path: string): Promise<Buffer | null> => {
    const out = join(tmp, `p5-${k++}`)
    const args = ['netns', 'exec', pi5.netns, 'busybox', 'tftp', '-g', '-b', '1468', '-r', path, '-l', out]
    const ok = await run('ip', [...args, server.address], { timeout: 120_000 }).then(
      () => true,
      () => false,
    )
    return ok ? readFile(out) : null
  }
  const served = async (f: string) => {
    const got = await tftp(`${PI5_SERIAL}/${f}`)
    assert.ok(got, `${PI5_SERIAL}/${f} served`)
    assert.equal(got.length, image.manifest.files[f]!.bytes, `${f}: the image's size`)
    assert.equal(sha256(got), image.manifest.files[f]!.sha256, `${f} is the image's`)
  }
  // The prefix: start4.elf is there, so the serial folder is used (the Pi 5 does not run it).
  await served('start4.elf')
  const config = (await tftp(`${PI5_SERIAL}/config.txt`))?.toString() ?? ''
  assert.equal(config, renderPiConfigTxt())
  assert.equal(await tftp(`${PI5_SERIAL}/pieeprom.sig`), null, 'no bootloader self-update is offered')
  // What [pi5] names, in the order the firmware loads: device tree, command line, kernel, initramfs.
  const section = config.slice(config.indexOf('[pi5]'), config.indexOf('[all]'))
  const named = (re: RegExp) => re.exec(section)?.[1] ?? assert.fail(`[pi5] names no ${re}`)
  await served('bcm2712-rpi-5-b.dtb')
  await served('bcm2712d0-rpi-5-b.dtb')
  const cmdline = (await tftp(`${PI5_SERIAL}/${named(/^cmdline=(\S+)$/m)}`))?.toString() ?? ''
  assert.match(cmdline, /^console=tty0 console=ttyAMA10,115200 /)
  const p = parseKernelCmdline(cmdline)
  assert.ok(p.success, cmdline)
  assert.equal(p.data.url, `http://${server.address}:7080/netboot`)
  assert.equal(p.data.image, image.id)
  assert.equal(p.data.cluster, lab.clusterId)
  await served(named(/^kernel=(\S+)$/m))
  await served(named(/^initramfs (\S+) followkernel$/m))
  // Its command line from this node made the Pi 5 ours too.
  await waitFor(
    async () => {
      const m = (await machines(server)).find((x) => x.mac === PI5_MAC)
      return m?.servedMs ? true : `the Pi 5 is not marked served yet (${JSON.stringify(m?.stages ?? {})})`
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  )
}
