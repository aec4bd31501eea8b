// A hostile mesh peer, run as its own process:
//   node --import tsx test/support/rogue-peer.ts '<json RogueArgs>'
// It holds a real Noise identity, dials one lab agent directly and sends it bad input
// for one scenario, printing one JSON line per action on stdout. It never sends a
// valid record of its own cluster identity, so it must never become a member.
// The join scenarios speak the trust layer's join protocol (agent/trust) with a
// wrong secret, replayed proofs and CSRs asking for what they may not have.
import { createHash } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import { realpathSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import HyperDHT from 'hyperdht'
import forge from 'node-forge'
import { z } from 'zod'
import { issueEtcdCerts } from '../../agent/controlplane/certs.js'
import { EtcdAssign, EtcdRetire, SnapshotChunk } from '../../agent/controlplane/messages.js'
import { systemClock } from '../../agent/core/clock.js'
import { formatInitialCluster } from '../../agent/etcd/model/initial-cluster.js'
import { type Identity, identityFromPem, nodeIdFromPublicKey } from '../../agent/identity/identity.js'
import { newClusterId } from '../../agent/mesh/cluster-id.js'
import { type SignedRecord, signRecord } from '../../agent/mesh/record.js'
import { parseWith } from '../../agent/mesh/router.js'
import { SWIM_SCHEMAS } from '../../agent/mesh/swim-wire.js'
import { encodeFrame, FrameDecoder, MeshMessage, WIRE_LIMITS } from '../../agent/mesh/wire.js'
import { readCertificate } from '../../agent/pki/cert.js'
import { createCsr } from '../../agent/pki/csr.js'
import {
  forgePublicKeyOf,
  generateRsaKeyPem,
  generateRsaKeyPemAsync,
  signSha256,
} from '../../agent/pki/keys.js'
import { signRevocations } from '../../agent/pki/revocations.js'
import { signApproval } from '../../agent/trust/approval.js'
import { joinProof, proofMatches, replyProof } from '../../agent/trust/join-proof.js'
import { signSettings } from '../../agent/trust/signed-settings.js'
import { TRUST_LIMITS, TRUST_SCHEMAS } from '../../agent/trust/wire.js'
import { newIdentity, recordBody } from './records.js'

export const SCENARIOS = [
  'malformed',
  'unsigned',
  'wrongly-signed',
  'impersonation',
  'replayed',
  'other-cluster',
  'oversized',
  /** Not run by the suite: reproduces an unauthenticated suspect/dead notice (see bad-input.test.ts). */
  'forged-notice',
  // Trust layer (join-bad-input.test.ts): the victim is the signer unless noted.
  /** Its own record, then a join whose proof uses a made-up secret. */
  'join-wrong-secret',
  /** A valid join on connection A; the same frame replayed on B (same key) and C (another key). */
  'join-replay',
  /** Valid proofs, CSRs naming someone else: another node's id, a key that did not sign it, a huge CN. */
  'join-csr-mismatch',
  /** Valid proofs, CSRs asking for rights: CA:TRUE, keyCertSign, another node's SANs (made by OpenSSL). */
  'join-csr-rights',
  /** A valid proof and a clean CSR, but the join names itself as another member (its DNS SAN). */
  'join-name-taken',
  /** A join frame whose csr is over the wire limit. */
  'join-oversized-csr',
  /** Certificates with one signature byte flipped, as hello (own and a member's) and as certs. */
  'tampered-cert',
  /**
   * Joins properly (a member), announces its record, then asks for Kubernetes node
   * certificates: its own kubelet (control), and kubelet/kwok ones for another member's name.
   */
  'node-cert-other-name',
  /**
   * CA-signed gossip signed with a key of its own making: an approval of itself, settings
   * switching the join policy to approve at version 99, a revocation list naming `other`.
   */
  'forged-gossip',
  /** Sends nothing: reports what the agent shows a newcomer (records, certificates). */
  'listen',
  /**
   * A valid join with a given join key (`joinKeyPem`), asked again each second until
   * answered with a certificate (a member that holds none yet says not-a-signer), then,
   * with `otherKey`, once more with another key. Run against a signer, then against a
   * member without the CA key: the member hands back the certificate the signer issued,
   * for that key only.
   */
  'join-again',
  // Control plane (controlplane-bad-input.test.ts): a member by a valid join, then a liar.
  /**
   * Joins with the real secret (so it is a certified member, an x86 board placement never
   * picks), then heartbeats a record claiming etcd voter and coordinator, and sends the
   * victim etcd-retire, an etcd-assign with a CA key of its own making, and a snapshot chunk.
   */
  'claim-voter',
  /**
   * A certified member holding the CA key (ownCert, ca) but not the coordinator: sends the
   * victim a well-formed etcd-assign (certificates for it, an initial cluster listing it
   * and `other`, the real CA key), as a voter with a stale view might.
   */
  'assign-not-coordinator',
] as const
export type Scenario = (typeof SCENARIOS)[number]

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/)
const Target = z.object({ key: Hex64, host: z.string(), port: z.number().int() })
export const RogueArgs = z.object({
  clusterId: z.string(),
  /** Lab nodes: all are the DHT bootstrap list (never empty, so never public nodes); `dial` picks the victim. */
  targets: z.array(Target).min(1),
  dial: z.number().int().nonnegative().default(0),
  /** A loopback address of our own for the rogue's DHT node. */
  host: z.string().regex(/^127\./),
  scenario: z.enum(SCENARIOS),
  /** The cluster's join secret (join scenarios that must get past the proof). */
  secret: Hex64.optional(),
  /** Our ed25519 identity (PKCS#8 PEM); a fresh one when absent. */
  identityPem: z.string().optional(),
  /** join-again: the key of our join CSR (one per join attempt, as the agent keeps it). */
  joinKeyPem: z.string().optional(),
  /** join-again: then ask with a fresh key too (never against a signer: it would sign that). */
  otherKey: z.boolean().optional(),
  /** Another member whose names the CSRs claim. */
  other: z.object({ id: z.string(), name: z.string(), address: z.string() }).optional(),
  /** tampered-cert: a valid agent certificate for our own identity, flipped before it is sent. */
  ownCert: z.string().optional(),
  /** assign-not-coordinator: the cluster CA, and the victim's id and address. */
  ca: z.object({ certPem: z.string(), keyPem: z.string() }).optional(),
  victim: z.object({ id: z.string(), address: z.string() }).optional(),
})
export type RogueArgs = z.input<typeof RogueArgs>

/** One stdout line: what the rogue did, and which drop it expects the agent to count. */
export interface RogueLine {
  event: 'ready' | 'connected' | 'sent' | 'captured' | 'reply' | 'closed' | 'done' | 'error'
  [k: string]: unknown
}

/** Every answer a request (join, renewal, node certificate) can get from a signer. */
const REPLY_TYPES = [
  'join-signed',
  'join-pending',
  'join-refused',
  'renewed',
  'renew-refused',
  'node-cert',
  'node-cert-refused',
] as const
type ReplyType = (typeof REPLY_TYPES)[number]

/** What came back for a join: the trust layer's answer, summarised for the test. */
export interface JoinReply {
  t: ReplyType | 'unparsed' | 'none'
  reason?: string
  message?: string
  code?: string
  /** join-signed, renewed, node-cert: the certificate's CN and profile; join-signed: whether the reply proof verified. */
  certCn?: string
  certProfile?: string
  certDnsNames?: string[]
  certIps?: string[]
  replyProofOk?: boolean
  /** join-signed: the certificate's digest (the same certificate handed back, or another). */
  certSha256?: string
  /** unparsed: why our schema refused the frame. */
  detail?: string
}

/** The part of hyperdht's encrypted stream we use (the package ships no types). */
interface NoiseSocket extends EventEmitter {
  remotePublicKey: Buffer
  handshakeHash: Buffer | null
  write(b: Buffer): boolean
  destroy(): void
}

const connectTimeoutMs = 15_000
const captureTimeoutMs = 10_000
/** A signer answers a join within milliseconds; this allows for a loaded 2-core machine. */
const replyTimeoutMs = 20_000
/** join-again: a member learns a certificate its signer issued within a moment (certs on its links). */
const joinAgainTriesMax = 20
/** Time for the agent to read what we sent before we hang up. */
const drainMs = 800
/** Declared by the oversized frame: far above any frameBytesMax the config allows (1 MiB). */
const oversizedDeclaredBytes = 10 * 1024 * 1024
const dhtDestroyMsMax = 2000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const startedMs = Date.now()
/** Prints one line, stamped with the milliseconds since start (slow steps show up in reports). */
function out(line: RogueLine): void {
  process.stdout.write(`${JSON.stringify({ ...line, ms: Date.now() - startedMs })}\n`)
}

/** A length-prefixed frame around arbitrary bytes, valid JSON or not. */
function rawFrame(body: Buffer | string): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body)
  const frame = Buffer.alloc(4 + b.length)
  frame.writeUInt32BE(b.length, 0)
  b.copy(frame, 4)
  return frame
}

export const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex')

/**
 * The same certificate with the last byte of its DER flipped: the last byte of the
 * signature BIT STRING, so it still parses but no longer verifies.
 */
export function flipSignatureByte(pem: string): string {
  const der = Buffer.from(pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64')
  der[der.length - 1] = der[der.length - 1]! ^ 0x01
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n')
  return `-----BEGIN CERTIFICATE-----\n${b64.trimEnd()}\n-----END CERTIFICATE-----\n`
}

/** A CSR for `commonName` whose subject key is not the key that signed it. */
function csrSignedByAnotherKey(commonName: string): string {
  const csr = forge.pki.createCertificationRequest()
  csr.publicKey = forgePublicKeyOf(generateRsaKeyPem())
  csr.setSubject([{ shortName: 'CN', value: commonName }])
  signSha256(csr, generateRsaKeyPem())
  return forge.pki.certificationRequestToPem(csr)
}

/** A CSR made by OpenSSL, with extensions a joiner may not ask for. */
async function opensslCsr(commonName: string, addext: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hc-rogue-csr-'))
  try {
    await writeFile(join(dir, 'k.pem'), generateRsaKeyPem(), { mode: 0o600 })
    const args = ['req', '-new', '-key', 'k.pem', '-subj', `/CN=${commonName}`, '-sha256']
    for (const e of addext) args.push('-addext', e)
    const r = await execa('openssl', [...args, '-out', 'r.csr'], { cwd: dir, reject: false, all: true })
    if (r.exitCode !== 0) throw new Error(`openssl req failed: ${r.all}`)
    return await readFile(join(dir, 'r.csr'), 'utf8')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Every message type the agent speaks, so the rogue reads what it is sent the way the agent would. */
const AnyMessage = z.discriminatedUnion('t', [
  ...MeshMessage.options,
  ...TRUST_SCHEMAS,
  ...Object.values(SWIM_SCHEMAS),
  EtcdAssign,
  EtcdRetire,
  SnapshotChunk,
])
type AnyMessage = z.infer<typeof AnyMessage>
const ALL_SCHEMAS = new Map(AnyMessage.options.map((o) => [o.shape.t.value, { schema: o }] as const))
const parseMessage = (payload: Buffer) => {
  const r = parseWith(ALL_SCHEMAS, payload)
  return r.ok ? { ok: true as const, msg: r.msg as AnyMessage } : r
}

const JOIN_REPLIES = new Set<string>(REPLY_TYPES)

/** The parts of a certificate the tests look at; empty when it does not parse. */
function certSummary(pem: string): Pick<JoinReply, 'certCn' | 'certProfile' | 'certDnsNames' | 'certIps'> {
  try {
    const info = readCertificate(pem)
    return {
      certCn: info.commonName,
      certProfile: info.profile,
      certDnsNames: info.dnsNames,
      certIps: info.ips,
    }
  } catch {
    return { certCn: '', certProfile: 'unknown', certDnsNames: [], certIps: [] }
  }
}

/** One Noise connection to the victim and everything it told us. */
class Conn {
  readonly captured = new Map<string, SignedRecord>()
  /** CN → sha256 of the PEM, for every certificate the agent showed us (hello, certs). */
  readonly certs = new Map<string, string>()
  readonly certPems = new Map<string, string>()
  frames = 0
  /** Anti-entropy digests the agent sent us (it answers members only). */
  digests = 0
  closed = false
  readonly closedP: Promise<void>
  private readonly replies: JoinReply[] = []
  /** The certificate of the last join-signed answer. */
  signedCert: string | undefined
  private wake: (() => void) | null = null
  private readonly decoder = new FrameDecoder()

  constructor(
    readonly label: string,
    readonly socket: NoiseSocket,
    private readonly secret: string | undefined,
    private readonly nodeId: string,
  ) {
    this.closedP = new Promise<void>((resolve) =>
      socket.once('close', () => {
        this.closed = true
        this.wake?.()
        resolve()
      }),
    )
    socket.on('error', (err: Error) =>
      out({ event: 'error', where: `socket ${label}`, message: err.message }),
    )
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
  }

  get handshakeHash(): Buffer {
    return Buffer.from(this.socket.handshakeHash ?? Buffer.alloc(0))
  }

  private onData(chunk: Buffer): void {
    for (const f of this.decoder.push(chunk)) {
      if (!f.ok) continue
      this.frames++
      const p = parseMessage(f.payload)
      if (!p.ok) {
        this.push({ t: 'unparsed', detail: p.detail })
        continue
      }
      const msg = p.msg
      if (msg.t === 'trust-digest') this.digests++
      // Answer probes as any agent does, so a scenario that means to stay a member is not
      // declared dead by the failure detector meanwhile (it is a liar, not a corpse).
      if (msg.t === 'ping' && msg.target === this.nodeId)
        this.socket.write(encodeFrame({ t: 'ack', seq: msg.seq, links: [], gossip: [] }))
      const recs =
        msg.t === 'rec'
          ? [msg.r]
          : msg.t === 'relay'
            ? msg.rs
            : 'gossip' in msg
              ? msg.gossip.flatMap((u) => ('record' in u ? [u.record] : []))
              : []
      // Keep the first copy seen of each member: the oldest evidence, replayed later.
      for (const r of recs) if (!this.captured.has(r.body.id)) this.captured.set(r.body.id, r)
      const pems = msg.t === 'hello' ? [msg.cert] : msg.t === 'certs' ? msg.certs : []
      for (const pem of pems) {
        try {
          const cn = readCertificate(pem).commonName
          this.certs.set(cn, sha256Hex(pem))
          this.certPems.set(cn, pem)
        } catch {}
      }
      if (JOIN_REPLIES.has(msg.t)) this.push(this.summarise(msg))
    }
  }

  private summarise(msg: AnyMessage): JoinReply {
    switch (msg.t) {
      case 'join-refused':
      case 'renew-refused':
      case 'node-cert-refused':
        return { t: msg.t, reason: msg.reason, message: msg.message }
      case 'join-pending':
        return { t: msg.t, code: msg.code }
      case 'join-signed': {
        this.signedCert = msg.cert
        const replyProofOk =
          this.secret !== undefined &&
          proofMatches(replyProof(this.secret, this.handshakeHash, this.nodeId, msg.cert, msg.ca), msg.proof)
        return { t: msg.t, ...certSummary(msg.cert), certSha256: sha256Hex(msg.cert), replyProofOk }
      }
      case 'renewed':
      case 'node-cert':
        return { t: msg.t, ...certSummary(msg.cert) }
      default:
        return { t: 'unparsed', detail: `not an answer: ${msg.t}` }
    }
  }

  private push(r: JoinReply): void {
    this.replies.push(r)
    this.wake?.()
  }

  /** The next join answer (or unparseable frame); 'none' when nothing came in time or the agent hung up. */
  async nextReply(timeoutMs = replyTimeoutMs): Promise<JoinReply> {
    const deadline = Date.now() + timeoutMs
    while (this.replies.length === 0 && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(0, deadline - Date.now()))
        this.wake = () => {
          clearTimeout(t)
          resolve()
        }
      })
      this.wake = null
    }
    return this.replies.shift() ?? { t: 'none' }
  }

  /** Answers that arrived although we asked nothing (checked at the end). */
  unasked(): JoinReply[] {
    return this.replies.splice(0)
  }
}

async function main(): Promise<void> {
  const args = RogueArgs.parse(JSON.parse(process.argv[2] ?? '{}'))
  const target = args.targets[args.dial]
  if (!target) throw new Error(`no target ${args.dial}`)
  const me: Identity = args.identityPem ? identityFromPem(args.identityPem) : newIdentity()
  const keyPair = HyperDHT.keyPair(me.seed)
  if (!keyPair.publicKey.equals(me.publicKey)) throw new Error('Noise key differs from the record key')
  const dht = new HyperDHT({
    // Only the lab: an undefined list would make hyperdht use public bootstrap nodes.
    bootstrap: args.targets.map((t) => ({ host: t.host, port: t.port })),
    host: args.host,
    port: 0,
    ephemeral: true,
    keyPair,
  })
  const bootstrapNodes = dht.bootstrapNodes.map((n) => `${n.host}:${n.port}`)
  out({ event: 'ready', id: me.id, publicKey: me.publicKey.toString('hex'), host: args.host, bootstrapNodes })

  /** A new connection to the victim with `who`'s Noise key, open and ready. */
  const connect = async (label: string, who: Identity): Promise<Conn> => {
    const kp = HyperDHT.keyPair(who.seed)
    const socket = dht.connect(Buffer.from(target.key, 'hex'), {
      relayAddresses: [{ host: target.host, port: target.port }],
      keyPair: kp,
    }) as NoiseSocket
    const c = new Conn(label, socket, args.secret, who.id)
    await Promise.race([
      new Promise<void>((resolve) => socket.once('open', resolve)),
      c.closedP.then(() => {
        throw new Error(`connection ${label} closed before it opened`)
      }),
      sleep(connectTimeoutMs).then(() => {
        throw new Error(`no connection to ${target.host}:${target.port} after ${connectTimeoutMs} ms`)
      }),
    ])
    out({
      event: 'connected',
      conn: label,
      id: who.id,
      remote: Buffer.from(socket.remotePublicKey).toString('hex'),
      handshakeHash: c.handshakeHash.toString('hex'),
    })
    return c
  }
  const hangUp = async (c: Conn) => {
    if (!c.closed) c.socket.destroy()
    await Promise.race([c.closedP, sleep(5000)])
    out({ event: 'closed', conn: c.label })
  }

  const conn = await connect('A', me)
  const socket = conn.socket

  const send = (what: string, expect: string, buf: Buffer, count = 1, c: Conn = conn) => {
    c.socket.write(buf)
    out({ event: 'sent', conn: c.label, what, expect, count, bytes: buf.length })
  }
  const frame = (msg: AnyMessage) => encodeFrame(msg)
  /** Sends a join and prints what came back. */
  const ask = async (what: string, expect: string, buf: Buffer, c: Conn = conn): Promise<JoinReply> => {
    send(what, expect, buf, 1, c)
    const reply = await c.nextReply()
    out({ event: 'reply', conn: c.label, what, expect, ...reply })
    return reply
  }
  const needSecret = (): string => {
    if (!args.secret) throw new Error(`${args.scenario} needs the join secret`)
    return args.secret
  }
  const needOther = () => {
    if (!args.other) throw new Error(`${args.scenario} needs another member (other)`)
    return args.other
  }
  const ownName = `rogue-${me.id.slice(0, 6)}`
  /** A join as the agent sends it: the proof binds secret, this connection, our id and the CSR. */
  const joinFrame = (o: { secret: string; csrPem: string; name?: string; c?: Conn }) =>
    frame({
      t: 'join-request',
      name: o.name ?? ownName,
      csr: o.csrPem,
      proof: joinProof(o.secret, (o.c ?? conn).handshakeHash, me.id, o.csrPem),
    })
  /** Other members' real records, as relayed to us by the victim. */
  const othersCaptured = async (): Promise<SignedRecord[]> => {
    // An empty digest asks the agent for everything it holds (SWIM's anti-entropy).
    conn.socket.write(frame({ t: 'digest', entries: [], reply: false, last: true, gossip: [] }))
    const deadline = Date.now() + captureTimeoutMs
    for (;;) {
      const others = [...conn.captured.values()].filter((r) => r.body.publicKey !== target.key)
      if (others.length > 0 || Date.now() > deadline) {
        out({
          event: 'captured',
          ids: [...conn.captured.keys()],
          others: others.map((r) => r.body.id),
          frames: conn.frames,
        })
        if (others.length === 0) throw new Error('the agent relayed no member records to capture')
        return others
      }
      await sleep(100)
    }
  }
  /** Member certificates the victim showed us, other than its own and ours. */
  const memberCertsCaptured = async (): Promise<[string, string][]> => {
    const victimId = nodeIdFromPublicKey(Buffer.from(target.key, 'hex'))
    const deadline = Date.now() + captureTimeoutMs
    for (;;) {
      const others = [...conn.certPems].filter(([cn]) => cn !== victimId && cn !== me.id)
      if (others.length > 0 || Date.now() > deadline) {
        out({ event: 'captured', certs: [...conn.certs.keys()], others: others.map(([cn]) => cn) })
        if (others.length === 0) throw new Error('the agent showed no member certificates to capture')
        return others
      }
      await sleep(100)
    }
  }
  const ownBody = (over: Parameters<typeof recordBody>[1] = {}) =>
    recordBody(me, {
      cluster: args.clusterId,
      name: ownName,
      addresses: [args.host],
      ...over,
    })

  switch (args.scenario) {
    case 'malformed': {
      send('not JSON', 'malformed', rawFrame('{"t":"rec", this is not json'))
      send('empty frame', 'malformed', rawFrame(''))
      send('invalid utf-8', 'malformed', rawFrame(Buffer.from([0xff, 0xfe, 0x00, 0x7b])))
      send(
        'JSON failing the schema',
        'malformed',
        rawFrame(JSON.stringify({ t: 'rec', r: { body: {}, sig: 'x' } })),
      )
      send('unknown message type', 'malformed', rawFrame(JSON.stringify({ t: 'hello', from: me.id })))
      send(
        'negative incarnation notice',
        'malformed',
        rawFrame(JSON.stringify({ t: 'suspect', incarnation: -1 })),
      )
      const other = newIdentity()
      const tooMany = Array.from({ length: WIRE_LIMITS.recordsPerFrameMax + 1 }, () =>
        signRecord(recordBody(other, { cluster: args.clusterId }), other),
      )
      send(
        'relay over recordsPerFrameMax',
        'malformed',
        rawFrame(JSON.stringify({ t: 'relay', rs: tooMany })),
      )
      break
    }
    case 'unsigned': {
      const body = ownBody()
      send('own record without sig (rec)', 'malformed', rawFrame(JSON.stringify({ t: 'rec', r: { body } })))
      send(
        'own record without sig (relay)',
        'malformed',
        rawFrame(JSON.stringify({ t: 'relay', rs: [{ body }] })),
      )
      send(
        'own record with empty sig',
        'malformed',
        rawFrame(JSON.stringify({ t: 'rec', r: { body, sig: '' } })),
      )
      break
    }
    case 'wrongly-signed': {
      const stranger = newIdentity()
      // Our own identity (so it is not impersonation), signed by a key that is not ours.
      send(
        'own record signed by another key',
        'bad-signature',
        frame({ t: 'rec', r: signRecord(ownBody(), stranger) }),
      )
      const tampered = signRecord(ownBody(), me)
      tampered.body = { ...tampered.body, roles: ['coordinator'] }
      send('own record altered after signing', 'bad-signature', frame({ t: 'rec', r: tampered }))
      // Validly signed, but the id is not derived from the signing key.
      const wrongId = signRecord(recordBody(stranger, { cluster: args.clusterId, id: me.id }), stranger)
      send('relayed record with an id not of its key', 'bad-signature', frame({ t: 'relay', rs: [wrongId] }))
      break
    }
    case 'impersonation': {
      const other = newIdentity()
      const otherRec = signRecord(recordBody(other, { cluster: args.clusterId }), other)
      send('valid record of another identity as own rec', 'impersonation', frame({ t: 'rec', r: otherRec }))
      const [member] = await othersCaptured()
      send('a real member record as own rec', 'impersonation', frame({ t: 'rec', r: member! }))
      break
    }
    case 'replayed': {
      const others = await othersCaptured()
      // Let the members heartbeat on: what we hold is now old evidence.
      await sleep(1000)
      const copies = WIRE_LIMITS.recordsPerFrameMax
      const rounds = 8
      const rs = Array.from({ length: copies }, (_, i) => others[i % others.length]!)
      for (let i = 0; i < rounds; i++) socket.write(frame({ t: 'relay', rs }))
      out({
        event: 'sent',
        what: 'captured member records replayed as relay',
        expect: 'stale',
        count: copies * rounds,
        records: others.map((r) => ({
          id: r.body.id,
          incarnation: r.body.incarnation,
          heartbeat: r.body.heartbeat,
        })),
      })
      break
    }
    case 'other-cluster': {
      let otherCluster = newClusterId()
      while (otherCluster === args.clusterId) otherCluster = newClusterId()
      send(
        'own record of another cluster (rec)',
        'other-cluster',
        frame({ t: 'rec', r: signRecord(ownBody({ cluster: otherCluster }), me) }),
      )
      const other = newIdentity()
      send(
        'record of another cluster (relay)',
        'other-cluster',
        frame({ t: 'relay', rs: [signRecord(recordBody(other, { cluster: otherCluster }), other)] }),
      )
      break
    }
    case 'forged-notice': {
      // From a non-member: the agent refutes by jumping past it, to a number no record schema accepts.
      send(
        'dead notice at MAX_SAFE_INTEGER',
        'none',
        frame({ t: 'dead', incarnation: Number.MAX_SAFE_INTEGER }),
      )
      // Within the schema's bound, but from a stranger: ignored, not obeyed.
      send('dead notice at a plausible incarnation', 'not-member', frame({ t: 'dead', incarnation: 5 }))
      break
    }
    case 'oversized': {
      const header = Buffer.alloc(4 + 64)
      header.writeUInt32BE(oversizedDeclaredBytes, 0)
      send(`frame header declaring ${oversizedDeclaredBytes} bytes`, 'oversized', header)
      await Promise.race([conn.closedP, sleep(5000)])
      break
    }
    case 'join-wrong-secret': {
      // As a real joiner does: our own (valid, uncertified) record first, then the join.
      send(
        'own signed record before joining',
        'uncertified',
        frame({ t: 'rec', r: signRecord(ownBody(), me) }),
      )
      const wrong = createHash('sha256').update(`not the secret ${me.id}`).digest('hex')
      const { csrPem } = createCsr({ commonName: me.id })
      await ask(
        'join with a proof under a wrong secret',
        'join-refused:bad-proof',
        joinFrame({ secret: wrong, csrPem }),
      )
      break
    }
    case 'join-replay': {
      const secret = needSecret()
      const { csrPem } = createCsr({ commonName: me.id })
      const original = joinFrame({ secret, csrPem })
      const a = await ask('valid join on connection A', 'join-signed', original)
      if (a.t !== 'join-signed') break
      await hangUp(conn)
      // The very same bytes on a new Noise session of the same key: a different handshake hash.
      const b = await connect('B', me)
      await ask('join frame of A replayed on connection B (same key)', 'join-refused:bad-proof', original, b)
      await hangUp(b)
      // And by someone else who got hold of the frame.
      const thief = newIdentity()
      const c = await connect('C', thief)
      await ask(
        'join frame of A replayed on connection C (another key)',
        'join-refused:bad-proof',
        original,
        c,
      )
      await hangUp(c)
      break
    }
    case 'join-csr-mismatch': {
      const secret = needSecret()
      const other = needOther()
      await ask(
        "CSR with another node's id as CN",
        'join-refused:bad-csr',
        joinFrame({ secret, csrPem: createCsr({ commonName: other.id }).csrPem }),
      )
      await ask(
        'CSR whose subject key did not sign it',
        'join-refused:bad-csr',
        joinFrame({ secret, csrPem: csrSignedByAnotherKey(me.id) }),
      )
      // A CN far longer than a node id: the refusal quotes it, and must still reach us intact.
      await ask(
        'CSR with a 600-character CN',
        'join-refused:bad-csr',
        joinFrame({ secret, csrPem: createCsr({ commonName: `${me.id}${'x'.repeat(580)}` }).csrPem }),
      )
      break
    }
    case 'join-csr-rights': {
      const secret = needSecret()
      const other = needOther()
      const asks: [string, string[]][] = [
        ['CSR asking for CA:TRUE', ['basicConstraints=critical,CA:TRUE']],
        ['CSR asking for keyCertSign', ['keyUsage=critical,keyCertSign,cRLSign']],
        [`CSR asking for another node's name (DNS:${other.name})`, [`subjectAltName=DNS:${other.name}`]],
        [`CSR asking for another node's id (DNS:${other.id})`, [`subjectAltName=DNS:${other.id}`]],
        [
          `CSR asking for another node's address (IP:${other.address})`,
          [`subjectAltName=IP:${other.address}`],
        ],
      ]
      for (const [what, addext] of asks) {
        const csrPem = await opensslCsr(me.id, addext)
        await ask(what, 'join-refused:bad-csr', joinFrame({ secret, csrPem }))
      }
      break
    }
    case 'join-name-taken': {
      const secret = needSecret()
      const other = needOther()
      const { csrPem } = createCsr({ commonName: me.id })
      await ask(
        `join naming itself ${other.name} (another member's name)`,
        'join-refused',
        joinFrame({ secret, csrPem, name: other.name }),
      )
      break
    }
    case 'join-oversized-csr': {
      const secret = args.secret ?? createHash('sha256').update('any').digest('hex')
      const body = 'A'.repeat(TRUST_LIMITS.pemCharsMax + 1000)
      const csr = `-----BEGIN CERTIFICATE REQUEST-----\n${body}\n-----END CERTIFICATE REQUEST-----\n`
      const proof = joinProof(secret, conn.handshakeHash, me.id, csr)
      send(
        `join frame with a ${csr.length}-character csr`,
        'malformed',
        rawFrame(JSON.stringify({ t: 'join-request', name: ownName, csr, proof })),
      )
      const reply = await conn.nextReply(3000)
      out({ event: 'reply', conn: conn.label, what: 'oversized csr', expect: 'none', ...reply })
      break
    }
    case 'tampered-cert': {
      if (!args.ownCert) throw new Error('tampered-cert needs ownCert')
      const [[memberCn, memberPem]] = (await memberCertsCaptured()) as [[string, string]]
      send(
        'hello with our own certificate, one signature byte flipped',
        'bad-certificate',
        frame({ t: 'hello', cert: flipSignatureByte(args.ownCert), ask: false }),
      )
      send(
        `certs with member ${memberCn}'s certificate, one signature byte flipped`,
        'bad-certificate',
        frame({ t: 'certs', certs: [flipSignatureByte(memberPem)] }),
      )
      // Someone else's certificate as our own: refused before its signature is even looked at.
      send(
        `hello with member ${memberCn}'s certificate, one signature byte flipped`,
        'impersonation',
        frame({ t: 'hello', cert: flipSignatureByte(memberPem), ask: true }),
      )
      out({ event: 'captured', member: memberCn, memberSha: sha256Hex(memberPem) })
      break
    }
    case 'claim-voter': {
      const secret = needSecret()
      const { csrPem } = createCsr({ commonName: me.id })
      const joined = await ask('valid join', 'join-signed', joinFrame({ secret, csrPem }))
      if (joined.t !== 'join-signed' || !conn.signedCert) throw new Error(`join not signed: ${joined.t}`)
      const cert = conn.signedCert
      send('hello with our new certificate', 'none', frame({ t: 'hello', cert, ask: true }))
      const claimMs = 9000
      const heartbeatMs = 300
      const base = ownBody({ roles: ['etcd-voter', 'coordinator'] })
      const liar = (heartbeat: number) =>
        frame({
          t: 'rec',
          r: signRecord({ ...base, facts: { ...base.facts, arch: 'amd64' }, heartbeat }, me),
        })
      send('own record claiming etcd-voter and coordinator', 'role-claim', liar(1))
      let beat = 1
      const beating = setInterval(() => conn.socket.write(liar(++beat)), heartbeatMs)
      try {
        await sleep(2000)
        send(
          'etcd-retire to the victim',
          'retire-not-coordinator',
          frame({ t: 'etcd-retire', memberId: '1' }),
        )
        const madeUp = { cert, key: generateRsaKeyPem() }
        send(
          'etcd-assign with a CA key of our own making',
          'assign-refused',
          frame({
            t: 'etcd-assign',
            memberId: 'abc',
            initialCluster: `${me.id}=https://${args.host}:2380`,
            token: args.clusterId,
            peer: madeUp,
            server: madeUp,
            client: madeUp,
            caKey: generateRsaKeyPem(),
          }),
        )
        const data = Buffer.from('not an etcd snapshot')
        send(
          'snapshot chunk from a node that is no voter',
          'snapshot-not-voter',
          frame({
            t: 'snapshot-chunk',
            name: `snap-${Date.now()}-r1`,
            sha256: createHash('sha256').update(data).digest('hex'),
            revision: 1,
            takenAtMs: Date.now(),
            total: data.length,
            offset: 0,
            data: data.toString('base64'),
          }),
        )
        await sleep(claimMs - 2000)
      } finally {
        clearInterval(beating)
      }
      break
    }
    case 'assign-not-coordinator': {
      if (!args.ownCert || !args.ca || !args.victim)
        throw new Error('assign-not-coordinator needs ownCert, ca, victim')
      const other = needOther()
      send('hello with a valid certificate', 'none', frame({ t: 'hello', cert: args.ownCert, ask: true }))
      const body = ownBody({ roles: ['worker'] })
      const rec = (heartbeat: number) =>
        frame({
          t: 'rec',
          r: signRecord({ ...body, facts: { ...body.facts, arch: 'amd64' }, heartbeat }, me),
        })
      send('own record', 'none', rec(1))
      let beat = 1
      const beating = setInterval(() => conn.socket.write(rec(++beat)), 300)
      try {
        const certs = await issueEtcdCerts({
          ca: args.ca,
          nodeId: args.victim.id,
          address: args.victim.address,
          clock: systemClock(),
        })
        await sleep(1500)
        const pair = (p: 'etcd-peer' | 'etcd-server' | 'etcd-client') => ({
          cert: certs[p].certPem,
          key: certs[p].keyPem,
        })
        send(
          'a well-formed etcd-assign from a member that is not the coordinator',
          'assign-refused',
          frame({
            t: 'etcd-assign',
            memberId: 'abc',
            initialCluster: formatInitialCluster([
              { name: other.id, peerUrl: `https://${other.address}:2380` },
              { name: args.victim.id, peerUrl: `https://${args.victim.address}:2380` },
            ]),
            token: args.clusterId,
            peer: pair('etcd-peer'),
            server: pair('etcd-server'),
            client: pair('etcd-client'),
            caKey: args.ca.keyPem,
          }),
        )
        await sleep(4000)
      } finally {
        clearInterval(beating)
      }
      break
    }
    case 'node-cert-other-name': {
      const secret = needSecret()
      const other = needOther()
      // Keys off the event loop: a loaded machine takes seconds per key, and a connection
      // silent that long is dropped as stale.
      const keys = await Promise.all(Array.from({ length: 6 }, () => generateRsaKeyPemAsync()))
      const joined = await ask(
        'a valid join',
        'join-signed',
        joinFrame({ secret, csrPem: createCsr({ commonName: me.id, keyPem: keys[5] }).csrPem }),
      )
      if (joined.t !== 'join-signed') throw new Error(`the join was not signed: ${JSON.stringify(joined)}`)
      // Now a member: our record makes our name known to the signer.
      for (let i = 0; i < 3; i++) {
        send(
          'our own record',
          'accepted',
          frame({ t: 'rec', r: signRecord(ownBody({ heartbeat: i + 1 }), me) }),
        )
        await sleep(300)
      }
      let k = 0
      const nodeCsr = (cn: string, o: string) =>
        createCsr({ commonName: cn, organizations: [o], keyPem: keys[k++] }).csrPem
      const askNodeCert = (name: string, csr: string, profile: 'kubelet' | 'kwok') =>
        frame({ t: 'node-cert-request', profile, name, csr })
      await ask(
        'kubelet certificate for our own name',
        'node-cert',
        askNodeCert(ownName, nodeCsr(`system:node:${ownName}`, 'system:nodes'), 'kubelet'),
      )
      await ask(
        `kubelet certificate for ${other.name}`,
        'node-cert-refused:name-not-own',
        askNodeCert(other.name, nodeCsr(`system:node:${other.name}`, 'system:nodes'), 'kubelet'),
      )
      await ask(
        `kubelet certificate under our name, CSR naming ${other.name}`,
        'node-cert-refused:bad-csr',
        askNodeCert(ownName, nodeCsr(`system:node:${other.name}`, 'system:nodes'), 'kubelet'),
      )
      await ask(
        `kwok certificate for ${other.name}`,
        'node-cert-refused:name-not-own',
        askNodeCert(other.name, nodeCsr(`homecloud-kwok:${other.name}`, 'homecloud:kwok'), 'kwok'),
      )
      await ask(
        'kubelet certificate under our name asking for system:masters',
        'node-cert-refused:bad-csr',
        askNodeCert(ownName, nodeCsr(`system:node:${ownName}`, 'system:masters'), 'kubelet'),
      )
      break
    }
    case 'forged-gossip': {
      const other = needOther()
      const key = generateRsaKeyPem()
      const approval = signApproval(
        { clusterId: args.clusterId, nodeId: me.id, name: ownName, approvedAtMs: Date.now() },
        key,
      )
      send(
        'an approval of ourselves signed by our own key',
        'bad-approval',
        frame({ t: 'approval', approval }),
      )
      const settings = {
        id: args.clusterId,
        name: 'forged',
        joinPolicy: 'approve',
        certValidityMs: 86_400_000,
      }
      send(
        'settings (join policy approve, version 99) signed by our own key',
        'bad-settings',
        frame({ t: 'settings', signed: signSettings(99, settings as never, key) }),
      )
      const body = { clusterId: args.clusterId, version: 99, entries: [] as never[] }
      const entry = { serial: '1f', nodeId: other.id, revokedAtMs: Date.now(), reason: 'forged' }
      send(
        `a revocation list naming ${other.name}, signed by our own key`,
        'bad-revocations',
        frame({ t: 'revocations', list: signRevocations({ ...body, entries: [entry] }, key) }),
      )
      // Anti-entropy: a stranger claiming a newer list asks for a digest back (members only get one).
      const digest = {
        t: 'trust-digest',
        revocations: { version: 99, count: 1, signature: 'AAAA' },
        settings: null,
        approvals: [],
        approvalsMore: false,
        reply: true,
      }
      send('a digest from a stranger claiming revocations version 99', 'ignored', frame(digest as never))
      const ids = Array.from({ length: TRUST_LIMITS.digestApprovalsMax + 1 }, (_, i) => `${i}`)
      send(
        `a digest listing ${ids.length} approvals (over the limit)`,
        'malformed',
        frame({ ...digest, approvals: ids } as never),
      )
      await sleep(1500)
      break
    }
    case 'join-again': {
      const secret = needSecret()
      if (!args.joinKeyPem) throw new Error('join-again needs joinKeyPem')
      const { csrPem } = createCsr({ commonName: me.id, keyPem: args.joinKeyPem })
      // As a real joiner does: our record first; once signed it spreads by gossip, and
      // members that see it ask for its certificate.
      send('own signed record before joining', 'none', frame({ t: 'rec', r: signRecord(ownBody(), me) }))
      let reply: JoinReply = { t: 'none' }
      for (let i = 0; i < joinAgainTriesMax && reply.t !== 'join-signed'; i++) {
        if (i > 0) await sleep(1000)
        reply = await ask(`join, try ${i + 1}`, 'join-signed', joinFrame({ secret, csrPem }))
      }
      if (args.otherKey) {
        const other = createCsr({ commonName: me.id }).csrPem
        await ask('join with another key', 'join-refused', joinFrame({ secret, csrPem: other }))
      }
      break
    }
    case 'listen': {
      // What a newcomer is shown: the agent sends its record, view and certificates at once.
      await sleep(1500)
      break
    }
  }

  await Promise.race([conn.closedP, sleep(drainMs)])
  out({
    event: 'done',
    closedByPeer: conn.closed,
    framesReceived: conn.frames,
    digestsReceived: conn.digests,
    captured: [...conn.captured.keys()],
    certs: Object.fromEntries(conn.certs),
    unasked: conn.unasked(),
  })
  if (!conn.closed) socket.destroy()
  // Everything is reported; a DHT teardown can take seconds on a loaded machine, and
  // process.exit ends whatever is left of it.
  const destroyed = await Promise.race([
    dht.destroy({ force: true }).then(() => true),
    sleep(dhtDestroyMsMax),
  ])
  if (destroyed !== true) out({ event: 'closed', what: `dht teardown cut short after ${dhtDestroyMsMax} ms` })
}

// Run only as a script: the test imports this module for its types and scenario list.
const entry = process.argv[1]
if (entry && realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url))) {
  main().then(
    () => process.exit(0),
    (err: Error) => {
      out({ event: 'error', where: 'main', message: err.message })
      process.exit(1)
    },
  )
}
