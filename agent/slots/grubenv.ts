// GRUB's environment block (pure): the file `load_env` reads and `save_env` rewrites in
// place at every boot. It is exactly 1024 bytes — a signature line, `name=value` lines,
// then `#` padding — because GRUB writes it through the blocks the file already has and
// can neither grow nor move it. Linux rewrites the whole file (a new file renamed over
// the old one), which GRUB finds afresh at the next boot.

export const GRUBENV_BYTES = 1024
export const GRUBENV_SIGNATURE = '# GRUB Environment Block\n'

/** Names and values this code writes: plain tokens, so no GRUB escaping is ever needed. */
const namePattern = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const valuePattern = /^[A-Za-z0-9_.:-]{0,128}$/

export type GrubEnv = Record<string, string>

export type GrubEnvParse = { ok: true; env: GrubEnv } | { ok: false; error: string }

/**
 * Reads a block as GRUB's envblk does: a line ends at a newline no backslash escapes;
 * lines starting with `#` (comments, padding) and lines without `name=` are skipped; a
 * backslash in a value escapes the next character (grub-editenv writes `\\` and `\⏎`).
 */
export function parseGrubEnv(bytes: Uint8Array): GrubEnvParse {
  if (bytes.length !== GRUBENV_BYTES)
    return {
      ok: false,
      error: `a GRUB environment block is ${GRUBENV_BYTES} bytes, this one ${bytes.length}`,
    }
  const text = Buffer.from(bytes).toString('latin1')
  if (!text.startsWith(GRUBENV_SIGNATURE))
    return { ok: false, error: 'no GRUB environment block signature on the first line' }
  const env: GrubEnv = {}
  for (const line of logicalLines(text.slice(GRUBENV_SIGNATURE.length))) {
    const at = line.indexOf('=')
    if (line.startsWith('#') || at <= 0) continue
    env[line.slice(0, at)] = line.slice(at + 1).replace(/\\([\s\S])/g, '$1')
  }
  return { ok: true, env }
}

/** Lines split at unescaped newlines, escapes kept; an unterminated last line is dropped, as GRUB does. */
function logicalLines(body: string): string[] {
  const lines: string[] = []
  let start = 0
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\') i++
    else if (body[i] === '\n') {
      lines.push(body.slice(start, i))
      start = i + 1
    }
  }
  return lines
}

/** Writes a block holding `env` (names in the order given); throws on names or values GRUB could misread, or overflow. */
export function renderGrubEnv(env: GrubEnv): Buffer {
  let body = GRUBENV_SIGNATURE
  for (const [name, value] of Object.entries(env)) {
    if (!namePattern.test(name)) throw new Error(`assertion: grubenv name ${JSON.stringify(name)}`)
    if (!valuePattern.test(value))
      throw new Error(`assertion: grubenv value ${JSON.stringify(value)} of ${name}`)
    body += `${name}=${value}\n`
  }
  if (body.length > GRUBENV_BYTES)
    throw new Error(`assertion: grubenv needs ${body.length} bytes, more than ${GRUBENV_BYTES}`)
  return Buffer.from(body.padEnd(GRUBENV_BYTES, '#'), 'latin1')
}

/** `env` with `changes` applied (null removes a name); names keep their places, new ones go last. */
export function withGrubEnv(env: GrubEnv, changes: Record<string, string | null>): GrubEnv {
  const out: GrubEnv = {}
  for (const [k, v] of Object.entries(env)) {
    const next = k in changes ? changes[k] : v
    if (next !== null && next !== undefined) out[k] = next
  }
  for (const [k, v] of Object.entries(changes)) if (!(k in env) && v !== null) out[k] = v
  return out
}
