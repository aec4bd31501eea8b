/** Reads a server-sent event stream in tests: frames in order, with a timeout per read. */
export interface SseStream {
  status: number
  headers: Headers
  /** The next frame: its event name (or ':' for a comment) and data. */
  next(timeoutMs?: number): Promise<{ event: string; data: string }>
  close(): void
}

export async function openSse(url: string): Promise<SseStream> {
  const ac = new AbortController()
  const res = await fetch(url, { signal: ac.signal, headers: { accept: 'text/event-stream' } })
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buf = ''
  return {
    status: res.status,
    headers: res.headers,
    async next(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const end = buf.indexOf('\n\n')
        if (end >= 0) {
          const frame = buf.slice(0, end)
          buf = buf.slice(end + 2)
          const lines = frame.split('\n').filter((l) => !l.startsWith('retry:'))
          if (lines.length === 0) continue
          if (lines.every((l) => l.startsWith(':'))) return { event: ':', data: lines.join('\n') }
          const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message'
          const data = lines
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n')
          return { event, data }
        }
        const left = deadline - Date.now()
        if (left <= 0) throw new Error(`no SSE frame within ${timeoutMs} ms`)
        let timer: NodeJS.Timeout | undefined
        const r = await Promise.race([
          reader.read(),
          new Promise<never>((_, rej) => {
            timer = setTimeout(() => rej(new Error(`no SSE frame within ${timeoutMs} ms`)), left)
          }),
        ]).finally(() => clearTimeout(timer))
        if (r.done) throw new Error('stream ended')
        buf += r.value
      }
    },
    close() {
      ac.abort()
    },
  }
}
