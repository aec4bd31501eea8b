import { readFile } from 'node:fs/promises'
import type { z } from 'zod'
import { HomecloudError } from './errors.js'

/**
 * Read a JSON state file through its schema: null when it does not exist, the parsed
 * value when it is good, and otherwise an error that names the file and the field.
 */
export async function readJsonFile<S extends z.ZodType>(
  path: string,
  schema: S,
  invalid: { code: ConstructorParameters<typeof HomecloudError>[0]; what: string; hint: string },
): Promise<z.infer<S> | null> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new HomecloudError('STATE_DIR', `cannot read ${path}: ${(err as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  const r = schema.safeParse(json)
  if (!r.success) {
    const issue = r.error.issues[0]
    throw new HomecloudError(
      invalid.code,
      `${path} is not ${invalid.what} (${issue?.path.join('.') || 'file'}: ${issue?.message})`,
      invalid.hint,
    )
  }
  return r.data
}
