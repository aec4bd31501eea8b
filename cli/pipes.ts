// `homecloud lab up 2>&1 | tee lab.log`, then Ctrl-C: the terminal sends SIGINT to the
// whole pipeline, tee exits first, and the next write to stdout or stderr fails with
// EPIPE. Unhandled, that error killed the CLI in the middle of stopping the lab and
// left every agent running. Output is a courtesy; stopping is not: once a stream
// breaks, later writes to it are dropped and the command carries on.

interface Writable {
  on(event: 'error', fn: (err: NodeJS.ErrnoException) => void): unknown
  destroyed?: boolean
}

/** Keeps the process going when its output pipe closes; returns which streams broke so far. */
export function survivePipeClose(streams: Record<string, Writable>): () => string[] {
  const broken = new Set<string>()
  for (const [name, stream] of Object.entries(streams)) {
    stream.on('error', (err) => {
      // Any write error on a standard stream means nobody reads it any more.
      broken.add(`${name}: ${err.code ?? err.message}`)
    })
  }
  return () => [...broken]
}
