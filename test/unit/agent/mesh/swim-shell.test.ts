import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { manualClock } from '../../../../agent/core/clock.js'
import { Counters } from '../../../../agent/core/counters.js'
import { EventLog } from '../../../../agent/core/event-log.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { seededRandom } from '../../../../agent/core/random.js'
import type { Identity } from '../../../../agent/identity/identity.js'
import { DEFAULT_LINK_TIMINGS } from '../../../../agent/mesh/links/book.js'
import { DEFAULT_LINK_LIMITS } from '../../../../agent/mesh/links/choose.js'
import type { MeshGate } from '../../../../agent/mesh/mesh-init.js'
import { MeshStateStore } from '../../../../agent/mesh/peers-store.js'
import { signRecord } from '../../../../agent/mesh/record.js'
import type { PeerConn } from '../../../../agent/mesh/swarm.js'
import { DEFAULT_SWIM_CONFIG } from '../../../../agent/mesh/swim/config.js'
import { SwimShell } from '../../../../agent/mesh/swim-shell.js'
import type { SwimWireMessage } from '../../../../agent/mesh/swim-wire.js'
import { CLUSTER, newIdentity, recordBody } from '../../../support/records.js'

// The agent's membership shell with real signed records on the manual clock, over a
// fake transport that hands messages straight across (JSON round-trip included).

const dir = await mkdtemp(join(tmpdir(), 'swim-shell-'))
after(() => rm(dir, { recursive: true, force: true }))

interface Node {
  identity: Identity
  shell: SwimShell
  conns: Map<string, PeerConn>
  drops: string[]
  up: boolean
}

function harness() {
  const clock = manualClock()
  const nodes = new Map<string, Node>()
  const make = async (identity: Identity, file: string, address?: string, gate?: MeshGate) => {
    const node: Node = {
      identity,
      shell: null as unknown as SwimShell,
      conns: new Map(),
      drops: [],
      up: true,
    }
    const key = identity.publicKey.toString('hex')
    node.shell = new SwimShell(
      {
        clusterId: CLUSTER,
        swim: DEFAULT_SWIM_CONFIG,
        links: DEFAULT_LINK_LIMITS,
        linkTimings: DEFAULT_LINK_TIMINGS,
        replanMs: 1000,
        reconnectDeadMs: 10_000,
        reconnectForMs: 3_600_000,
        bootstrap: [],
      },
      {
        identity,
        clock,
        random: seededRandom(nodes.size + 1),
        log: silentLogger(),
        events: new EventLog(),
        counters: new Counters(),
        transport: {
          connections: () => [...node.conns.values()],
          dial: () => {},
          close: (k) => node.conns.delete(k),
          lookup: async () => [],
        },
        store: new MeshStateStore(join(dir, file)),
        ...(gate ? { gate } : {}),
        selfRecord: () => {
          const over = address ? { addresses: [address] } : {}
          const { v, cluster, id, publicKey, incarnation, heartbeat, ...rest } = recordBody(identity, over)
          return rest
        },
        send: (conn, msg) => conn.write(Buffer.from(JSON.stringify(msg))),
        uncertified: () => {},
        drop: (_c, reason) => node.drops.push(reason),
      },
    )
    nodes.set(key, node)
    await node.shell.start()
    return node
  }
  /** A connection between two nodes: what one writes, the other receives (if both are up). */
  const link = (a: Node, b: Node) => {
    const end = (from: Node, to: Node): PeerConn => ({
      remoteKeyHex: to.identity.publicKey.toString('hex'),
      remoteHost: '127.0.0.1',
      handshakeHash: Buffer.alloc(32),
      stats: () => ({ initiator: true, bytesIn: 0, bytesOut: 0, openMs: 0 }),
      write: (frame) => {
        if (!from.up || !to.up) return
        const back = to.conns.get(from.identity.publicKey.toString('hex'))
        if (back) to.shell.receive(back, JSON.parse(frame.toString()) as SwimWireMessage)
      },
      destroy: () => {},
    })
    a.conns.set(b.identity.publicKey.toString('hex'), end(a, b))
    b.conns.set(a.identity.publicKey.toString('hex'), end(b, a))
    a.shell.opened(a.conns.get(b.identity.publicKey.toString('hex'))!)
    b.shell.opened(b.conns.get(a.identity.publicKey.toString('hex'))!)
  }
  const stateOf = (o: Node, s: Node) =>
    o.shell.members().find((m) => m.signed.body.id === s.identity.id)?.state
  return { clock, make, link, stateOf }
}

describe('the agent membership shell (SWIM over signed records)', () => {
  it('members learn each other, notice a silent one dead, and take it back at a higher incarnation', async () => {
    const h = harness()
    const [a, b, c] = await Promise.all([
      h.make(newIdentity(), 'a.json'),
      h.make(newIdentity(), 'b.json'),
      h.make(newIdentity(), 'c.json'),
    ])
    h.link(a, b)
    h.link(a, c)
    h.link(b, c)
    h.clock.advance(2000)
    for (const [o, s] of [
      [a, b],
      [a, c],
      [b, c],
      [c, a],
    ] as const)
      assert.equal(h.stateOf(o, s), 'alive')
    c.up = false
    h.clock.advance(8000)
    assert.equal(h.stateOf(a, c), 'dead')
    assert.equal(h.stateOf(b, c), 'dead')
    // c comes back as a restarted agent does: a new process, its incarnation from its state file.
    const c2 = await h.make(c.identity, 'c.json')
    h.link(a, c2)
    h.link(b, c2)
    h.clock.advance(2000)
    assert.equal(h.stateOf(a, c2), 'alive')
    assert.ok(
      (a.shell.members().find((m) => m.signed.body.id === c.identity.id)?.signed.body.incarnation ?? 0) >= 2,
    )
  })

  it('remembers every member it has seen for the next start, the ones up first, never itself', async () => {
    const h = harness()
    const [a, b, c] = await Promise.all([
      h.make(newIdentity(), 'r-a.json', '127.0.1.1'),
      h.make(newIdentity(), 'r-b.json', '127.0.1.2'),
      h.make(newIdentity(), 'r-c.json', '127.0.1.3'),
    ])
    // a links to b only: c it knows from gossip, never from a dial of its own.
    h.link(a, b)
    h.link(b, c)
    h.clock.advance(3000)
    assert.equal(h.stateOf(a, c), 'alive')
    assert.deepEqual(
      a.shell
        .knownPeers()
        .map((p) => p.host)
        .sort(),
      ['127.0.1.2', '127.0.1.3'],
    )
    c.up = false
    h.clock.advance(10_000)
    assert.equal(h.stateOf(a, c), 'dead')
    assert.deepEqual(
      a.shell.knownPeers().map((p) => p.host),
      ['127.0.1.2', '127.0.1.3'],
      'the dead one last: a restart bootstraps from the living first',
    )
    await a.shell.stop()
    const saved = await new MeshStateStore(join(dir, 'r-a.json')).load()
    assert.deepEqual(
      saved.peers.map((p) => p.host),
      ['127.0.1.2', '127.0.1.3'],
    )
  })

  it('a record dropped for want of its certificate gets in once the certificate comes, not at the next anti-entropy', async () => {
    const h = harness()
    const certified = new Set<string>()
    const gate: MeshGate = {
      canAdmit: () => true,
      admits: (b) => (certified.has(b.id) ? 'member' : 'uncertified'),
    }
    const bId = newIdentity()
    const a = await h.make(newIdentity(), 'p-a.json', '127.0.1.1', gate)
    const b = await h.make(bId, 'p-b.json', '127.0.1.2')
    h.link(a, b)
    h.clock.advance(500)
    assert.equal(h.stateOf(a, b), undefined, 'no certificate yet: not a member')
    assert.ok(a.drops.includes('uncertified'))
    certified.add(bId.id) // the certificate arrives (trust's exchange)
    h.clock.advance(1000)
    assert.equal(h.stateOf(a, b), 'alive', 'in within a second, well before the 10 s anti-entropy')
  })

  it('a joiner certified at last comes in at a higher incarnation (members may hold it dead at the old one)', async () => {
    const h = harness()
    let certified = false
    const joinerGate: MeshGate = { canAdmit: () => certified, admits: () => 'member' }
    const j = await h.make(newIdentity(), 'j-j.json', '127.0.1.9', joinerGate)
    const before = j.shell.selfIncarnation
    h.clock.advance(1500)
    assert.equal(j.shell.selfIncarnation, before, 'no bump while it waits')
    certified = true // the signer's answer came
    h.clock.advance(1000)
    assert.equal(j.shell.selfIncarnation, before + 1)
    assert.equal(j.shell.selfSigned().body.incarnation, before + 1, 'and its record says so')
    h.clock.advance(5000)
    assert.equal(j.shell.selfIncarnation, before + 1, 'once')
    await j.shell.stop() // waits for the save in flight
    const saved = await new MeshStateStore(join(dir, 'j-j.json')).load()
    assert.equal(saved.incarnation, before + 1, 'kept for the next start')
  })

  it('a joiner tells a member that holds its certificate nothing until its own gate opens (its certificate saved)', async () => {
    const h = harness()
    let saved = false
    // The member is the signer that signed the joiner: it holds the certificate already.
    const member = await h.make(newIdentity(), 'd-m.json', '127.0.1.1', {
      canAdmit: () => true,
      admits: () => 'member',
    })
    const joiner = await h.make(newIdentity(), 'd-j.json', '127.0.1.9', {
      canAdmit: () => saved,
      admits: () => 'member',
    })
    h.link(member, joiner)
    // Anti-entropy rounds: the member's digests reach the joiner, whose answer would offer
    // its own record; it sends none while it cannot admit.
    h.clock.advance(60_000)
    assert.equal(h.stateOf(member, joiner), undefined, 'not a member anywhere before the save')
    saved = true
    h.clock.advance(2000)
    assert.equal(h.stateOf(member, joiner), 'alive', 'announced once its gate opens')
  })

  it('drops a forged record, another cluster’s, and a digest carrying someone else’s record', async () => {
    const h = harness()
    const a = await h.make(newIdentity(), 'f-a.json')
    const b = await h.make(newIdentity(), 'f-b.json')
    h.link(a, b)
    h.clock.advance(500)
    a.drops.length = 0 // duplicates of the exchange (counted as stale) are not what this is about
    const conn = a.conns.get(b.identity.publicKey.toString('hex'))!
    const stranger = newIdentity()
    const forged = {
      ...signRecord(recordBody(stranger, { heartbeat: 5 }), stranger),
      sig: signRecord(recordBody(stranger), stranger).sig,
    }
    a.shell.receive(conn, { t: 'gossip', gossip: [{ kind: 'alive', record: forged }] })
    const other = signRecord(recordBody(stranger, { cluster: 'ffffffffffffffff' }), stranger)
    a.shell.receive(conn, { t: 'gossip', gossip: [{ kind: 'alive', record: other }] })
    const theirs = signRecord(recordBody(stranger), stranger)
    a.shell.receive(conn, {
      t: 'digest',
      entries: [],
      reply: false,
      last: true,
      gossip: [{ kind: 'alive', record: theirs }],
    })
    assert.deepEqual(a.drops, ['bad-signature', 'other-cluster', 'impersonation'])
    assert.equal(h.stateOf(a, { identity: stranger } as Node), undefined)
  })
})
