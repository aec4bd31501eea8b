import { z } from 'zod'
import type { AddonDocument } from './documents.js'
import { type AddonProblem, fieldPath } from './problem.js'

// Turning an API server refusal into a problem that names the field (pure). The
// Status body carries `details.causes[].field` for most validation errors; strict field
// validation and server-side apply put the path in the message instead
// (`.spec.replicas: field not declared in schema`), so both are read.

const StatusBody = z
  .object({
    kind: z.literal('Status').optional(),
    message: z.string().optional(),
    reason: z.string().optional(),
    details: z
      .object({
        causes: z
          .array(z.object({ field: z.string().optional(), message: z.string().optional() }).loose())
          .optional(),
      })
      .loose()
      .optional(),
  })
  .loose()

/**
 * A field path at the start of a message or after ": " — `.spec.x: ...`,
 * `spec.template.metadata.labels: Invalid value`, `.containers[name="c"].image: ...`.
 */
function fieldFromMessage(message: string): string | undefined {
  const m = /(?:^|: )(\.?[A-Za-z][\w-]*(?:\.[\w-]+|\[[^\]\s]*\])+):\s/.exec(message)
  if (!m) return undefined
  const f = m[1]!
  return f.startsWith('.') ? f : `.${f}`
}

export function problemFromServer(
  doc: AddonDocument,
  status: number | undefined,
  body: unknown,
): AddonProblem {
  const base = {
    file: doc.file,
    index: doc.index,
    line: doc.line,
    kind: doc.object.kind,
    name: doc.object.metadata.name,
    source: 'server' as const,
  }
  let parsed: unknown = body
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body)
    } catch {
      parsed = { message: body }
    }
  }
  const s = StatusBody.safeParse(parsed)
  const message =
    (s.success ? s.data.message : undefined) ??
    (body instanceof Error ? body.message : `the API server answered ${status ?? 'nothing'}`)
  const cause = s.success ? s.data.details?.causes?.find((c) => c.field) : undefined
  const field = cause?.field
    ? cause.field.startsWith('.') || cause.field.startsWith('[')
      ? cause.field
      : `.${cause.field}`
    : fieldFromMessage(message)
  return { ...base, field, message: status ? `${message} (HTTP ${status})` : message }
}

/** A problem for a document whose kind the API server does not serve. */
export function unknownKindProblem(doc: AddonDocument, message: string): AddonProblem {
  return {
    file: doc.file,
    index: doc.index,
    line: doc.line,
    kind: doc.object.kind,
    name: doc.object.metadata.name,
    field: fieldPath(['kind']),
    message,
    source: 'server',
  }
}
