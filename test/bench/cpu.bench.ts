// CPU-only costs of the mesh hot path, in this process: what every heartbeat costs
// its sender (sign, encode) and each receiver (frame split, JSON + schema, verify).
import { createPublicKey, verify as edVerify } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { canonicalJson } from '../../agent/core/canonical.js'
import { parseMessage } from '../../agent/mesh/intake.js'
import { signRecord, verifyRecord } from '../../agent/mesh/record.js'
import { encodeFrame, FrameDecoder, WIRE_LIMITS } from '../../agent/mesh/wire.js'
import { newIdentity, recordBody, signed } from '../support/records.js'
import type { BenchContext, Row } from './types.js'

export const name = 'cpu'

/** Runs `op` in batches for about `durationMs` after a warm-up; returns operations per second. */
function rate(op: () => void, durationMs: number): number {
  const batch = 50
  const warmEnd = performance.now() + Math.min(200, durationMs / 4)
  while (performance.now() < warmEnd) for (let i = 0; i < batch; i++) op()
  let n = 0
  const start = performance.now()
  let elapsed = 0
  while (elapsed < durationMs) {
    for (let i = 0; i < batch; i++) op()
    n += batch
    elapsed = performance.now() - start
  }
  return (n / elapsed) * 1000
}

export async function run(ctx: BenchContext): Promise<Row[]> {
  const ms = ctx.quick ? 300 : 1500
  const id = newIdentity()
  const body = recordBody(id)
  const rec = signRecord(body, id)
  const others = Array.from({ length: WIRE_LIMITS.recordsPerFrameMax }, () => signed(newIdentity()))
  const recFrame = encodeFrame({ t: 'rec', r: rec })
  const relayFrame = encodeFrame({ t: 'relay', rs: others })
  const sink: unknown[] = []
  const keep = (v: unknown) => {
    sink[0] = v
  }
  const parseOne = (frame: Buffer) => {
    const dec = new FrameDecoder()
    return () => {
      for (const f of dec.push(frame)) {
        if (!f.ok) throw new Error('frame rejected')
        const p = parseMessage(f.payload)
        if (!p.ok) throw new Error(p.detail)
        keep(p.msg)
      }
    }
  }

  ctx.progress(`timing each operation for ${ms} ms`)
  const sign = rate(() => keep(signRecord(body, id)), ms)
  const verify = rate(() => {
    if (!verifyRecord(rec)) throw new Error('verify failed')
  }, ms)
  // Where verify's time goes: the bare signature check with the key object built once.
  const key = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), id.publicKey]),
    format: 'der',
    type: 'spki',
  })
  const sigBytes = Buffer.from(rec.sig, 'base64')
  const rawVerify = rate(() => {
    if (!edVerify(null, Buffer.from(`homecloud/record/v1\n${canonicalJson(rec.body)}`), key, sigBytes))
      throw new Error('raw verify failed')
  }, ms)
  const signVerify = rate(() => {
    if (!verifyRecord(signRecord(body, id))) throw new Error('verify failed')
  }, ms)
  const encRec = rate(() => keep(encodeFrame({ t: 'rec', r: rec })), ms)
  const parseRec = rate(parseOne(recFrame), ms)
  const parseRelay = rate(parseOne(relayFrame), ms)
  void sink

  // Each node verifies every peer's heartbeat (relays are mostly duplicates, dropped before verify).
  const share = (n: number) => (2 * (n - 1) * (1 / verify + 1 / parseRec) * 100).toFixed(1)
  return [
    { metric: 'cpu: record sign (ed25519 + canonical JSON)', value: sign, unit: 'ops/s' },
    {
      metric: 'cpu: record verify',
      value: verify,
      unit: 'ops/s',
      note: 'includes createPublicKey per call and the id check',
    },
    {
      metric: 'cpu: verify with a cached key object',
      value: rawVerify,
      unit: 'ops/s',
      note: 'canonical JSON + ed25519 verify only: the gap to "record verify" is key import + id hash',
    },
    {
      metric: 'cpu: record sign+verify',
      value: signVerify,
      unit: 'pairs/s',
      note: `heartbeat intake (verify + parse) at 500 ms ≈ ${share(20)}% of a core per node at 20 nodes, ${share(50)}% at 50`,
    },
    {
      metric: 'cpu: frame encode (rec)',
      value: encRec,
      unit: 'frames/s',
      note: `a rec frame is ${recFrame.length} bytes`,
    },
    {
      metric: 'cpu: frame decode+parse (rec)',
      value: parseRec,
      unit: 'frames/s',
      note: 'FrameDecoder + JSON.parse + zod MeshMessage',
    },
    {
      metric: `cpu: frame decode+parse (relay, ${others.length} records)`,
      value: parseRelay,
      unit: 'frames/s',
      note: `${relayFrame.length} bytes; ${Math.round(parseRelay * others.length).toLocaleString('en-US')} records/s`,
    },
  ]
}
