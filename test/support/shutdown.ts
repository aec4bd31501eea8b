import { join } from 'node:path'
import { execa } from 'execa'
import { packageRoot } from '../../agent/core/package-root.js'
import type { LabFile } from '../../lab/lab-file.js'
import { waitFor } from '../../lab/wait.js'

/** `homecloud shutdown …` (or any other command) running in the background: its output so far, and its end. */
export function startShutdown(lab: Pick<LabFile, 'dir'>, args: string[], env: Record<string, string> = {}) {
  const p = execa(
    process.execPath,
    [join(packageRoot(), 'bin', 'homecloud.js'), ...args, '--admin', join(lab.dir, 'admin.json')],
    { reject: false, env },
  )
  let out = ''
  p.stdout?.on('data', (c: Buffer) => {
    out += c.toString('utf8')
  })
  const done = p.then((r) => ({
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
  }))
  return {
    done,
    /** Waits until its output matches. */
    saw: (re: RegExp) => waitFor(async () => re.test(out) || `waiting for ${re}`, { timeoutMs: 60_000 }),
  }
}
