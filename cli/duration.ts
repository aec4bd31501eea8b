import { HomecloudError } from '../agent/core/errors.js'

/** `90s`, `5m`, `1h`, `1500ms` or plain seconds → milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (!m)
    throw new HomecloudError(
      'CONFIG_INVALID',
      `${flag} ${text}: not a duration`,
      `write it like 90s, 5m or 1h`,
    )
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']
  return Math.round(Number(m[1]) * unit)
}
