// A hostile mesh peer, run as its own process:
//   node --import tsx test/support/rogue-peer.ts '<json RogueArgs>'
// It holds a real Noise identity, dials one lab agent directly and sends it bad input
// for one scenario, printing one JSON line per action on stdout. It never sends a
// valid record of its own cluster identity, so it must never become a member.
import type { EventEmitter } from 'node:events'
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import HyperDHT from 'hyperdht'
import { z } from 'zod'
import { newClusterId } from '../../agent/mesh/cluster-id.js'
import { parseMessage } from '../../agent/mesh/intake.js'
import { type SignedRecord, signRecord } from '../../agent/mesh/record.js'
import { encodeFrame, FrameDecoder, type MeshMessage, WIRE_LIMITS } from '../../agent/mesh/wire.js'
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
] as const
export type Scenario = (typeof SCENARIOS)[number]

const Target = z.object({ key: z.string().regex(/^[0-9a-f]{64}$/), host: z.string(), port: z.number().int() })
export const RogueArgs = z.object({
  clusterId: z.string(),
  /** Lab nodes: all are the DHT bootstrap list (never empty, so never public nodes); `dial` picks the victim. */
  targets: z.array(Target).min(1),
  dial: z.number().int().nonnegative().default(0),
  /** A loopback address of our own for the rogue's DHT node. */
  host: z.string().regex(/^127\./),
  scenario: z.enum(SCENARIOS),
})
export type RogueArgs = z.input<typeof RogueArgs>

/** One stdout line: what the rogue did, and which drop it expects the agent to count. */
export interface RogueLine {
  event: 'ready' | 'connected' | 'sent' | 'captured' | 'closed' | 'done' | 'error'
  [k: string]: unknown
}

/** The part of hyperdht's encrypted stream we use (the package ships no types). */
interface NoiseSocket extends EventEmitter {
  remotePublicKey: Buffer
  write(b: Buffer): boolean
  destroy(): void
}

const connectTimeoutMs = 15_000
const captureTimeoutMs = 10_000
/** Time for the agent to read what we sent before we hang up. */
const drainMs = 800
/** Declared by the oversized frame: far above any frameBytesMax the config allows (1 MiB). */
const oversizedDeclaredBytes = 10 * 1024 * 1024
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function out(line: RogueLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

/** A length-prefixed frame around arbitrary bytes, valid JSON or not. */
function rawFrame(body: Buffer | string): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body)
  const frame = Buffer.alloc(4 + b.length)
  frame.writeUInt32BE(b.length, 0)
  b.copy(frame, 4)
  return frame
}

async function main(): Promise<void> {
  const args = RogueArgs.parse(JSON.parse(process.argv[2] ?? '{}'))
  const target = args.targets[args.dial]
  if (!target) throw new Error(`no target ${args.dial}`)
  const me = newIdentity()
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

  const socket = dht.connect(Buffer.from(target.key, 'hex'), {
    relayAddresses: [{ host: target.host, port: target.port }],
    keyPair,
  }) as NoiseSocket
  let closed = false
  const closedP = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true
      resolve()
    }),
  )
  socket.on('error', (err: Error) => out({ event: 'error', where: 'socket', message: err.message }))

  // Everything the agent sends us: its own heartbeat and relays of the other members.
  const captured = new Map<string, SignedRecord>()
  let frames = 0
  const decoder = new FrameDecoder()
  socket.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) {
      if (!f.ok) continue
      frames++
      const p = parseMessage(f.payload)
      if (!p.ok) continue
      const recs = p.msg.t === 'rec' ? [p.msg.r] : p.msg.t === 'relay' ? p.msg.rs : []
      // Keep the first copy seen of each member: the oldest evidence, replayed later.
      for (const r of recs) if (!captured.has(r.body.id)) captured.set(r.body.id, r)
    }
  })

  await Promise.race([
    new Promise<void>((resolve) => socket.once('open', resolve)),
    closedP.then(() => {
      throw new Error('connection closed before it opened')
    }),
    sleep(connectTimeoutMs).then(() => {
      throw new Error(`no connection to ${target.host}:${target.port} after ${connectTimeoutMs} ms`)
    }),
  ])
  out({ event: 'connected', remote: Buffer.from(socket.remotePublicKey).toString('hex') })

  const send = (what: string, expect: string, buf: Buffer, count = 1) => {
    socket.write(buf)
    out({ event: 'sent', what, expect, count, bytes: buf.length })
  }
  const frame = (msg: MeshMessage) => encodeFrame(msg)
  /** Other members' real records, as relayed to us by the victim. */
  const othersCaptured = async (): Promise<SignedRecord[]> => {
    const deadline = Date.now() + captureTimeoutMs
    for (;;) {
      const others = [...captured.values()].filter((r) => r.body.publicKey !== target.key)
      if (others.length > 0 || Date.now() > deadline) {
        out({ event: 'captured', ids: [...captured.keys()], others: others.map((r) => r.body.id), frames })
        if (others.length === 0) throw new Error('the agent relayed no member records to capture')
        return others
      }
      await sleep(100)
    }
  }
  const ownBody = (over: Parameters<typeof recordBody>[1] = {}) =>
    recordBody(me, {
      cluster: args.clusterId,
      name: `rogue-${me.id.slice(0, 6)}`,
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
      await Promise.race([closedP, sleep(5000)])
      break
    }
  }

  await Promise.race([closedP, sleep(drainMs)])
  out({ event: 'done', closedByPeer: closed, framesReceived: frames, captured: [...captured.keys()] })
  if (!closed) socket.destroy()
  await dht.destroy({ force: true })
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
