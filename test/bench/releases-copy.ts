// The plain way, from inside the origin's namespace: uploads a release to one node over
// the admin path (HTTPS, mutual TLS) without announcing it, so the bytes cross the
// origin's own (shaped) link. Prints the upload's duration as one JSON line.
//   ip netns exec NS node --import tsx test/bench/releases-copy.ts ADMIN DIR NODE
import { performance } from 'node:perf_hooks'
import { publishRelease } from '../../cli/release-publish.js'

const [admin, dir, node] = process.argv.slice(2)
const t = performance.now()
await publishRelease({ admin: admin!, dir: dir!, node: node!, announce: false })
process.stdout.write(`${JSON.stringify({ node, ms: performance.now() - t })}\n`)
