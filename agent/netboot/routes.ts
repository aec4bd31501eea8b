import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'
import type { Counters } from '../core/counters.js'
import { Sha256Hex } from '../core/ids.js'
import { BootId } from '../slots/netboot-decide.js'
import { type ImageArch, IpxeArch, imageArchFor } from './arch.js'
import type { BootParams } from './cmdline.js'
import { renderGrubBootScript, renderGrubRefusal } from './grub.js'
import { renderBootScript, renderChainScript, renderRefusalScript } from './ipxe-script.js'
import { Mac } from './mac.js'
import type { MachineBook, MachineEntry, Stage } from './machines.js'
import { ArtifactName, MANIFEST_FILE, type NetbootImage } from './manifest.js'
import type { SlotOffer } from './slot-offer.js'

// HTTP side of netboot on the 7080 server. Every input is parsed strictly: a malformed
// MAC, an unknown architecture, a path that tries to climb out, an image id we do not
// hold — each is a 4xx naming the problem, and nothing is read from disk for it.

export interface NetbootRouteDeps {
  counters: Counters
  book: MachineBook
  /** The image this node serves an architecture, or null (with the reason) when it has none. */
  imageFor: (arch: ImageArch) => { image: NetbootImage | null; reason: string }
  /** Any image this node holds whole, by id (a boot script named it). */
  imageById: (id: string) => NetbootImage | null
  /** Base URL of these routes as machines reach them, e.g. http://10.77.1.2:7080/netboot */
  baseUrl: string
  nodeName: string
  clusterId: string
  /** Mesh bootstrap entries for the kernel command line (KEY@IP:PORT, already bounded). */
  peers: () => string[]
  /** The cluster's state-disk policy for the kernel command line (absent: labelled-only). */
  stateDiskPolicy?: () => 'labelled-only' | 'adopt-empty' | undefined
  /** Whether this machine may boot from us (adoption policy). */
  adopts: (mac: string) => boolean
  /** The cluster's join material for a machine we served (JSON text), or null. */
  joinMaterial: () => Promise<string | null>
  status: () => Record<string, unknown>
  /**
   * The MAC's netboot slots (slot-offer.ts): the release to offer instead of the current
   * one, a refusal, or null (no record: the current release). Absent: no slots here.
   */
  slots?: {
    offer(mac: string, arch: ImageArch, bootId: string | null): Promise<SlotOffer>
    /** A fresh nonce for iPXE's chain URL: one per power-on, so one try per boot. */
    newBootId(): string
  }
}

const BootQuery = z
  .object({ mac: Mac.optional(), arch: IpxeArch.optional(), boot: BootId.optional() })
  .strict()
const GrubQuery = z.object({ mac: Mac, arch: IpxeArch }).strict()
const MacParam = z.object({ mac: Mac })
const ImageParams = z.object({ sha: Sha256Hex, file: ArtifactName })
const ReportStage = z.enum(['kernel', 'verified', 'agent-start', 'failed', 'agent-exit'])
const ReportBody = z.object({ stage: ReportStage, detail: z.string().max(300).optional() }).strict()

function bad(reply: FastifyReply, counters: Counters, error: z.ZodError, what: string) {
  const issue = error.issues[0]
  counters.inc('homecloud_netboot_rejected_total', { reason: what })
  return reply.code(400).send({
    error: 'BAD_REQUEST',
    message: `${what}: ${issue?.path.join('.') || 'value'}: ${issue?.message ?? 'invalid'}`,
  })
}

/**
 * GRUB's HTTP client (2.06) learns a body's size only from a header spelled exactly
 * `Content-Length` (it compares bytes), and this server keeps connections open: without
 * it GRUB waits for a close that never comes, times out, and `linux` cannot size the
 * kernel. Node keeps the spelling given to the raw response's setHeader, and fastify adds
 * no length of its own to a stream, so what GRUB reads goes out as a stream.
 */
function sendSized(reply: FastifyReply, body: Buffer | Readable, bytes: number) {
  reply.raw.setHeader('Content-Length', bytes)
  return reply.send(Buffer.isBuffer(body) ? Readable.from([body]) : body)
}

type BootDecision =
  | { ok: true; params: BootParams; arch: ImageArch }
  | { ok: false; code: number; reason: string }

/** The same answer for iPXE and GRUB: may this MAC boot, and with which image and command line. */
async function decideBoot(
  deps: NetbootRouteDeps,
  mac: string,
  loaderArch: IpxeArch,
  bootId: string | null,
): Promise<BootDecision> {
  if (!deps.adopts(mac)) {
    deps.counters.inc('homecloud_netboot_rejected_total', { reason: 'not-adopted' })
    return { ok: false, code: 403, reason: `${mac} is not adopted by this cluster` }
  }
  const arch = imageArchFor(loaderArch)
  const slot = deps.slots ? await deps.slots.offer(mac, arch, bootId) : null
  if (slot && 'refuse' in slot) return { ok: false, code: 503, reason: slot.refuse }
  const { image, reason } = slot ? { image: slot.image, reason: '' } : deps.imageFor(arch)
  if (!image) return { ok: false, code: 404, reason: `no ${arch} image here: ${reason}` }
  const params: BootParams = {
    url: deps.baseUrl,
    image: image.id,
    cluster: deps.clusterId,
    peers: deps.peers(),
    mac,
  }
  const statedisk = deps.stateDiskPolicy?.()
  if (statedisk && statedisk !== 'labelled-only') params.statedisk = statedisk
  return { ok: true, params, arch }
}

export function registerNetbootRoutes(app: FastifyInstance, deps: NetbootRouteDeps): void {
  registerBootScript(app, deps)
  registerImageFiles(app, deps)
  registerJoinAndReports(app, deps)
}

/** iPXE's script: a chain to itself with MAC and architecture, then the boot or a refusal. */
function registerBootScript(app: FastifyInstance, deps: NetbootRouteDeps): void {
  const { counters, book } = deps
  app.get('/netboot/boot.ipxe', async (req, reply) => {
    const q = BootQuery.safeParse(req.query)
    if (!q.success) return bad(reply, counters, q.error, 'boot.ipxe query')
    reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store')
    // The DHCP answer carries a fixed URL: iPXE comes back with its MAC and architecture.
    if (!q.data.mac || !q.data.arch) return renderChainScript(deps.baseUrl, deps.slots?.newBootId())
    const { mac, arch } = q.data
    const d = await decideBoot(deps, mac, arch, q.data.boot ?? null)
    if (!d.ok) return reply.code(d.code).send(renderRefusalScript(d.reason))
    book.note(mac, 'ipxe', { arch })
    // iPXE fetches the kernel next, from this address, before the guest can say who it is.
    book.noteAddress(req.ip, mac)
    counters.inc('homecloud_netboot_served_total', { what: 'script' })
    return renderBootScript({ params: d.params, servedBy: deps.nodeName, consoles: d.arch })
  })

  // GRUB (arm64 UEFI: grub.ts) asks with its MAC and CPU already filled in.
  app.get('/netboot/boot.grub', async (req, reply) => {
    const q = GrubQuery.safeParse(req.query)
    if (!q.success) return bad(reply, counters, q.error, 'boot.grub query')
    reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store')
    const { mac, arch } = q.data
    const d = await decideBoot(deps, mac, arch, null)
    if (!d.ok) {
      const refusal = Buffer.from(renderGrubRefusal(d.reason))
      return sendSized(reply.code(d.code), refusal, refusal.length)
    }
    book.note(mac, 'grub', { arch })
    book.noteAddress(req.ip, mac)
    counters.inc('homecloud_netboot_served_total', { what: 'grub' })
    const script = Buffer.from(
      renderGrubBootScript({ params: d.params, servedBy: deps.nodeName, consoles: d.arch }),
    )
    return sendSized(reply, script, script.length)
  })
}

/** The image's files (kernel, initrd, manifest), and the stage marks their downloads make. */
function registerImageFiles(app: FastifyInstance, deps: NetbootRouteDeps): void {
  const { counters, book } = deps
  app.get('/netboot/image/:sha/:file', async (req, reply) => {
    const p = ImageParams.safeParse(req.params)
    if (!p.success) return bad(reply, counters, p.error, 'image path')
    const image = deps.imageById(p.data.sha)
    if (!image) {
      counters.inc('homecloud_netboot_rejected_total', { reason: 'image-unknown' })
      return reply
        .code(404)
        .send({ error: 'IMAGE_UNKNOWN', message: `this node does not hold image ${p.data.sha}` })
    }
    const { file } = p.data
    if (file === MANIFEST_FILE) return reply.type('application/json').send(image.manifestBytes)
    if (!(file in image.manifest.files)) {
      return reply.code(404).send({ error: 'NOT_FOUND', message: `${file} is not in image ${p.data.sha}` })
    }
    const path = join(image.dir, file)
    const size = (await stat(path)).size
    counters.inc('homecloud_netboot_served_total', { what: file })
    reply.type('application/octet-stream').header('cache-control', 'public, max-age=31536000, immutable')
    return sendSized(reply, createReadStream(path), size)
  })

  // Stage marks for files the iPXE stage fetches (the guest cannot report before its kernel runs).
  app.addHook('onResponse', async (req, reply) => {
    if (reply.statusCode !== 200 || !req.url.startsWith('/netboot/image/')) return
    const file = req.url.split('/').at(-1)
    const mac = book.macAt(req.ip)
    if (!mac) return
    if (file === 'vmlinuz') book.note(mac, 'kernel-download')
    if (file === 'initrd.img') book.note(mac, 'initrd-download')
  })
}

/** Join material for a machine this node served, the guest's stage reports, the machine list. */
function registerJoinAndReports(app: FastifyInstance, deps: NetbootRouteDeps): void {
  const { counters, book } = deps
  app.get('/netboot/join/:mac', async (req, reply) => {
    const p = MacParam.safeParse(req.params)
    if (!p.success) return bad(reply, counters, p.error, 'join path')
    const { mac } = p.data
    if (!deps.adopts(mac) || !book.servedRecently(mac)) {
      counters.inc('homecloud_netboot_rejected_total', { reason: 'join-not-served' })
      return reply.code(404).send({
        error: 'NOT_SERVED',
        message: `this node did not serve ${mac} recently; only the node that served its boot script hands out join material`,
      })
    }
    const material = await deps.joinMaterial()
    if (!material)
      return reply.code(503).send({ error: 'NO_JOIN_MATERIAL', message: 'this node holds no join material' })
    book.note(mac, 'join-material')
    counters.inc('homecloud_netboot_served_total', { what: 'join' })
    return reply.type('application/json').header('cache-control', 'no-store').send(material)
  })

  app.post('/netboot/report/:mac', async (req, reply) => {
    const p = MacParam.safeParse(req.params)
    if (!p.success) return bad(reply, counters, p.error, 'report path')
    const b = ReportBody.safeParse(req.body)
    if (!b.success) return bad(reply, counters, b.error, 'report body')
    if (!book.get(p.data.mac))
      return reply.code(404).send({ error: 'NOT_SERVED', message: 'unknown machine' })
    book.noteAddress(req.ip, p.data.mac)
    book.note(
      p.data.mac,
      b.data.stage as Stage,
      b.data.stage === 'failed' ? { failure: b.data.detail ?? 'failed' } : {},
    )
    return { ok: true }
  })

  app.get('/netboot/machines', async () => ({
    ...deps.status(),
    machines: book.all() satisfies MachineEntry[],
  }))
}
