// A rogue on the release transport: it runs with a real member's identity (so the
// members' connection gaters let it in), announces itself as a provider of a release,
// claims to hold every piece, and serves each one corrupted — one byte flipped, or
// cut short. Started by test/cluster/releases.test.ts in the namespace of a lab node
// whose own agent runs with releases off (the agent keeps it alive in the mesh).
//
//   node --import tsx test/support/rogue-release-peer.ts STATE HOST PORT CLUSTER_ID RELEASE_DIR PEERS
//   PEERS: key@ip,key@ip,…
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLogger } from '../../agent/core/log.js'
import { identityFromPem } from '../../agent/identity/identity.js'
import { clusterTag } from '../../agent/mesh/cluster-id.js'
import { readReleaseDir } from '../../agent/release/dir.js'
import { pieceList } from '../../agent/release/manifest.js'
import { startReleaseP2p } from '../../agent/release/p2p.js'
import { PieceRequest, parseLine, StreamReader, sendAll } from '../../agent/release/piece-protocol.js'

const [state, host, port, clusterId, releaseDir, peerList] = process.argv.slice(2)
const log = createLogger({ node: 'rogue', level: 'info' })
const identity = identityFromPem(await readFile(join(state!, 'identity', 'node.key'), 'utf8'))
const d = await readReleaseDir(releaseDir!)
const pieces = pieceList(d.release.manifest)
const p2p = await startReleaseP2p({
  seed: identity.seed,
  host: host!,
  port: Number(port),
  clusterTag: clusterTag(clusterId!),
  isMember: () => true,
  log,
})
let served = 0
await p2p.node.handle(
  p2p.piecesProtocol,
  async (stream) => {
    try {
      const req = parseLine(PieceRequest, await new StreamReader(stream).line())
      if (!req || req.id !== d.release.id) {
        await sendAll(stream, { ok: false, why: 'unknown' })
      } else if (req.t === 'have') {
        await sendAll(stream, {
          ok: true,
          have: Buffer.alloc(Math.ceil(pieces.length / 8), 0xff).toString('base64'),
        })
      } else {
        const p = pieces[req.i]!
        const buf = Buffer.alloc(p.bytes)
        const fh = await (await import('node:fs/promises')).open(join(releaseDir!, p.file), 'r')
        await fh.read(buf, 0, p.bytes, p.offset).finally(() => fh.close())
        served++
        if (served % 2 === 0) {
          buf[Math.floor(buf.length / 2)]! ^= 0x5a
          await sendAll(stream, { ok: true, bytes: p.bytes }, buf)
        } else {
          // Announced whole, sent cut short.
          await sendAll(stream, { ok: true, bytes: p.bytes }, buf.subarray(0, Math.floor(p.bytes / 3)))
        }
        log.info({ piece: req.i, served }, 'served a corrupted piece')
      }
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  },
  { maxInboundStreams: 64 },
)
const peers = (peerList ?? '').split(',').filter(Boolean)
const announce = async () => {
  for (const p of peers) {
    const [key, addr] = p.split('@')
    await p2p.connect(key!, addr!, Number(port)).catch((err) => log.warn({ err: String(err) }, 'dial failed'))
  }
  await p2p.provide(d.release.id).catch((err) => log.warn({ err: String(err) }, 'provide failed'))
}
await announce()
log.info({ release: d.release.id, peer: p2p.peerId }, 'rogue provider up')
setInterval(() => void announce(), 3000)
