import type { KeyValue } from '../../agent/etcd/model/types.js'
import type { SlotRecordsEtcd } from '../../agent/slots/netboot-store.js'

// An in-memory stand-in for the two etcd calls a compare-and-swap needs (get, and a txn
// comparing one key's mod or create revision), for unit tests of the shells around pure
// decisions. The real etcd: test/cluster/netboot-slots-etcd.test.ts.

export function memoryEtcd(): SlotRecordsEtcd & { kvs: Map<string, KeyValue> } {
  const kvs = new Map<string, KeyValue>()
  let rev = 1
  return {
    kvs,
    get: async (key) => kvs.get(key),
    txn: async (t) => {
      const c = t.compare[0]!
      const kv = kvs.get(c.key)
      const ok =
        c.target === 'mod_revision' ? kv?.modRevision === c.value : c.target === 'create_revision' && !kv
      if (ok)
        for (const op of t.success)
          if ('put' in op) {
            rev++
            kvs.set(op.put.key, {
              key: op.put.key,
              value: op.put.value,
              createRevision: kv?.createRevision ?? rev,
              modRevision: rev,
              version: (kv?.version ?? 0) + 1,
              lease: 0n,
            })
          }
      return { succeeded: ok, revision: rev, results: [] }
    },
  }
}
