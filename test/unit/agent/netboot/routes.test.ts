import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { type AddressInfo, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import Fastify from 'fastify'
import { installErrorHandlers } from '../../../../agent/api/error-handlers.js'
import { manualClock } from '../../../../agent/core/clock.js'
import { Counters } from '../../../../agent/core/counters.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { MachineBook } from '../../../../agent/netboot/machines.js'
import { readImage, sha256 } from '../../../../agent/netboot/manifest.js'
import { registerNetbootRoutes } from '../../../../agent/netboot/routes.js'

const dir = await mkdtemp(join(tmpdir(), 'hc-netboot-routes-'))
after(() => rm(dir, { recursive: true, force: true }))
const files = { vmlinuz: Buffer.from('kernel-bytes'), 'initrd.img': Buffer.from('initrd-bytes') }
for (const [n, b] of Object.entries(files)) await writeFile(join(dir, n), b)
await writeFile(
  join(dir, 'manifest.json'),
  JSON.stringify({
    v: 1,
    version: 't',
    arch: 'amd64',
    files: Object.fromEntries(
      Object.entries(files).map(([n, b]) => [n, { sha256: sha256(b), bytes: b.length }]),
    ),
  }),
)
await writeFile(join(dir, 'secret.txt'), 'not an artifact')
const image = await readImage(dir)
// An arm64 image beside it, served only while `withArm64` holds.
const armDir = join(dir, 'arm64')
await mkdir(armDir)
const armFiles = { vmlinuz: Buffer.from('arm64-kernel'), 'initrd.img': Buffer.from('arm64-initrd') }
for (const [n, b] of Object.entries(armFiles)) await writeFile(join(armDir, n), b)
await writeFile(
  join(armDir, 'manifest.json'),
  JSON.stringify({
    v: 1,
    version: 'a',
    arch: 'arm64',
    files: Object.fromEntries(
      Object.entries(armFiles).map(([n, b]) => [n, { sha256: sha256(b), bytes: b.length }]),
    ),
  }),
)
const armImage = await readImage(armDir)
let withArm64 = false
const clock = manualClock()
const book = new MachineBook(clock, { machinesMax: 4, joinWindowMs: 60_000, entryTtlMs: 3600_000 })
let policy: 'any' | 'known' = 'any'
let stateDisk: 'labelled-only' | 'adopt-empty' | undefined
const known = ['52:54:00:00:00:aa']
const key = 'ab'.repeat(32)
const app = Fastify()
registerNetbootRoutes(app, {
  counters: new Counters(),
  book,
  imageFor: (arch) =>
    arch === 'amd64'
      ? { image, reason: '' }
      : withArm64
        ? { image: armImage, reason: '' }
        : { image: null, reason: 'this node has amd64' },
  imageById: (id) => [image, ...(withArm64 ? [armImage] : [])].find((i) => i.id === id) ?? null,
  baseUrl: 'http://10.77.1.2:7080/netboot',
  nodeName: 'pi5-1',
  clusterId: '0123456789abcdef',
  peers: () => [`${key}@10.77.1.2:49737`],
  adopts: (mac) => policy === 'any' || known.includes(mac),
  stateDiskPolicy: () => stateDisk,
  joinMaterial: async () => '{"v":1,"secret":"s"}\n',
  status: () => ({ node: 'pi5-1' }),
})
installErrorHandlers(app, silentLogger(), 'test')
const mac = '52:54:00:12:34:56'
const get = (url: string) => app.inject({ method: 'GET', url })

test('without MAC and arch, iPXE is asked to come back with them', async () => {
  const r = await get('/netboot/boot.ipxe')
  assert.equal(r.statusCode, 200)
  assert.match(
    r.body,
    /chain http:\/\/10\.77\.1\.2:7080\/netboot\/boot\.ipxe\?mac=\$\{net0\/mac\}&arch=\$\{buildarch\}/,
  )
})

test('a MAC and arch get the boot script for this image, and the MAC is served by this node', async () => {
  const r = await get(`/netboot/boot.ipxe?mac=${mac.toUpperCase()}&arch=x86_64`)
  assert.equal(r.statusCode, 200)
  assert.match(
    r.body,
    new RegExp(`kernel http://10.77.1.2:7080/netboot/image/${image.id}/vmlinuz .*homecloud.mac=${mac}`),
  )
  assert.ok(book.servedRecently(mac))
})

test("the cluster's state-disk policy goes on the kernel command line, the default does not", async () => {
  const line = async () => (await get(`/netboot/boot.ipxe?mac=${mac}&arch=x86_64`)).body
  for (const p of [undefined, 'labelled-only'] as const) {
    stateDisk = p
    assert.doesNotMatch(await line(), /statedisk/)
  }
  stateDisk = 'adopt-empty'
  assert.match(await line(), /homecloud\.mac=52:54:00:12:34:56 homecloud\.statedisk=adopt-empty/)
  stateDisk = undefined
})

test('malformed MACs and unknown architectures are 400 naming the field', async () => {
  for (const bad of [
    '52:54:00:12:34',
    '52:54:00:12:34:5g',
    '52-54-00-12-34-56',
    '52:54:00:12:34:56:78',
    '%00',
  ]) {
    const r = await get(`/netboot/boot.ipxe?mac=${bad}&arch=x86_64`)
    assert.equal(r.statusCode, 400, bad)
    assert.match(r.json().message, /mac/)
  }
  const arch = await get(`/netboot/boot.ipxe?mac=${mac}&arch=mips`)
  assert.equal(arch.statusCode, 400)
  assert.match(arch.json().message, /arch/)
  const extra = await get(`/netboot/boot.ipxe?mac=${mac}&arch=x86_64&x=1`)
  assert.equal(extra.statusCode, 400)
  const join = await get('/netboot/join/not-a-mac')
  assert.equal(join.statusCode, 400)
})

test('an architecture without an image gets a refusal script, not a wrong kernel', async () => {
  const r = await get(`/netboot/boot.ipxe?mac=${mac}&arch=arm64`)
  assert.equal(r.statusCode, 404)
  assert.match(r.body, /^#!ipxe\necho homecloud: no arm64 image/)
})

test('GRUB (arm64 UEFI) gets the arm64 kernel with its consoles and this MAC, and the MAC is served here', async () => {
  const grubMac = '52:54:00:4c:01:01'
  const none = await get(`/netboot/boot.grub?mac=${grubMac}&arch=arm64`)
  assert.equal(none.statusCode, 404)
  assert.match(none.body, /^echo "homecloud: no arm64 image/)
  assert.ok(!book.servedRecently(grubMac))
  withArm64 = true
  try {
    const r = await get(`/netboot/boot.grub?mac=${grubMac}&arch=arm64`)
    assert.equal(r.statusCode, 200)
    const [echo, linux, initrd, boot] = r.body.split('\n')
    assert.match(echo!, /^echo "homecloud: image [0-9a-f]{12} for 52:54:00:4c:01:01 from pi5-1"$/)
    assert.match(
      linux!,
      new RegExp(
        `^linux \\(http,10\\.77\\.1\\.2:7080\\)/netboot/image/${armImage.id}/vmlinuz console=tty0 console=ttyAMA0,115200 panic=-1 quiet homecloud\\.url=http://10\\.77\\.1\\.2:7080/netboot homecloud\\.image=${armImage.id} .* homecloud\\.mac=${grubMac}$`,
      ),
    )
    assert.equal(initrd, `initrd (http,10.77.1.2:7080)/netboot/image/${armImage.id}/initrd.img`)
    assert.equal(boot, 'boot')
    assert.ok(book.servedRecently(grubMac))
    assert.ok(book.get(grubMac)?.stages.grub)
    const k = await get(`/netboot/image/${armImage.id}/vmlinuz`)
    assert.equal(k.body, 'arm64-kernel')
    // x86 iPXE still gets the amd64 image from the same node.
    const x86 = await get(`/netboot/boot.ipxe?mac=${mac}&arch=x86_64`)
    assert.match(x86.body, new RegExp(`image/${image.id}/vmlinuz .*console=ttyS0`))
  } finally {
    withArm64 = false
  }
})

test('GRUB queries are strict: both MAC and arch, nothing else', async () => {
  for (const q of [
    '',
    '?mac=52:54:00:4c:01:01',
    '?arch=arm64',
    '?mac=52:54:00:4c:01:01&arch=arm64&x=1',
    '?mac=nope&arch=arm64',
    '?mac=52:54:00:4c:01:01&arch=riscv64',
  ]) {
    const r = await get(`/netboot/boot.grub${q}`)
    assert.equal(r.statusCode, 400, q)
    assert.match(r.json().message, /^boot\.grub query: /)
  }
})

test('artifacts are served by image id; path traversal, unknown ids and non-artifacts are refused', async () => {
  const ok = await get(`/netboot/image/${image.id}/vmlinuz`)
  assert.equal(ok.statusCode, 200)
  assert.equal(ok.body, 'kernel-bytes')
  const manifest = await get(`/netboot/image/${image.id}/manifest.json`)
  assert.equal(sha256(manifest.rawPayload), image.id)
  for (const path of [
    `/netboot/image/${image.id}/..%2F..%2F..%2Fetc%2Fpasswd`,
    `/netboot/image/${image.id}/.hidden`,
    `/netboot/image/${image.id}/%2Fetc%2Fpasswd`,
    '/netboot/image/..%2F..%2Fetc/passwd',
  ]) {
    const r = await get(path)
    assert.equal(r.statusCode, 400, path)
    assert.equal(r.json().error, 'BAD_REQUEST')
  }
  const raw = await get(`/netboot/image/${image.id}/../../../etc/passwd`)
  assert.ok(raw.statusCode === 400 || raw.statusCode === 404, `${raw.statusCode}`)
  assert.doesNotMatch(raw.body, /root:/)
  const unknown = await get(`/netboot/image/${'0'.repeat(64)}/vmlinuz`)
  assert.equal(unknown.statusCode, 404)
  assert.equal(unknown.json().error, 'IMAGE_UNKNOWN')
  const notListed = await get(`/netboot/image/${image.id}/secret.txt`)
  assert.equal(notListed.statusCode, 404)
})

test('join material only for a MAC this node served, within the window', async () => {
  const other = '52:54:00:99:99:99'
  const r = await get(`/netboot/join/${other}`)
  assert.equal(r.statusCode, 404)
  assert.equal(r.json().error, 'NOT_SERVED')
  await get(`/netboot/boot.ipxe?mac=${other}&arch=i386`)
  const served = await get(`/netboot/join/${other}`)
  assert.equal(served.statusCode, 200)
  assert.equal(served.json().secret, 's')
  clock.advance(61_000)
  assert.equal((await get(`/netboot/join/${other}`)).statusCode, 404)
})

test('adoption `known`: an unknown MAC gets 403 and no join material; a known one boots', async () => {
  policy = 'known'
  try {
    const stranger = '52:54:00:00:00:bb'
    const r = await get(`/netboot/boot.ipxe?mac=${stranger}&arch=x86_64`)
    assert.equal(r.statusCode, 403)
    assert.match(r.body, /not adopted/)
    assert.equal((await get(`/netboot/join/${stranger}`)).statusCode, 404)
    assert.equal((await get(`/netboot/boot.ipxe?mac=${known[0]}&arch=x86_64`)).statusCode, 200)
    const grub = await get(`/netboot/boot.grub?mac=${stranger}&arch=arm64`)
    assert.equal(grub.statusCode, 403)
    assert.match(grub.body, /not adopted/)
  } finally {
    policy = 'any'
  }
})

test('stage reports: strict body, only for machines this node has seen', async () => {
  const post = (m: string, payload: unknown) =>
    app.inject({ method: 'POST', url: `/netboot/report/${m}`, payload: payload as object })
  assert.equal((await post(mac, { stage: 'kernel' })).statusCode, 200)
  assert.equal((await post(mac, { stage: 'rm -rf' })).statusCode, 400)
  assert.equal((await post(mac, { stage: 'kernel', extra: 1 })).statusCode, 400)
  assert.equal((await post('52:54:00:77:77:77', { stage: 'kernel' })).statusCode, 404)
  assert.equal((await post(mac, { stage: 'failed', detail: 'bad sha' })).statusCode, 200)
  const m = (await get('/netboot/machines')).json().machines.find((x: { mac: string }) => x.mac === mac)
  assert.equal(m.failure, 'bad sha')
  assert.ok(m.stages.kernel >= m.stages.ipxe)
})

test('the machine book stays bounded', () => {
  for (let i = 0; i < 10; i++) book.note(`52:54:00:00:01:${i.toString(16).padStart(2, '0')}`, 'dhcp')
  assert.equal(book.all().length, 4)
})

// One check over a real socket: the router does not normalise `..` away.
let base = ''
before(async () => {
  await app.listen({ host: '127.0.0.1', port: 0 })
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
})
after(() => app.close())
test('over real HTTP, traversal and malformed MACs are refused', async () => {
  const t = await fetch(`${base}/netboot/image/${image.id}/..%2Fsecret.txt`)
  assert.equal(t.status, 400)
  const m = await fetch(`${base}/netboot/join/52:54:00:12:34:5z`)
  assert.equal(m.status, 400)
})

/** A request as GRUB 2.06's http module writes it; the answer's head and body as sent. */
function grubGet(path: string): Promise<{ head: string; body: Buffer }> {
  const port = (app.server.address() as AddressInfo).port
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    sock.on('data', (d) => {
      chunks.push(d)
      const all = Buffer.concat(chunks)
      const end = all.indexOf('\r\n\r\n')
      const length = /\r\nContent-Length: (\d+)\r\n/.exec(all.subarray(0, end).toString())
      if (end >= 0 && length && all.length >= end + 4 + Number(length[1])) {
        sock.destroy()
        resolve({ head: all.subarray(0, end).toString(), body: all.subarray(end + 4) })
      }
    })
    sock.on('error', reject)
    // The server keeps the connection open (keep-alive): without the exact header, no answer ends.
    sock.setTimeout(5000, () => {
      sock.destroy()
      reject(new Error(`no Content-Length GRUB can read: ${Buffer.concat(chunks).toString().slice(0, 300)}`))
    })
    sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: GRUB 2.06\r\n\r\n`)
  })
}

test('what GRUB reads carries "Content-Length" spelled as GRUB compares it (bytes), and no chunking', async () => {
  const grubMac = '52:54:00:4c:01:02'
  const refused = await grubGet(`/netboot/boot.grub?mac=${grubMac}&arch=arm64`)
  assert.match(refused.head, /^HTTP\/1\.1 404 /)
  assert.match(refused.body.toString(), /^echo "homecloud: no arm64 image/)
  withArm64 = true
  try {
    const script = await grubGet(`/netboot/boot.grub?mac=${grubMac}&arch=arm64`)
    assert.match(script.head, /^HTTP\/1\.1 200 /)
    assert.doesNotMatch(script.head, /transfer-encoding/i)
    assert.match(script.body.toString(), /^echo "homecloud: image /)
    const kernel = await grubGet(`/netboot/image/${armImage.id}/vmlinuz`)
    assert.match(kernel.head, /\r\nContent-Length: 12\r\n/)
    assert.equal(kernel.body.toString(), 'arm64-kernel')
  } finally {
    withArm64 = false
  }
})
