import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { nodeUrl } from '../../lab/launcher.js'
import { startLab } from '../support/lab.js'
import { unplugAndPlugBack } from '../support/scenarios.js'

// Namespaces need root; CI runs as root. Skipped (and said so) elsewhere.
const root = process.getuid?.() === 0

describe('mesh in network namespaces', { skip: !root && 'needs root for ip netns' }, () => {
  it('five agents find each other by mDNS alone, with no bootstrap list at all', async () => {
    const lab = await startLab({ nodes: 5, netns: true })
    for (const n of lab.nodes) {
      const mesh = (await (await fetch(new URL('/api/v1/mesh', nodeUrl(n)))).json()) as {
        bootstrapNodes: string[]
      }
      assert.deepEqual(mesh.bootstrapNodes, [], `${n.name} started with an empty bootstrap list`)
    }
  })

  it('unplug marks a node dead everywhere; plugging it back brings it back with a higher incarnation', async () => {
    await unplugAndPlugBack({ netns: true })
  })
})
