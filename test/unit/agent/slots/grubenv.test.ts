import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { execa } from 'execa'
import {
  GRUBENV_BYTES,
  GRUBENV_SIGNATURE,
  parseGrubEnv,
  renderGrubEnv,
  withGrubEnv,
} from '../../../../agent/slots/grubenv.js'

// The block is checked against GRUB's own reader and writer: Debian's grub-editenv
// (grub-common) shares lib/envblk.c with the load_env/save_env GRUB runs at boot.

let dir = ''
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hc-grubenv-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function editenv(file: string, ...args: string[]): Promise<string> {
  const r = await execa('grub-editenv', [file, ...args])
  return r.stdout
}

const env = { hc_good: 'a', hc_trying: 'b', hc_tries: '3', hc_booted: '', hc_fallback: '', hc_marks: 'xx' }

describe('grubenv: the 1024-byte block', () => {
  it('renders exactly 1024 bytes: signature, name=value lines, # padding', () => {
    const b = renderGrubEnv(env)
    assert.equal(b.length, GRUBENV_BYTES)
    const text = b.toString('latin1')
    assert.ok(text.startsWith(`${GRUBENV_SIGNATURE}hc_good=a\nhc_trying=b\nhc_tries=3\n`))
    assert.match(text, /hc_marks=xx\n#+$/)
  })

  it('grub-editenv lists what we render, and we read back what it sets in our block', async () => {
    const f = join(dir, 'ours')
    await writeFile(f, renderGrubEnv(env))
    const listed = await editenv(f, 'list')
    assert.deepEqual(
      listed.split('\n'),
      Object.entries(env).map(([k, v]) => `${k}=${v}`),
    )
    await editenv(f, 'set', 'hc_tries=2', 'hc_booted=b')
    assert.equal((await stat(f)).size, GRUBENV_BYTES)
    const r = parseGrubEnv(await readFile(f))
    assert.ok(r.ok)
    assert.deepEqual(r.env, { ...env, hc_tries: '2', hc_booted: 'b' })
  })

  it('reads a block grub-editenv made, with its comment and escaped values', async () => {
    const f = join(dir, 'theirs')
    await editenv(f, 'create')
    await editenv(f, 'set', 'saved_entry=Debian GNU/Linux', 'odd=back\\slash', 'multi=one\ntwo', 'hc_good=b')
    const r = parseGrubEnv(await readFile(f))
    assert.ok(r.ok)
    assert.deepEqual(r.env, {
      saved_entry: 'Debian GNU/Linux',
      odd: 'back\\slash',
      multi: 'one\ntwo',
      hc_good: 'b',
    })
  })

  it('refuses a block of the wrong size or without the signature', () => {
    const short = parseGrubEnv(renderGrubEnv(env).subarray(0, 1000))
    assert.deepEqual(short, { ok: false, error: 'a GRUB environment block is 1024 bytes, this one 1000' })
    const bad = Buffer.from(renderGrubEnv(env))
    bad.write('X', 0)
    assert.equal(parseGrubEnv(bad).ok, false)
  })

  it('refuses names and values GRUB could misread, and a block that would overflow', () => {
    assert.throws(() => renderGrubEnv({ 'a=b': '1' }), /grubenv name/)
    assert.throws(() => renderGrubEnv({ a: 'x\ny' }), /grubenv value/)
    assert.throws(() => renderGrubEnv({ a: 'x y' }), /grubenv value/)
    const big: Record<string, string> = {}
    for (let i = 0; i < 10; i++) big[`v${i}`] = 'x'.repeat(120)
    assert.throws(() => renderGrubEnv(big), /more than 1024/)
  })

  it('withGrubEnv keeps places, appends new names, removes on null', () => {
    assert.deepEqual(Object.entries(withGrubEnv({ a: '1', b: '2', c: '3' }, { b: null, a: '9', d: '4' })), [
      ['a', '9'],
      ['c', '3'],
      ['d', '4'],
    ])
  })
})
