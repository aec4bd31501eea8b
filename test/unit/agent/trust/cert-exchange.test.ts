import assert from 'node:assert/strict'
import { test } from 'node:test'
import { manualClock } from '../../../../agent/core/clock.js'
import { Counters } from '../../../../agent/core/counters.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { MessageRouter } from '../../../../agent/mesh/router.js'
import { issueCertificate } from '../../../../agent/pki/sign.js'
import { CertBook } from '../../../../agent/trust/cert-book.js'
import { CertExchange } from '../../../../agent/trust/cert-exchange.js'
import { startMs, testCa } from '../pki/fixtures.js'
import { conn } from './fixtures.js'

const NODE = 'cccccccccccccccccccc'

test('a node without the CA yet neither parses nor keeps the certificates it is sent; with it, it keeps them', () => {
  const clock = manualClock(startMs)
  const book = new CertBook(null, 'c-test', () => clock.nowMs())
  const router = new MessageRouter(() => [])
  const counters = new Counters()
  new CertExchange({ book, router, clock, log: silentLogger(), counters, ownCert: () => null })
  const cert = issueCertificate({
    ca: testCa(),
    profile: 'agent',
    identity: { nodeId: NODE, nodeName: 'n-cccc', ips: ['10.77.0.3'] },
    clock,
  }).certPem
  const deliver = (certs: string[]) => {
    const parsed = router.parse(Buffer.from(JSON.stringify({ t: 'certs', certs })))
    assert.ok(parsed.ok)
    parsed.route.handle(conn('b'), parsed.msg)
  }
  // Not even a malformed one is looked at: nothing can be judged before the CA is known.
  deliver([cert, `-----BEGIN CERTIFICATE-----\n${'A'.repeat(64)}\n-----END CERTIFICATE-----\n`])
  assert.equal(book.isMember(NODE), false)
  assert.deepEqual(counters.entries(), [])
  book.setCa(testCa().certPem)
  deliver([cert])
  assert.equal(book.isMember(NODE), true)
})
