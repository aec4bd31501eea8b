/** A target a measurement is compared against: `value <= max` or `value >= min`. */
export type Goal = { max: number } | { min: number }

/** One line of the results table. `value` is null when the measurement produced no number. */
export interface Row {
  metric: string
  value: number | null
  unit: string
  goal?: Goal
  note?: string
}

export interface BenchContext {
  /** Fewer repetitions, shorter idle windows, no 50-node lab. */
  quick: boolean
  /** One progress line to stderr (long steps say what they wait for). */
  progress(line: string): void
  /** Registers teardown that also runs on SIGINT/SIGTERM; returns a function that unregisters it. */
  onCleanup(fn: () => Promise<void>): () => void
  /** Records that part of a benchmark crashed; the run continues but exits non-zero. */
  fail(what: string, err: unknown): void
}

export interface BenchModule {
  name: string
  run(ctx: BenchContext): Promise<Row[]>
}
