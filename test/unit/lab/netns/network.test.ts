// The network functions against a fake `ip`, so order, rollback and error reporting are
// checked without root.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HomecloudError } from '../../../../agent/core/errors.js'
import type { IpResult, IpRunner, IpRunnerSync } from '../../../../lab/netns/ip.js'
import {
  addNode,
  createLabNetwork,
  destroyLabNetwork,
  destroyLabNetworkSync,
  listLabNamespaces,
  sweepStaleLabNetworks,
} from '../../../../lab/netns/network.js'

interface FakeIp {
  run: IpRunner
  runSync: IpRunnerSync
  calls: string[]
  links: Set<string>
  namespaces: Set<string>
}

/** A tiny model of `ip`: tracks links and namespaces, fails where told to. */
function fakeIp(
  init: { links?: string[]; namespaces?: string[]; failOn?: RegExp; stderr?: string } = {},
): FakeIp {
  const links = new Set(['lo', 'eth0', ...(init.links ?? [])])
  const namespaces = new Set(init.namespaces ?? [])
  const calls: string[] = []
  const ok = (stdout = ''): IpResult => ({ exitCode: 0, stdout, stderr: '' })
  const fail = (stderr: string): IpResult => ({ exitCode: 2, stdout: '', stderr })
  const runSync: IpRunnerSync = (args) => {
    const line = args.join(' ')
    calls.push(line)
    if (init.failOn?.test(line)) return fail(init.stderr ?? 'RTNETLINK answers: Operation not permitted')
    if (line === '-j link show') return ok(JSON.stringify([...links].map((ifname) => ({ ifname }))))
    if (line === '-j netns list')
      return ok(namespaces.size ? JSON.stringify([...namespaces].map((name) => ({ name }))) : '')
    const [a, b, c] = args
    if (a === 'netns' && b === 'add' && c) {
      if (namespaces.has(c)) return fail(`Cannot create namespace file "/run/netns/${c}": File exists`)
      namespaces.add(c)
    } else if (a === 'netns' && b === 'del' && c) {
      if (!namespaces.delete(c))
        return fail(`Cannot remove namespace file "/run/netns/${c}": No such file or directory`)
    } else if (a === 'link' && b === 'add' && c) {
      if (links.has(c)) return fail('RTNETLINK answers: File exists')
      links.add(c)
    } else if (a === 'link' && b === 'del' && c) {
      if (!links.delete(c)) return fail(`Cannot find device "${c}"`)
    }
    return ok()
  }
  return { run: async (args) => runSync(args), runSync, calls, links, namespaces }
}

describe('lab network (fake ip)', () => {
  it('creates and destroys a network, veths before namespaces before the bridge', async () => {
    const ip = fakeIp()
    const net = await createLabNetwork({ labIndex: 5, nodes: 2, run: ip.run })
    assert.equal(net.bridge, 'hc5br')
    assert.deepEqual(
      net.nodes.map((n) => n.address),
      ['10.77.5.2', '10.77.5.3'],
    )
    assert.deepEqual([...ip.namespaces].sort(), ['hc5n1', 'hc5n2'])
    ip.calls.length = 0
    const removed = await destroyLabNetwork(5, { run: ip.run })
    assert.deepEqual(removed, ['hc5v1', 'hc5v2', 'hc5n1', 'hc5n2', 'hc5br'])
    assert.deepEqual([...ip.links], ['lo', 'eth0'])
    assert.equal(ip.namespaces.size, 0)
    assert.deepEqual(await destroyLabNetwork(5, { run: ip.run }), [], 'idempotent')
  })

  it('destroys synchronously too (for exit handlers), leaving other labs alone', async () => {
    const ip = fakeIp({ links: ['hc8br', 'hc8v1', 'hc9br'], namespaces: ['hc8n1', 'hc9n1'] })
    assert.deepEqual(destroyLabNetworkSync(8, { run: ip.runSync }), ['hc8v1', 'hc8n1', 'hc8br'])
    assert.deepEqual(destroyLabNetworkSync(8, { run: ip.runSync }), [])
    assert.deepEqual([...ip.links].sort(), ['eth0', 'hc9br', 'lo'])
    assert.deepEqual([...ip.namespaces], ['hc9n1'])
  })

  it('refuses to create over leftovers and says how to clean up', async () => {
    const ip = fakeIp({ namespaces: ['hc5n3'] })
    await assert.rejects(createLabNetwork({ labIndex: 5, nodes: 1, run: ip.run }), (err: unknown) => {
      assert.ok(err instanceof HomecloudError)
      assert.equal(err.code, 'NETNS_FAILED')
      assert.match(err.message, /hc5n3/)
      assert.match(err.hint ?? '', /destroyLabNetwork\(5\)/)
      return true
    })
    assert.deepEqual([...ip.namespaces], ['hc5n3'], 'leftovers untouched')
  })

  it('rolls back a half-made network and reports the failing command with stderr and hint', async () => {
    const ip = fakeIp({ failOn: /^-n hc6n2 route add/ })
    await assert.rejects(createLabNetwork({ labIndex: 6, nodes: 2, run: ip.run }), (err: unknown) => {
      assert.ok(err instanceof HomecloudError)
      assert.equal(err.code, 'NETNS_FAILED')
      assert.match(err.message, /`ip -n hc6n2 route add 224\.0\.0\.0\/4 dev eth0` failed \(exit 2\)/)
      assert.match(err.message, /Operation not permitted/)
      assert.match(err.hint ?? '', /root/)
      return true
    })
    assert.deepEqual([...ip.links], ['lo', 'eth0'])
    assert.equal(ip.namespaces.size, 0)
  })

  it('addNode does not remove a namespace it did not create', async () => {
    const ip = fakeIp({ links: ['hc7br'], namespaces: ['hc7n1'] })
    await assert.rejects(addNode(7, 1, { run: ip.run }), /File exists/)
    assert.ok(ip.namespaces.has('hc7n1'))
    await addNode(7, 2, { run: ip.run })
    assert.ok(ip.links.has('hc7v2') && ip.namespaces.has('hc7n2'))
  })

  it('lists lab namespaces and sweeps only the labs the predicate picks', async () => {
    const ip = fakeIp({
      links: ['hc3br', 'hc3v1', 'hc4br', 'hc4v1'],
      namespaces: ['hc3n1', 'hc4n1', 'netns-of-someone'],
    })
    assert.deepEqual(await listLabNamespaces({ run: ip.run }), [
      { name: 'hc3n1', labIndex: 3, node: 1 },
      { name: 'hc4n1', labIndex: 4, node: 1 },
    ])
    assert.deepEqual(await sweepStaleLabNetworks((lab) => lab === 4, { run: ip.run }), [4])
    assert.deepEqual([...ip.links].sort(), ['eth0', 'hc3br', 'hc3v1', 'lo'])
    assert.deepEqual([...ip.namespaces].sort(), ['hc3n1', 'netns-of-someone'])
  })

  it('validates indexes before running anything', async () => {
    const ip = fakeIp()
    await assert.rejects(createLabNetwork({ labIndex: 201, nodes: 1, run: ip.run }), /lab index 201/)
    await assert.rejects(createLabNetwork({ labIndex: 1, nodes: 254, run: ip.run }), /node index 254/)
    await assert.rejects(destroyLabNetwork(0, { run: ip.run }), /lab index 0/)
    assert.deepEqual(ip.calls, [])
  })
})
