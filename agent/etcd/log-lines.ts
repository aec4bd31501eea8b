import type { LogLevel } from '../core/lines.js'

// etcd's output → agent log lines: zap's JSON mapped to our levels (the line splitting
// and rate bound every supervised process shares are in core/lines.ts).

export interface EtcdLogLine {
  level: LogLevel
  msg: string
  /** zap's other fields (caller, member ids, errors…); ts and level are dropped. */
  fields: Record<string, unknown>
}

/** Messages etcd (3.4 to 3.6) logs at warn on every routine event; kept at debug. */
export const noisyMessages: ReadonlySet<string> = new Set([
  // Every JSON gateway request with a client certificate and auth disabled.
  'ignoring common name in gRPC-gateway proxy request',
  'simple token is not cryptographically signed',
])

const zapLevels: Record<string, LogLevel> = {
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  error: 'error',
  dpanic: 'error',
  panic: 'fatal',
  fatal: 'fatal',
}

export function parseEtcdLogLine(line: string): EtcdLogLine {
  if (line.startsWith('{')) {
    try {
      const obj = JSON.parse(line) as Record<string, unknown>
      if (obj && typeof obj === 'object' && typeof obj.msg === 'string') {
        const { level, ts: _ts, msg, ...fields } = obj
        const mapped = zapLevels[String(level)] ?? 'info'
        return { level: noisyMessages.has(msg) ? 'debug' : mapped, msg, fields }
      }
    } catch {}
  }
  // Not zap JSON (a Go panic trace, a flag error before the logger exists).
  const lower = line.toLowerCase()
  const level: LogLevel = /\b(panic|fatal)\b/.test(lower)
    ? 'fatal'
    : /\berror\b/.test(lower)
      ? 'error'
      : 'info'
  return { level, msg: line, fields: {} }
}
