import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import Fastify from 'fastify'
import { manualClock } from '../../../../agent/core/clock.js'
import { Counters } from '../../../../agent/core/counters.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { MachineBook } from '../../../../agent/netboot/machines.js'
import { readImage, sha256 } from '../../../../agent/netboot/manifest.js'
import { registerNetbootRoutes } from '../../../../agent/netboot/routes.js'
import { slotOffer } from '../../../../agent/netboot/slot-offer.js'
import type { NetbootSlotRecord } from '../../../../agent/slots/netboot-decide.js'
import type { BootAsk, NetbootSlotsClient } from '../../../../agent/slots/netboot-store.js'

// The boot script route with netboot slots on: the chain URL carries a boot id, a MAC with
// a record boots the release its record offers, a refusal is a 503 script, and a MAC
// without a record (or records out of reach) gets the current release as before.

const dir = await mkdtemp(join(tmpdir(), 'hc-netboot-slots-'))
after(() => rm(dir, { recursive: true, force: true }))
const imageIn = async (name: string, version: string) => {
  const d = join(dir, name)
  await mkdir(d)
  const files = { vmlinuz: Buffer.from(`k-${version}`), 'initrd.img': Buffer.from(`i-${version}`) }
  for (const [n, b] of Object.entries(files)) await writeFile(join(d, n), b)
  const entries = Object.entries(files).map(([n, b]) => [n, { sha256: sha256(b), bytes: b.length }])
  await writeFile(
    join(d, 'manifest.json'),
    JSON.stringify({ v: 1, version, arch: 'amd64', files: Object.fromEntries(entries) }),
  )
  return readImage(d)
}
const current = await imageIn('current', '1')
const tried = await imageIn('tried', '2')
const mac = '52:54:00:12:34:56'
const clock = manualClock()
const asked: { mac: string; ask: BootAsk }[] = []
let records = new Map<string, NetbootSlotRecord>()
let answer: 'offer' | 'refuse' | 'throw' = 'offer'
const client: NetbootSlotsClient = {
  read: async (m) => {
    if (answer === 'throw') throw new Error('no voter is alive')
    return records.get(m) ?? null
  },
  boot: async (m, ask) => {
    asked.push({ mac: m, ask })
    return answer === 'refuse'
      ? { kind: 'refuse', reason: 'this node does not hold release 2 whole yet' }
      : { kind: 'offer', slot: 'b', releaseId: tried.id, version: '2', mode: 'trying', next: null }
  },
  change: async () => null,
}
const images = [current, tried]
const app = Fastify()
registerNetbootRoutes(app, {
  counters: new Counters(),
  book: new MachineBook(clock),
  imageFor: () => ({ image: current, reason: '' }),
  imageById: (id) => images.find((i) => i.id === id) ?? null,
  baseUrl: 'http://10.77.1.2:7080/netboot',
  nodeName: 'pi5-1',
  clusterId: '0123456789abcdef',
  peers: () => [],
  adopts: () => true,
  joinMaterial: async () => null,
  status: () => ({}),
  slots: {
    offer: (m, arch, bootId) =>
      slotOffer(
        { client, imageById: (id) => images.find((i) => i.id === id) ?? null, clock, log: silentLogger() },
        m,
        arch,
        bootId,
      ),
    newBootId: () => 'ab'.repeat(8),
  },
})
const get = (url: string) => app.inject({ method: 'GET', url })
const state = (id: string) => ({
  v: 1 as const,
  slots: {
    a: { releaseId: current.id, version: '1', installedAtMs: 0 },
    b: { releaseId: id, version: '2', installedAtMs: 0 },
  },
  good: 'a' as const,
  trying: 'b' as const,
  triesLeft: 2,
  booted: 'a' as const,
  boots: 1,
  lastFallback: null,
})

test('the chain URL carries a boot id', async () => {
  const r = await get('/netboot/boot.ipxe')
  assert.match(r.body, /boot\.ipxe\?mac=\$\{net0\/mac\}&arch=\$\{buildarch\}&boot=abababababababab\n/)
})

test('no record: the current release, and no boot was asked', async () => {
  const r = await get(`/netboot/boot.ipxe?mac=${mac}&arch=x86_64&boot=${'ab'.repeat(8)}`)
  assert.equal(r.statusCode, 200)
  assert.match(r.body, new RegExp(`image/${current.id}/vmlinuz`))
  assert.equal(asked.length, 0)
})

test('a record: the release it offers, asked with the boot id and the releases this node holds', async () => {
  records = new Map([
    [
      mac,
      { v: 1, mac, arch: 'amd64', state: state(tried.id), lastBootId: null, lastOrderSeq: 2, updatedAtMs: 0 },
    ],
  ])
  const r = await get(`/netboot/boot.ipxe?mac=${mac}&arch=x86_64&boot=${'cd'.repeat(8)}`)
  assert.equal(r.statusCode, 200)
  assert.match(r.body, new RegExp(`image/${tried.id}/vmlinuz`))
  assert.deepEqual(asked.at(-1), {
    mac,
    ask: { arch: 'amd64', bootId: 'cd'.repeat(8), holds: [current.id, tried.id] },
  })
})

test('a refusal is a 503 script naming why; a malformed boot id is a 400', async () => {
  answer = 'refuse'
  const r = await get(`/netboot/boot.ipxe?mac=${mac}&arch=x86_64&boot=${'cd'.repeat(8)}`)
  assert.equal(r.statusCode, 503)
  assert.match(r.body, /does not hold release 2/)
  const bad = await get(`/netboot/boot.ipxe?mac=${mac}&arch=x86_64&boot=xyz`)
  assert.equal(bad.statusCode, 400)
  assert.match(bad.json().message, /boot/)
})

test('records out of reach: the current release, as without slots', async () => {
  answer = 'throw'
  const r = await get(`/netboot/boot.ipxe?mac=${mac}&arch=x86_64&boot=${'cd'.repeat(8)}`)
  assert.equal(r.statusCode, 200)
  assert.match(r.body, new RegExp(`image/${current.id}/vmlinuz`))
})
