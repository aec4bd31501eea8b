import type { Child } from './vnode.js'

// Just the DOM surface the browser side uses, declared here so the agent's
// compilation needs no DOM library.
export interface DomNode {
  readonly nodeType: number
}
export interface DomElement extends DomNode {
  id: string
  setAttribute(name: string, value: string): void
  append(...nodes: DomNode[]): void
  replaceChildren(...nodes: DomNode[]): void
  replaceWith(...nodes: DomNode[]): void
}
export interface DomDocument {
  createElement(tag: string): DomElement
  createElementNS(namespace: string, tag: string): DomElement
  createTextNode(text: string): DomNode
}

export const SVG_NS = 'http://www.w3.org/2000/svg'

/**
 * Attribute names are lower case in the element tree (the HTML parser fixes their case
 * for SVG when the server's page is parsed); DOM calls need the real names.
 */
const SVG_ATTRIBUTE_CASE: Readonly<Record<string, string>> = {
  viewbox: 'viewBox',
  preserveaspectratio: 'preserveAspectRatio',
}

/** Browser side: the element tree as DOM nodes. Text becomes text nodes, never parsed markup. */
export function toDom(node: Child, doc: DomDocument, inSvg = false): DomNode {
  if (typeof node === 'string') return doc.createTextNode(node)
  const svg = inSvg || node.tag === 'svg'
  const el = svg ? doc.createElementNS(SVG_NS, node.tag) : doc.createElement(node.tag)
  for (const [k, v] of Object.entries(node.attrs)) el.setAttribute(svg ? (SVG_ATTRIBUTE_CASE[k] ?? k) : k, v)
  for (const c of node.children) el.append(toDom(c, doc, svg))
  return el
}
