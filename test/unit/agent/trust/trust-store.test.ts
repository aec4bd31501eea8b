import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { describe, test } from 'node:test'
import { signRevocations } from '../../../../agent/pki/revocations.js'
import { pkiPaths } from '../../../../agent/pki/store.js'
import { verifiedLists } from '../../../../agent/trust/setup.js'
import { TrustStore } from '../../../../agent/trust/trust-store.js'
import { testCa, withTempDir } from '../pki/fixtures.js'

const CLUSTER = 'c-test'
const list = (version: number, ...serials: string[]) =>
  signRevocations(
    {
      clusterId: CLUSTER,
      version,
      entries: serials.map((s) => ({ serial: s, nodeId: s, revokedAtMs: 1, reason: 't' })),
    },
    testCa().keyPem,
  )

describe('trust store: raced revocation lists', () => {
  test('saved beside the winner and loaded back; none saved reads as none', async () => {
    await withTempDir(async (dir) => {
      const store = new TrustStore(dir)
      assert.deepEqual((await store.load()).revocationsRaced, [])
      const winner = list(2, 'a', 'b')
      const raced = [list(1, 'a', 'c')]
      await store.saveRevocations(winner, raced)
      const back = await store.load()
      assert.deepEqual(back.revocations, winner)
      assert.deepEqual(back.revocationsRaced, raced)
      // The union won: nothing raced is left on disk.
      await store.saveRevocations(list(3, 'a', 'b', 'c'), [])
      assert.deepEqual((await store.load()).revocationsRaced, [])
    })
  })

  test('an unreadable file is none (re-learned from peers); a tampered list is dropped at load', async () => {
    await withTempDir(async (dir) => {
      const store = new TrustStore(dir)
      const path = pkiPaths(dir).revocationsRaced
      await store.saveRevocations(list(2, 'a'), [list(1, 'c')])
      const saved = JSON.parse(await readFile(path, 'utf8'))
      await writeFile(path, '{ not json')
      assert.deepEqual((await store.load()).revocationsRaced, [])
      const good = saved.lists[0]
      const tampered = { ...good, entries: [{ ...good.entries[0], nodeId: 'someone-else' }] }
      const other = { ...list(1, 'd'), clusterId: 'other' }
      assert.deepEqual(verifiedLists([good, tampered, other], testCa().certPem, CLUSTER), [good])
    })
  })
})
