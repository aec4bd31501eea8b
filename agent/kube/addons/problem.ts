// What the applier says about a document it could not apply (pure, no dependencies:
// the agent loads this at startup, the YAML parser and Kubernetes client only on use).

export interface AddonProblem {
  file: string
  index?: number
  line?: number
  kind?: string
  name?: string
  /** The field at fault, as a path like `.spec.template.spec.containers[0].image`; absent when unknown. */
  field?: string
  message: string
  /** Who refused it: our envelope check (`local`) or the API server (`server`). */
  source: 'local' | 'server'
}

/** `.a.b[0].c` from a path of keys and indexes. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')
}

/** `coredns.yaml document 3 (line 45) Deployment coredns, field .spec.x: message` */
export function describeProblem(p: AddonProblem): string {
  const where = [p.file, p.index !== undefined ? `document ${p.index}` : '', p.line ? `(line ${p.line})` : '']
    .filter(Boolean)
    .join(' ')
  const what = [p.kind, p.name].filter(Boolean).join(' ')
  const field = p.field ? `, field ${p.field}` : ''
  return `${where}${what ? ` ${what}` : ''}${field}: ${p.message}`
}
