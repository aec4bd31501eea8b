import { readFile } from 'node:fs/promises'
import { HomecloudError } from '../core/errors.js'
import { AgentConfig } from './schema.js'

/** Reads a JSON config file (optional) and overlays flags; any bad field is named in the error. */
export async function loadConfig(
  path: string | undefined,
  overrides: Record<string, unknown>,
): Promise<AgentConfig> {
  let fromFile: Record<string, unknown> = {}
  if (path) {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      throw new HomecloudError('CONFIG_INVALID', `cannot read config ${path}: ${(err as Error).message}`)
    }
    try {
      fromFile = JSON.parse(text)
    } catch (err) {
      throw new HomecloudError(
        'CONFIG_INVALID',
        `config ${path} is not valid JSON: ${(err as Error).message}`,
      )
    }
  }
  const merged = {
    ...fromFile,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  }
  const r = AgentConfig.safeParse(merged)
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`)
    throw new HomecloudError(
      'CONFIG_INVALID',
      `invalid configuration${path ? ` in ${path}` : ''}:\n${lines.join('\n')}`,
      'fix the named fields; `homecloud agent --help` lists the flags',
    )
  }
  return r.data
}
