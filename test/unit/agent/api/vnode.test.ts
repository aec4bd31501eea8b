import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pageSections } from '../../../../agent/api/page/body.js'
import { type DomDocument, type DomElement, type DomNode, toDom } from '../../../../agent/api/page/to-dom.js'
import { escapeHtml, toHtml } from '../../../../agent/api/page/to-html.js'
import { h } from '../../../../agent/api/page/vnode.js'
import { clusterView, member, NOW } from './fixtures.js'

/** Just enough of a DOM to see what toDom builds; serialised like a browser would. */
class FakeText implements DomNode {
  readonly nodeType = 3
  constructor(readonly text: string) {}
}
class FakeElement implements DomElement {
  readonly nodeType = 1
  id = ''
  readonly attrs: [string, string][] = []
  children: DomNode[] = []
  constructor(readonly tag: string) {}
  setAttribute(name: string, value: string): void {
    this.attrs.push([name, value])
  }
  append(...nodes: DomNode[]): void {
    this.children.push(...nodes)
  }
  replaceChildren(...nodes: DomNode[]): void {
    this.children = nodes
  }
  replaceWith(): void {}
}
const fakeDocument: DomDocument = {
  createElement: (tag) => new FakeElement(tag),
  createElementNS: (_ns, tag) => new FakeElement(tag),
  createTextNode: (text) => new FakeText(text),
}
const VOID = new Set(['input', 'meta', 'br'])
function serialise(n: DomNode): string {
  if (n instanceof FakeText) return escapeHtml(n.text)
  const el = n as FakeElement
  const attrs = el.attrs.map(([k, v]) => (v === '' ? ` ${k}` : ` ${k}="${escapeHtml(v)}"`)).join('')
  if (VOID.has(el.tag)) return `<${el.tag}${attrs}>`
  return `<${el.tag}${attrs}>${el.children.map(serialise).join('')}</${el.tag}>`
}

test('h refuses raw-text tags and event-handler attributes (they are never built from data)', () => {
  assert.throws(() => h('script', null), /not allowed/)
  assert.throws(() => h('style', null), /not allowed/)
  assert.throws(() => h('a', { onclick: 'x' }), /not allowed/)
  assert.throws(() => h('a', { 'x y': 'x' }), /not allowed/)
  assert.deepEqual(h('p', { a: null, b: false, c: undefined, d: true, e: 1 }, null, false, ['x', ['y']]), {
    tag: 'p',
    attrs: { d: '', e: '1' },
    children: ['x', 'y'],
  })
})

test('toHtml escapes text and attribute values', () => {
  assert.equal(
    toHtml(h('a', { href: 'x"><b>' }, '<i>&"\'')),
    '<a href="x&quot;&gt;&lt;b&gt;">&lt;i&gt;&amp;&quot;&#39;</a>',
  )
})

test('the browser builds the same page as the server (sections, hostile names included)', () => {
  const view = clusterView({}, [
    member({ name: 'me', self: true }),
    member({ name: '<img src=x onerror=alert(1)>', state: 'dead', stateSinceMs: NOW - 9000 }),
    member({ name: 'waiting', state: 'pending' }),
  ])
  for (const s of pageSections(view, NOW)) {
    const dom = toDom(s, fakeDocument)
    assert.equal(serialise(dom), toHtml(s))
    // No text was ever parsed as markup: the hostile name is a single text node.
  }
  const nodes = toDom(pageSections(view, NOW).find((s) => s.attrs.id === 'nodes')!, fakeDocument)
  const texts: string[] = []
  const walk = (n: DomNode): void => {
    if (n instanceof FakeText) texts.push(n.text)
    else for (const c of (n as FakeElement).children) walk(c)
  }
  walk(nodes)
  assert.ok(texts.includes('<img src=x onerror=alert(1)>'))
})
