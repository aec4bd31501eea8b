// A small interpreter for the part of GRUB's script language grub.cfg uses (test
// helper). It runs the generated text itself — if/elif/else, functions, set, [ ],
// regexp, load_env/save_env — so the test compares what the script does with tries.ts,
// not a second hand-written copy of its logic. Anything it does not know fails the
// test instead of being skipped; grub-script-check checks the same text's syntax.

type Part = { text: string; quote: 'none' | 'single' | 'double' }
type Token = { kind: 'word'; raw: string; parts: Part[] } | { kind: 'sep' }
type Word = Extract<Token, { kind: 'word' }>
type Stmt =
  | { kind: 'cmd'; words: Word[] }
  | { kind: 'if'; clauses: { cond: Stmt[]; body: Stmt[] }[]; otherwise: Stmt[] }
  | { kind: 'function'; name: string; body: Stmt[] }

function tokenize(src: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < src.length) {
    const c = src[i] as string
    if (c === ' ' || c === '\t') i++
    else if (c === '\n' || c === ';') {
      out.push({ kind: 'sep' })
      i++
    } else if (c === '#') while (i < src.length && src[i] !== '\n') i++
    else {
      const parts: Part[] = []
      const start = i
      while (i < src.length && !' \t\n;'.includes(src[i] as string)) {
        const q = src[i]
        if (q === "'" || q === '"') {
          const end = src.indexOf(q, i + 1)
          if (end < 0) throw new Error(`unterminated quote at ${i}`)
          parts.push({ text: src.slice(i + 1, end), quote: q === "'" ? 'single' : 'double' })
          i = end + 1
        } else {
          let j = i
          while (j < src.length && !` \t\n;'"`.includes(src[j] as string)) j++
          parts.push({ text: src.slice(i, j), quote: 'none' })
          i = j
        }
      }
      out.push({ kind: 'word', raw: src.slice(start, i), parts })
    }
  }
  return out
}

class Parser {
  private at = 0
  constructor(private readonly tokens: Token[]) {}

  private peekWord(): string | null {
    while (this.tokens[this.at]?.kind === 'sep') this.at++
    const t = this.tokens[this.at]
    return t?.kind === 'word' ? t.raw : null
  }

  private expect(word: string): void {
    if (this.peekWord() !== word) throw new Error(`expected ${word}, found ${this.peekWord()}`)
    this.at++
  }

  list(stop: ReadonlySet<string>): Stmt[] {
    const out: Stmt[] = []
    for (;;) {
      const w = this.peekWord()
      if (w === null || stop.has(w)) return out
      out.push(this.statement(w))
    }
  }

  private statement(first: string): Stmt {
    if (first === 'if') return this.ifStatement()
    if (first === 'function') {
      this.at++
      const name = this.peekWord()
      if (!name) throw new Error('function without a name')
      this.at++
      this.expect('{')
      const body = this.list(new Set(['}']))
      this.expect('}')
      return { kind: 'function', name, body }
    }
    const words: Word[] = []
    for (let t = this.tokens[this.at]; t?.kind === 'word'; t = this.tokens[++this.at]) words.push(t)
    return { kind: 'cmd', words }
  }

  private ifStatement(): Stmt {
    const clauses: { cond: Stmt[]; body: Stmt[] }[] = []
    let otherwise: Stmt[] = []
    let kw = 'if'
    while (kw === 'if' || kw === 'elif') {
      this.expect(kw)
      const cond = this.list(new Set(['then']))
      this.expect('then')
      const body = this.list(new Set(['elif', 'else', 'fi']))
      clauses.push({ cond, body })
      kw = this.peekWord() ?? 'EOF'
    }
    if (kw === 'else') {
      this.expect('else')
      otherwise = this.list(new Set(['fi']))
    }
    this.expect('fi')
    return { kind: 'if', clauses, otherwise }
  }
}

export function parseGrubScript(src: string): Stmt[] {
  return new Parser(tokenize(src)).list(new Set())
}

/** The machine GRUB runs on: its disk's files and its environment block. */
export interface GrubWorld {
  /** `$root` as GRUB sets it: the partition grub.cfg came from, e.g. `hd0,msdos1`. */
  root: string
  /** Paths that exist, e.g. `(hd0,msdos2)/slot.json`. */
  files: ReadonlySet<string>
  /** Filesystem UUIDs by device, e.g. `(hd0,msdos2)` → `ABCD-1234`. */
  uuids: Readonly<Record<string, string>>
  /** The block load_env reads and save_env writes (changed in place). */
  envBlock: Record<string, string>
}

export interface GrubRun {
  end: 'boot' | 'halt' | 'reboot' | 'end'
  linux: string[] | null
  initrd: string | null
  echoed: string[]
}

class Stop extends Error {
  constructor(readonly end: GrubRun['end']) {
    super(end)
  }
}

const expandVars = (s: string, vars: Map<string, string>) =>
  s.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (_m, a: string | undefined, b: string | undefined) => vars.get(a ?? b ?? '') ?? '',
  )

/** A word's value; an unquoted word that expands to nothing is no argument at all. */
function expandWord(w: Word, vars: Map<string, string>): string | null {
  let out = ''
  let quoted = false
  for (const p of w.parts) {
    quoted ||= p.quote !== 'none'
    out += p.quote === 'single' ? p.text : expandVars(p.text, vars)
  }
  return out === '' && !quoted ? null : out
}

/** GRUB's `[ … ]` (the forms grub.cfg uses). */
function test(args: string[], world: GrubWorld): boolean {
  if (args.at(-1) !== ']') throw new Error('[ without ]')
  const a = args.slice(0, -1)
  const int = (s: string) => Number.parseInt(s, 10) || 0
  if (a.length === 2 && a[0] === '-n') return a[1] !== ''
  if (a.length === 2 && a[0] === '-z') return a[1] === ''
  if (a.length === 2 && a[0] === '-f') return world.files.has(a[1] as string)
  if (a.length === 1) return a[0] !== ''
  if (a.length === 3 && a[1] === '=') return a[0] === a[2]
  if (a.length === 3 && a[1] === '-gt') return int(a[0] as string) > int(a[2] as string)
  throw new Error(`[ ${a.join(' ')} ] is not modelled`)
}

function regexp(args: string[], vars: Map<string, string>): boolean {
  let set: [number, string] | null = null
  let rest = args
  const m = /^--set=(\d+):(\w+)$/.exec(args[0] ?? '')
  if (m) {
    set = [Number(m[1]), m[2] as string]
    rest = args.slice(1)
  }
  if (rest.length !== 2) throw new Error(`regexp ${args.join(' ')} is not modelled`)
  const found = new RegExp(rest[0] as string).exec(rest[1] as string)
  if (found && set) vars.set(set[1], found[set[0]] ?? '')
  return found !== null
}

export class GrubInterpreter {
  readonly vars = new Map<string, string>()
  private readonly functions = new Map<string, Stmt[]>()
  private readonly run: GrubRun = { end: 'end', linux: null, initrd: null, echoed: [] }

  constructor(private readonly world: GrubWorld) {
    this.vars.set('root', world.root)
  }

  exec(script: Stmt[]): GrubRun {
    try {
      this.list(script)
    } catch (err) {
      if (!(err instanceof Stop)) throw err
      this.run.end = err.end
    }
    return this.run
  }

  private list(stmts: Stmt[]): boolean {
    let ok = true
    for (const s of stmts) ok = this.statement(s)
    return ok
  }

  private statement(s: Stmt): boolean {
    if (s.kind === 'function') {
      this.functions.set(s.name, s.body)
      return true
    }
    if (s.kind === 'if') {
      for (const c of s.clauses) if (this.list(c.cond)) return this.list(c.body)
      return this.list(s.otherwise)
    }
    const args = s.words.map((w) => expandWord(w, this.vars)).filter((a): a is string => a !== null)
    return this.command(args[0] as string, args.slice(1))
  }

  private command(name: string, args: string[]): boolean {
    const fn = this.functions.get(name)
    if (fn) return this.list(fn)
    switch (name) {
      case 'set': {
        const [k, ...v] = (args[0] as string).split('=')
        this.vars.set(k as string, v.join('='))
        return true
      }
      case '[':
        return test(args, this.world)
      case 'regexp':
        return regexp(args, this.vars)
      case 'load_env':
        for (const k of args) if (k in this.world.envBlock) this.vars.set(k, this.world.envBlock[k] as string)
        return true
      case 'save_env':
        for (const k of args) this.world.envBlock[k] = this.vars.get(k) ?? ''
        return true
      case 'probe':
        return this.probe(args)
      case 'echo':
        this.run.echoed.push(args.join(' '))
        return true
      case 'linux':
        this.run.linux = args
        return true
      case 'initrd':
        this.run.initrd = args[0] ?? null
        return true
      case 'boot':
      case 'halt':
      case 'reboot':
        throw new Stop(name)
      case 'serial':
      case 'terminal_input':
      case 'terminal_output':
      case 'sleep':
        return true
      default:
        throw new Error(`GRUB command ${name} is not modelled`)
    }
  }

  private probe(args: string[]): boolean {
    if (args[0] !== '--fs-uuid' || !args[1]?.startsWith('--set=')) throw new Error(`probe ${args.join(' ')}`)
    const uuid = this.world.uuids[args[2] as string]
    if (uuid === undefined) return false
    this.vars.set(args[1].slice('--set='.length), uuid)
    return true
  }
}

export function runGrubCfg(cfg: string, world: GrubWorld): GrubRun & { vars: Map<string, string> } {
  const interp = new GrubInterpreter(world)
  const run = interp.exec(parseGrubScript(cfg))
  return { ...run, vars: interp.vars }
}
