// A separate process that takes the cluster lock and holds it until killed: what a
// CLI or coordinator holding the lock looks like to everyone else. Prints one JSON line
// `{"token":N}` once held. Args: ENDPOINT CA CERT KEY TTL_SECONDS NODE
import { readFile } from 'node:fs/promises'
import { silentLogger } from '../../agent/core/log.js'
import { EtcdClient } from '../../agent/etcd/client.js'
import { acquireLock } from '../../control/lock/cluster-lock.js'
import { realClock } from './etcd-lab.js'

const [endpoint, ca, cert, key, ttl, node] = process.argv.slice(2)
const tls = {
  caPem: await readFile(ca!, 'utf8'),
  certPem: await readFile(cert!, 'utf8'),
  keyPem: await readFile(key!, 'utf8'),
}
const etcd = new EtcdClient({ endpoints: [endpoint!], tls }, { clock: realClock })
const held = await acquireLock(
  { holder: `test-holder:${process.pid}`, operation: 'test', node: node ?? 'w1' },
  { etcd, clock: realClock, log: silentLogger() },
  { ttlSeconds: Number(ttl) },
)
process.stdout.write(`${JSON.stringify({ token: held.token })}\n`)
setInterval(() => {}, 60_000)
