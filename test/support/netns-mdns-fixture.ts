// Runs one mDNS contact node and prints JSON lines on stdout:
//   {"event":"ready","peerId":...,"ms":...,"rssMb":...}
//   {"event":"peer","dhtHost":...,"dhtPort":...,"ms":...}
// `ms` counts from just before startMdnsContact. Logs go to stderr.
// Usage: node --import tsx netns-mdns-fixture.ts <listenHost> <clusterTag> <dhtPort> [intervalMs]
import { createLogger } from '../../agent/core/log.js'
import { startMdnsContact } from '../../agent/mesh/mdns/index.js'

const [listenHost, clusterTag, dhtPortText, intervalText] = process.argv.slice(2)
if (!listenHost || !clusterTag || !dhtPortText) {
  process.stderr.write('usage: netns-mdns-fixture <listenHost> <clusterTag> <dhtPort> [intervalMs]\n')
  process.exit(2)
}

const print = (obj: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(obj)}\n`)
const rssMb = () => Math.round(process.memoryUsage().rss / 1e5) / 10
const t0 = performance.now()
const ms = () => Math.round(performance.now() - t0)

const contact = await startMdnsContact({
  listenHost,
  clusterTag,
  self: { dhtHost: listenHost, dhtPort: Number(dhtPortText) },
  intervalMs: Number(intervalText ?? 1000),
  logger: createLogger({ node: listenHost, level: process.env.HOMECLOUD_LOG_LEVEL ?? 'info' }),
  onPeer: (info) => print({ event: 'peer', ...info, ms: ms(), rssMb: rssMb() }),
})
print({
  event: 'ready',
  peerId: contact.peerId,
  ms: ms(),
  uptimeMs: Math.round(performance.now()),
  rssMb: rssMb(),
})

const shutdown = () => {
  void contact.stop().finally(() => process.exit(0))
}
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)
