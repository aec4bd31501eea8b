import { load } from 'js-yaml'
import { z } from 'zod'
import { type AddonProblem, fieldPath } from './problem.js'

// Splitting a manifest file into documents and checking each one's envelope (pure).
// Each `---` section is parsed on its own, so a YAML mistake in one document does not
// hide the others in the same file; a problem names the file, the document's number
// (1-based, counting non-empty documents) and its first line, and the field at fault.

/** The part of every Kubernetes object the applier relies on; the rest is the API server's to judge. */
export const KubeObjectEnvelope = z
  .object({
    apiVersion: z.string().min(1),
    kind: z.string().regex(/^[A-Z][A-Za-z0-9]*$/, 'a Kubernetes kind, like Deployment'),
    metadata: z
      .object({
        // DNS subdomain (RBAC objects may also contain ':', as in `homecloud:coredns`).
        name: z
          .string()
          .min(1)
          .max(253)
          .regex(/^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$/, 'lower-case letters, digits, "-", "." or ":"'),
        namespace: z
          .string()
          .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
          .max(63)
          .optional(),
      })
      .loose(),
  })
  .loose()
export type KubeObject = z.infer<typeof KubeObjectEnvelope>

export type { AddonProblem } from './problem.js'

export interface AddonDocument {
  /** Path relative to the manifests directory. */
  file: string
  /** 1-based among the file's non-empty documents. */
  index: number
  /** 1-based line where the document starts. */
  line: number
  object: KubeObject
}

export interface SplitResult {
  docs: AddonDocument[]
  problems: AddonProblem[]
}

interface Section {
  text: string
  line: number
}

/** Sections between `---` separator lines, with the line each starts on. */
export function sections(text: string): Section[] {
  const out: Section[] = []
  const lines = text.split(/\r?\n/)
  let start = 0
  let buf: string[] = []
  lines.forEach((l, i) => {
    if (/^---(\s|$)/.test(l)) {
      out.push({ text: buf.join('\n'), line: start + 1 })
      // Content after `--- ` on the same line belongs to the next document.
      const rest = l.slice(3).trim()
      buf = rest && !rest.startsWith('#') ? [rest] : []
      start = rest ? i : i + 1
      return
    }
    if (/^\.\.\.\s*$/.test(l)) return
    buf.push(l)
  })
  out.push({ text: buf.join('\n'), line: start + 1 })
  return out
}

function firstContentLine(s: Section): number {
  const offset = s.text.split('\n').findIndex((l) => l.trim() !== '' && !l.trim().startsWith('#'))
  return s.line + Math.max(0, offset)
}

export function splitManifest(file: string, text: string): SplitResult {
  const docs: AddonDocument[] = []
  const problems: AddonProblem[] = []
  let index = 0
  for (const s of sections(text)) {
    let value: unknown
    try {
      value = load(s.text, { filename: file })
    } catch (err) {
      index++
      const mark = (err as { mark?: { line?: number } }).mark
      problems.push({
        file,
        index,
        line: mark?.line !== undefined ? s.line + mark.line : firstContentLine(s),
        message: `not valid YAML: ${(err as { reason?: string }).reason ?? (err as Error).message}`,
        source: 'local',
      })
      continue
    }
    if (value === null || value === undefined) continue // empty or comments only
    index++
    const line = firstContentLine(s)
    const parsed = KubeObjectEnvelope.safeParse(value)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      const v = value as { kind?: unknown; metadata?: { name?: unknown } }
      problems.push({
        file,
        index,
        line,
        kind: typeof v?.kind === 'string' ? v.kind : undefined,
        name: typeof v?.metadata?.name === 'string' ? v.metadata.name : undefined,
        field: fieldPath(issue.path) || '.',
        message: issue.message,
        source: 'local',
      })
      continue
    }
    docs.push({ file, index, line, object: parsed.data })
  }
  return { docs, problems }
}
