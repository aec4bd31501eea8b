import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { Clock } from '../../core/clock.js'

export interface Session {
  id: string
  /** Sent back in every form; must match for any action (CSRF). */
  csrf: string
  expiresAtMs: number
}

/**
 * Logged-in browsers: a random session id in an HttpOnly, SameSite=Strict cookie and
 * a CSRF token bound to it. In memory, bounded, expiring: a restart logs everyone out,
 * which is the safe direction.
 */
export class Sessions {
  private readonly sessions = new Map<string, Session>()

  constructor(
    private readonly clock: Pick<Clock, 'nowMs'>,
    private readonly ttlMs = 8 * 3600_000,
    private readonly sessionsMax = 256,
  ) {}

  create(): Session {
    this.sweep()
    if (this.sessions.size >= this.sessionsMax) {
      const oldest = [...this.sessions.values()].sort((a, b) => a.expiresAtMs - b.expiresAtMs)[0]
      if (oldest) this.sessions.delete(oldest.id)
    }
    const s: Session = {
      id: randomBytes(32).toString('base64url'),
      csrf: randomBytes(32).toString('base64url'),
      expiresAtMs: this.clock.nowMs() + this.ttlMs,
    }
    this.sessions.set(s.id, s)
    return s
  }

  get(id: string | undefined): Session | undefined {
    if (!id) return undefined
    const s = this.sessions.get(id)
    if (!s) return undefined
    if (s.expiresAtMs <= this.clock.nowMs()) {
      this.sessions.delete(id)
      return undefined
    }
    return s
  }

  end(id: string | undefined): void {
    if (id) this.sessions.delete(id)
  }

  csrfMatches(session: Session, token: string | undefined): boolean {
    if (!token) return false
    const a = Buffer.from(session.csrf)
    const b = Buffer.from(token)
    return a.length === b.length && timingSafeEqual(a, b)
  }

  private sweep(): void {
    const now = this.clock.nowMs()
    for (const [id, s] of this.sessions) if (s.expiresAtMs <= now) this.sessions.delete(id)
  }
}
