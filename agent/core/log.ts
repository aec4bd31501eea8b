import pino, { type Logger } from 'pino'

export type { Logger }

export interface LogInit {
  /** Node id (or tool name) stamped on every line, so merged lab logs stay readable. */
  node?: string
  level?: string
  /** Where lines go; defaults to stderr so stdout stays free for command output. */
  destination?: number | string
}

// One logger for the whole project: structured JSON, one line per event.
export function createLogger(init: LogInit = {}): Logger {
  const dest = pino.destination({ dest: init.destination ?? 2, sync: true })
  return pino(
    {
      level: init.level ?? process.env.HOMECLOUD_LOG_LEVEL ?? 'info',
      base: init.node ? { node: init.node } : {},
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    dest,
  )
}

/** A logger that drops everything; for unit tests of code that takes a logger. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
