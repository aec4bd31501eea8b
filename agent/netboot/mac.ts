import { z } from 'zod'

// A MAC address as it travels through URLs, dnsmasq lines and the kernel command line:
// always six lower-case hex pairs joined by colons. Anything else is refused, never guessed.
const macPattern = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/

export const Mac = z
  .string()
  .max(17)
  .transform((s) => s.toLowerCase())
  .refine(
    (s) => macPattern.test(s),
    'a MAC address is six hex pairs separated by colons, e.g. 52:54:00:12:34:56',
  )
export type Mac = z.infer<typeof Mac>

export function isMac(s: string): boolean {
  return macPattern.test(s.toLowerCase())
}
