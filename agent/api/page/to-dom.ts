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
  createTextNode(text: string): DomNode
}

/** Browser side: the element tree as DOM nodes. Text becomes text nodes, never parsed markup. */
export function toDom(node: Child, doc: DomDocument): DomNode {
  if (typeof node === 'string') return doc.createTextNode(node)
  const el = doc.createElement(node.tag)
  for (const [k, v] of Object.entries(node.attrs)) el.setAttribute(k, v)
  for (const c of node.children) el.append(toDom(c, doc))
  return el
}
