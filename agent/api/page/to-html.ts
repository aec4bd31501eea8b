import type { Child } from './vnode.js'

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** For text and attribute values alike (attributes are always double-quoted). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

const VOID_TAGS = new Set(['br', 'hr', 'img', 'input', 'meta', 'link', 'wbr'])

/** Server side: the element tree as HTML text, every string escaped here and nowhere else. */
export function toHtml(node: Child): string {
  if (typeof node === 'string') return escapeHtml(node)
  let s = `<${node.tag}`
  for (const [k, v] of Object.entries(node.attrs)) s += v === '' ? ` ${k}` : ` ${k}="${escapeHtml(v)}"`
  s += '>'
  if (VOID_TAGS.has(node.tag)) return s
  for (const c of node.children) s += toHtml(c)
  return `${s}</${node.tag}>`
}
