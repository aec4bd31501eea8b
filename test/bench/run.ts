// Runs every test/bench/*.bench.ts module, prints one table and saves the numbers.
// Numbers, not pass/fail: a missed goal never fails the run; only a crash does.
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg, totalmem } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { formatTable, goalMet } from './table.js'
import type { BenchContext, BenchModule, Row } from './types.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const RESULTS_DIR = join(HERE, 'results')
const USAGE = 'usage: npm run bench -- [--only NAME[,NAME...]] [--quick]'

interface Options {
  only: string[] | null
  quick: boolean
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { only: null, quick: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--quick') opts.quick = true
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length)
      if (!v) throw new Error(`--only needs a benchmark name\n${USAGE}`)
      opts.only = [
        ...(opts.only ?? []),
        ...v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ]
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`)
      process.exit(0)
    } else throw new Error(`unknown argument ${a}\n${USAGE}`)
  }
  return opts
}

async function loadModules(): Promise<{ file: string; mod: BenchModule }[]> {
  const files = (await readdir(HERE)).filter((f) => f.endsWith('.bench.ts')).sort()
  const out: { file: string; mod: BenchModule }[] = []
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(HERE, file)).href)) as Partial<BenchModule>
    if (typeof mod.name !== 'string' || typeof mod.run !== 'function') {
      throw new Error(`${file} must export \`name\` (string) and \`run(ctx)\``)
    }
    out.push({ file, mod: mod as BenchModule })
  }
  return out
}

const t0 = Date.now()
function progress(scope: string, line: string): void {
  process.stderr.write(`[bench ${scope} +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`)
}

const cleanups = new Set<() => Promise<void>>()
async function runCleanups(): Promise<void> {
  for (const fn of [...cleanups].reverse()) {
    cleanups.delete(fn)
    await fn().catch((err) => progress('cleanup', `failed: ${(err as Error).message}`))
  }
}

let interrupted = false
function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) process.exit(signal === 'SIGINT' ? 130 : 143) // second signal: give up on cleanup
  interrupted = true
  progress('signal', `${signal}: stopping labs and removing their directories`)
  void runCleanups().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

interface ModuleResult {
  name: string
  file: string
  startedAt: string
  durationMs: number
  rows: Row[]
  errors: string[]
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2))
  let modules = await loadModules()
  if (opts.only) {
    const unknown = opts.only.filter(
      (n) => !modules.some((m) => m.mod.name === n || basename(m.file, '.bench.ts') === n),
    )
    if (unknown.length > 0) {
      process.stderr.write(
        `no benchmark named ${unknown.join(', ')}; have: ${modules.map((m) => m.mod.name).join(', ')}\n`,
      )
      return 2
    }
    modules = modules.filter(
      (m) => opts.only!.includes(m.mod.name) || opts.only!.includes(basename(m.file, '.bench.ts')),
    )
  }
  const startedAt = new Date()
  const loadBefore = loadavg()
  const results: ModuleResult[] = []
  try {
    for (const { file, mod } of modules) {
      const errors: string[] = []
      const ctx: BenchContext = {
        quick: opts.quick,
        progress: (line) => progress(mod.name, line),
        onCleanup(fn) {
          cleanups.add(fn)
          return () => cleanups.delete(fn)
        },
        fail(what, err) {
          const msg = `${what}: ${err instanceof Error ? err.message : String(err)}`
          errors.push(msg)
          progress(mod.name, `FAILED ${msg}`)
        },
      }
      const started = Date.now()
      progress(mod.name, `start${opts.quick ? ' (quick)' : ''}`)
      let rows: Row[] = []
      try {
        rows = await mod.run(ctx)
      } catch (err) {
        ctx.fail('benchmark crashed', err)
      }
      results.push({
        name: mod.name,
        file,
        startedAt: new Date(started).toISOString(),
        durationMs: Date.now() - started,
        rows,
        errors,
      })
      progress(mod.name, `done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    }
  } finally {
    await runCleanups()
  }

  const allRows = results.flatMap((r) => r.rows)
  process.stdout.write(`\n${formatTable(allRows)}\n`)
  const errors = results.flatMap((r) => r.errors.map((e) => `${r.name}: ${e}`))
  if (errors.length > 0)
    process.stdout.write(
      `\nerrors (the benchmark itself failed):\n${errors.map((e) => `  ${e}`).join('\n')}\n`,
    )

  const machine = {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '',
    totalMemMB: Math.round(totalmem() / 2 ** 20),
    loadavgBefore: loadBefore,
    loadavgAfter: loadavg(),
  }
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-') // ISO 8601, made safe for file names
  await mkdir(RESULTS_DIR, { recursive: true })
  const withMet = (rows: Row[]) => rows.map((r) => ({ ...r, met: goalMet(r) || null }))
  const saved: string[] = []
  for (const r of results) {
    const file = join(RESULTS_DIR, `${r.name}-${stamp}.json`)
    await writeFile(
      file,
      `${JSON.stringify({ ...r, quick: opts.quick, machine, rows: withMet(r.rows) }, null, 2)}\n`,
    )
    saved.push(file)
  }
  const latest = join(RESULTS_DIR, 'latest.json')
  const run = {
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    quick: opts.quick,
    machine,
    errors,
  }
  await writeFile(
    latest,
    `${JSON.stringify({ ...run, modules: results.map((r) => ({ ...r, rows: withMet(r.rows) })) }, null, 2)}\n`,
  )
  process.stdout.write(
    `\nsaved ${[...saved, latest].map((f) => f.replace(`${process.cwd()}/`, '')).join(', ')}\n`,
  )
  return errors.length > 0 ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`)
    await runCleanups()
    process.exit(1)
  },
)
