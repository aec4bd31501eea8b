import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { uapiExchange } from '../../../../../agent/kube/podnet/uapi-socket.js'

// The UAPI client against a real unix socket that answers as told: a good answer, an
// error number, a flood, silence, nobody listening. Each failure is PODNET_FAILED, named.

describe('wireguard-go UAPI socket', () => {
  let dir: string
  let server: Server
  let answer: (msg: string) => string | null
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hc-uapi-'))
    server = createServer((sock) => {
      sock.on('data', (d: Buffer) => {
        const a = answer(d.toString())
        if (a !== null) sock.write(a)
      })
      sock.on('error', () => {})
    })
    await new Promise<void>((r) => server.listen(join(dir, 'wg.sock'), r))
  })
  after(async () => {
    server.close()
    await rm(dir, { recursive: true, force: true })
  })
  const code = (e: unknown) => (e as { code?: string }).code

  it('returns the answer to a get', async () => {
    answer = (m) => (m === 'get=1\n\n' ? 'listen_port=51820\nerrno=0\n\n' : null)
    assert.match(await uapiExchange(join(dir, 'wg.sock'), 'get=1\n\n'), /listen_port=51820/)
  })

  it('a non-zero errno, a flood, silence and a missing socket are errors that say so', async () => {
    answer = () => 'errno=22\n\n'
    await assert.rejects(uapiExchange(join(dir, 'wg.sock'), 'set=1\nbogus=1\n\n'), (e: Error) => {
      assert.equal(code(e), 'PODNET_FAILED')
      assert.match(e.message, /errno=22 for set=1/)
      return true
    })
    answer = () => 'x'.repeat(2 * 1024 * 1024)
    await assert.rejects(uapiExchange(join(dir, 'wg.sock'), 'get=1\n\n'), /answer too large/)
    answer = () => null
    await assert.rejects(uapiExchange(join(dir, 'wg.sock'), 'get=1\n\n', 300), /no answer/)
    await assert.rejects(
      uapiExchange(join(dir, 'none.sock'), 'get=1\n\n'),
      (e: Error) => code(e) === 'PODNET_FAILED',
    )
  })
})
