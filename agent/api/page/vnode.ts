// The page is built once as data (a tiny element tree) and then written out either as
// HTML text on the server or as DOM nodes in the browser. Both writers escape or
// assign text in one place, so no section can forget to escape a peer's string.

export type Child = VNode | string

export interface VNode {
  readonly tag: string
  readonly attrs: Readonly<Record<string, string>>
  readonly children: readonly Child[]
}

export type Attrs = Record<string, string | number | boolean | null | undefined>
export type ChildArg = Child | null | undefined | false | readonly ChildArg[]

/** Tag and attribute names come from our code only; this pattern also keeps out `on*` handlers. */
const NAME = /^(?!on)[a-z][a-z0-9-]*$/
/** Elements whose content is raw text: never built from data. */
const FORBIDDEN_TAGS = new Set(['script', 'style', 'iframe', 'object', 'embed', 'template'])

export function isSafeName(name: string): boolean {
  return NAME.test(name)
}

/** `false`, `null` and `undefined` attributes are left out; `true` becomes an empty (boolean) attribute. */
export function h(tag: string, attrs: Attrs | null, ...children: ChildArg[]): VNode {
  if (!isSafeName(tag) || FORBIDDEN_TAGS.has(tag)) throw new Error(`page bug: tag "${tag}" not allowed`)
  const a: Record<string, string> = {}
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (!isSafeName(k)) throw new Error(`page bug: attribute "${k}" not allowed`)
    if (v === false || v === null || v === undefined) continue
    a[k] = v === true ? '' : String(v)
  }
  const out: Child[] = []
  const add = (c: ChildArg): void => {
    if (c === null || c === undefined || c === false) return
    if (Array.isArray(c)) for (const x of c as readonly ChildArg[]) add(x)
    else out.push(c as Child)
  }
  for (const c of children) add(c)
  return { tag, attrs: a, children: out }
}
