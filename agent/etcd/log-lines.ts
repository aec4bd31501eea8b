import { StringDecoder } from 'node:string_decoder'

// etcd's output → agent log lines (pure parts). Output is cut into lines with a bounded
// buffer (an endless line cannot eat memory), zap's JSON is mapped to our levels, and
// a token bucket bounds how many lines per second reach the agent log.

export const lineBytesMaxDefault = 8192

/** Splits a byte stream into lines; a line longer than the bound is cut and marked. */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8')
  private partial = ''
  private discarding = false

  constructor(private readonly lineCharsMax = lineBytesMaxDefault) {}

  push(chunk: Buffer | string): string[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk)
    const lines: string[] = []
    let start = 0
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      this.take(text.slice(start, nl), lines)
      if (!this.discarding) lines.push(this.cut(this.partial))
      this.partial = ''
      this.discarding = false
      start = nl + 1
    }
    this.take(text.slice(start), lines)
    return lines.filter((l) => l !== '')
  }

  /** Whatever is left once the stream has ended. */
  flush(): string[] {
    const rest = this.discarding ? '' : this.cut(this.partial + this.decoder.end())
    this.partial = ''
    this.discarding = false
    return rest === '' ? [] : [rest]
  }

  private take(piece: string, lines: string[]): void {
    if (this.discarding) return
    this.partial += piece
    if (this.partial.length > this.lineCharsMax) {
      lines.push(`${this.partial.slice(0, this.lineCharsMax)}…[line cut]`)
      this.partial = ''
      this.discarding = true
    }
  }

  private cut(line: string): string {
    return line.endsWith('\r') ? line.slice(0, -1) : line
  }
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal'

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

/** A token bucket: at most `burst` lines at once, refilled at `perSecond`. */
export class LogBudget {
  private tokens: number
  private lastMs: number | undefined
  /** Lines refused since the last `takeDropped`. */
  private dropped = 0

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst
  }

  allow(nowMs: number): boolean {
    if (this.lastMs !== undefined) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastMs) / 1000) * this.perSecond)
    }
    this.lastMs = nowMs
    if (this.tokens >= 1) {
      this.tokens -= 1
      return true
    }
    this.dropped++
    return false
  }

  takeDropped(): number {
    const n = this.dropped
    this.dropped = 0
    return n
  }
}

/** The last few lines, for the report when etcd exits. */
export class RecentLines {
  private readonly lines: string[] = []

  constructor(private readonly max: number) {}

  push(line: string): void {
    this.lines.push(line)
    if (this.lines.length > this.max) this.lines.shift()
  }

  all(): string[] {
    return [...this.lines]
  }
}
