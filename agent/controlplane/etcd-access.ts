import type { Logger } from '../core/log.js'
import type { EtcdClient } from '../etcd/client.js'
import { applyAccess, syncAccess } from '../etcd/etcd-auth.js'
import { EtcdError } from '../etcd/model/errors.js'

// The coordinator's hands on etcd's users (etcd-auth.ts decides): every tick the users
// follow the members, and a new member gets its user before its assignment is sent. The
// same step turns auth on in a cluster founded without it (the upgrade path).

export interface AccessHooks {
  sync(members: { ids: string[]; complete: boolean }): Promise<void>
  grant(nodeId: string): Promise<void>
}

export function accessHooks(c: {
  client: () => EtcdClient | null
  caKeyPem: () => string | null
  log: Logger
}): AccessHooks {
  const need = () => {
    const client = c.client()
    const caKey = c.caKeyPem()
    if (!client || !caKey)
      throw new EtcdError('ETCD_UNREACHABLE', 'this node runs no etcd member or holds no CA key')
    return { client, caKey }
  }
  return {
    async sync(members) {
      const { client, caKey } = need()
      const steps = await syncAccess(client, { members: members.ids, complete: members.complete }, caKey)
      if (steps.length > 0)
        c.log.info({ event: 'etcd-access', steps }, 'etcd users brought in step with the members')
    },
    async grant(nodeId) {
      const { client, caKey } = need()
      await applyAccess(client, { kind: 'add-user', name: nodeId, login: true }, caKey)
      await applyAccess(client, { kind: 'grant-root', name: nodeId }, caKey)
    },
  }
}
