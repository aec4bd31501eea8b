import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'

// The status-page password is stored only as an scrypt hash; every node holds the hash
// (it travels with the cluster settings), so any node can check a login.

const N = 16384
const R = 8
const P = 1
const KEY_BYTES = 32

export const PasswordHash = z
  .string()
  .regex(/^scrypt\$\d+\$\d+\$\d+\$[0-9a-f]{32}\$[0-9a-f]{64}$/, 'an scrypt password hash')

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_BYTES, { N: n, r, p, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  )
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt, N, R, P)
  return `scrypt$${N}$${R}$${P}$${salt.toString('hex')}$${key.toString('hex')}`
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (!PasswordHash.safeParse(stored).success || password.length > 1024) return false
  const [, n, r, p, saltHex, keyHex] = stored.split('$')
  const key = await derive(password, Buffer.from(saltHex!, 'hex'), Number(n), Number(r), Number(p))
  const expected = Buffer.from(keyHex!, 'hex')
  return key.length === expected.length && timingSafeEqual(key, expected)
}

/** A password for a new cluster when the user gives none: printed once, never stored in clear. */
export function generatePassword(): string {
  return randomBytes(12).toString('base64url')
}
