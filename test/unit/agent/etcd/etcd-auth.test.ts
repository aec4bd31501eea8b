import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decideAccess, ETCD_ADMIN_USER, etcdPassword } from '../../../../agent/etcd/etcd-auth.js'

const users = (o: Record<string, string[]>) => new Map(Object.entries(o))

describe('etcd access (pure)', () => {
  it('an old cluster (auth off, nothing set up): root role, users, grants, then enable last', () => {
    const steps = decideAccess(
      { enabled: false, users: users({}), rootRole: false },
      { members: ['n1', 'n2'], complete: true },
    )
    assert.deepEqual(steps[0], { kind: 'add-root-role' })
    assert.deepEqual(steps.at(-1), { kind: 'enable' })
    const added = steps.flatMap((s) => (s.kind === 'add-user' ? [`${s.name}:${s.login}`] : []))
    assert.deepEqual(added, ['root:false', `${ETCD_ADMIN_USER}:true`, 'n1:true', 'n2:true'])
    assert.equal(steps.filter((s) => s.kind === 'grant-root').length, 4)
  })

  it('in step: nothing to do', () => {
    const all = users({ root: ['root'], [ETCD_ADMIN_USER]: ['root'], n1: ['root'] })
    assert.deepEqual(
      decideAccess({ enabled: true, users: all, rootRole: true }, { members: ['n1'], complete: true }),
      [],
    )
  })

  it("a seat that moved: the old board's user goes, the new one's comes", () => {
    const all = users({ root: ['root'], [ETCD_ADMIN_USER]: ['root'], old: ['root'] })
    const steps = decideAccess(
      { enabled: true, users: all, rootRole: true },
      { members: ['new'], complete: true },
    )
    assert.deepEqual(steps, [
      { kind: 'add-user', name: 'new', login: true },
      { kind: 'grant-root', name: 'new' },
      { kind: 'delete-user', name: 'old' },
    ])
  })

  it('deletes nobody while some member is not known by node id', () => {
    const all = users({ root: ['root'], [ETCD_ADMIN_USER]: ['root'], n1: ['root'], n2: ['root'] })
    const steps = decideAccess(
      { enabled: true, users: all, rootRole: true },
      { members: ['n1'], complete: false },
    )
    assert.deepEqual(steps, [])
  })

  it('passwords: stable across PEM line breaks, different per name and per CA key', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nAAAA\nBBBB\n-----END PRIVATE KEY-----\n'
    assert.equal(etcdPassword(pem, 'n1'), etcdPassword(pem.replace(/\n/g, '\r\n'), 'n1'))
    assert.notEqual(etcdPassword(pem, 'n1'), etcdPassword(pem, 'n2'))
    assert.notEqual(etcdPassword(pem, 'n1'), etcdPassword(pem.replace('AAAA', 'AAAB'), 'n1'))
  })
})
