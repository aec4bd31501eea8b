import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { packageRoot } from '../../../../../agent/core/package-root.js'
import { sections, splitManifest } from '../../../../../agent/kube/addons/documents.js'
import { describeProblem } from '../../../../../agent/kube/addons/problem.js'

const cm = (name: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: kube-system\n`

describe('splitting a manifest into documents', () => {
  it('finds every document with its number and first line, skipping empty ones', () => {
    const text = `# leading comment\n---\n${cm('a')}---\n# only a comment\n---\n${cm('b')}...\n`
    const r = splitManifest('x.yaml', text)
    assert.deepEqual(r.problems, [])
    assert.deepEqual(
      r.docs.map((d) => [d.index, d.line, d.object.metadata.name]),
      [
        [1, 3, 'a'],
        [2, 11, 'b'],
      ],
    )
  })

  it('keeps content written on the separator line', () => {
    assert.deepEqual(
      sections('a: 1\n--- {b: 2}\n').map((s) => s.text.trim()),
      ['a: 1', '{b: 2}'],
    )
  })

  it('reports a YAML mistake in one document and still returns the others', () => {
    const text = `${cm('a')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n---\n${cm('c')}`
    const r = splitManifest('bad.yaml', text)
    assert.deepEqual(
      r.docs.map((d) => d.object.metadata.name),
      ['a', 'c'],
    )
    assert.equal(r.problems.length, 1)
    const p = r.problems[0]!
    assert.equal(p.file, 'bad.yaml')
    assert.equal(p.index, 2)
    assert.equal(p.source, 'local')
    assert.match(p.message, /not valid YAML/)
    assert.ok(p.line! >= 7 && p.line! <= 10, `line ${p.line}`) // where the parser noticed, within the document
  })

  it('names the field of a broken envelope', () => {
    const cases: [string, string][] = [
      ['kind: ConfigMap\nmetadata: {name: a}\n', '.apiVersion'],
      ['apiVersion: v1\nmetadata: {name: a}\n', '.kind'],
      ['apiVersion: v1\nkind: configmap\nmetadata: {name: a}\n', '.kind'],
      ['apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n', '.metadata.name'],
      ['apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Has_Caps}\n', '.metadata.name'],
      ['apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: 7}\n', '.metadata.namespace'],
      ['just a string\n', '.'],
    ]
    for (const [text, field] of cases) {
      const r = splitManifest('f.yaml', text)
      assert.equal(r.docs.length, 0, text)
      assert.equal(r.problems[0]?.field, field, text)
      assert.equal(r.problems[0]?.index, 1)
    }
  })

  it('describes a problem with file, document, line, object and field', () => {
    assert.equal(
      describeProblem({
        file: 'coredns.yaml',
        index: 3,
        line: 45,
        kind: 'Deployment',
        name: 'coredns',
        field: '.spec.bogus',
        message: 'field not declared in schema',
        source: 'server',
      }),
      'coredns.yaml document 3 (line 45) Deployment coredns, field .spec.bogus: field not declared in schema',
    )
  })

  it('every shipped add-on passes the envelope check', async () => {
    const dir = join(packageRoot(), 'manifests', 'addons')
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'))
    assert.ok(files.length >= 3)
    for (const f of files) {
      const r = splitManifest(f, await readFile(join(dir, f), 'utf8'))
      assert.deepEqual(r.problems, [], f)
      assert.ok(r.docs.length > 0, f)
    }
  })
})
