import { StringDecoder } from 'node:string_decoder'

// A child process's output → log lines (pure parts): cut into lines with a bounded buffer
// (an endless line cannot eat memory), a token bucket bounding how many lines per second
// reach the agent log, and the last few lines for the report when the process exits.

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
