import { readdir, readFile } from 'node:fs/promises'
import { join, sep } from 'node:path'
import { HomecloudError } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import { apiRefusal, fieldManagerDefault, type KubeAccess, kubeAccess } from './client.js'
import { type AddonDocument, splitManifest } from './documents.js'
import { orderForApply } from './order.js'
import { type AddonProblem, describeProblem } from './problem.js'
import { problemFromServer, unknownKindProblem } from './server-errors.js'
import {
  type AddonState,
  addonStateConfigMap,
  emptyAddonState,
  nextAddonState,
  parseAddonState,
  planFiles,
  sha256Hex,
} from './state.js'
import type { AddonsReport, ApplyAddonsOptions } from './types.js'

// The shell of the add-on applier: read the files, ask the pure parts what to apply and
// in which order, apply each document with server-side apply, record what succeeded.

export const resyncMsDefault = 10 * 60_000
const manifestFileRe = /\.(ya?ml|json)$/

async function listManifestFiles(dir: string): Promise<string[]> {
  let entries: string[]
  try {
    entries = (await readdir(dir, { recursive: true })) as string[]
  } catch (err) {
    throw new HomecloudError(
      'KUBE_ADDONS_FAILED',
      `cannot read the add-on manifests directory ${dir}: ${(err as Error).message}`,
      'check the path (the agent uses manifests/addons in its package)',
      { cause: err },
    )
  }
  return entries
    .filter((e) => manifestFileRe.test(e))
    .map((e) => e.split(sep).join('/'))
    .sort()
}

async function readState(kube: KubeAccess, log: Logger, server: string, name: string): Promise<AddonState> {
  let data: Record<string, string> | null
  try {
    data = await kube.readConfigMap(addonStateConfigMap.namespace, name)
  } catch (err) {
    const refusal = apiRefusal(err)
    throw new HomecloudError(
      'KUBE_ADDONS_FAILED',
      refusal
        ? `the API server refused to read ${addonStateConfigMap.namespace}/${name} (HTTP ${refusal.status})`
        : `no API server answered (kubeconfig ${server}): ${(err as Error).message}`,
      'the add-ons are applied again on the next attempt; check that an API server is ready (kubectl get --raw /readyz)',
      { cause: err },
    )
  }
  const state = parseAddonState(data?.[addonStateConfigMap.key])
  if (state) return state
  log.warn({ configMap: name }, 'add-on state unreadable: applying every add-on again')
  return emptyAddonState
}

async function applyOne(
  kube: KubeAccess,
  doc: AddonDocument,
  fieldManager: string,
): Promise<AddonProblem | null> {
  try {
    await kube.apply(doc.object as never, fieldManager)
    return null
  } catch (err) {
    const refusal = apiRefusal(err)
    if (refusal) {
      // Discovery of an unknown group/version answers 404 before any object is sent.
      if (refusal.status === 404 && /resource metadata/.test((err as Error).message)) {
        return {
          ...unknownKindProblem(doc, `the API server does not serve ${doc.object.apiVersion}`),
          field: '.apiVersion',
        }
      }
      return problemFromServer(doc, refusal.status, refusal.body)
    }
    const message = (err as Error).message ?? String(err)
    if (/Unrecognized API version and kind/.test(message)) return unknownKindProblem(doc, message)
    return problemFromServer(doc, undefined, err)
  }
}

export async function runAddons(opts: ApplyAddonsOptions): Promise<AddonsReport> {
  const { clock, log } = opts
  const fieldManager = opts.fieldManager ?? fieldManagerDefault
  const started = clock.monoMs()
  const names = await listManifestFiles(opts.dir)
  const contents = new Map<string, string>()
  const files: { file: string; sha256: string }[] = []
  for (const file of names) {
    const text = await readFile(join(opts.dir, file), 'utf8')
    contents.set(file, text)
    files.push({ file, sha256: sha256Hex(text) })
  }

  const kube = opts.kube ?? kubeAccess(opts.kubeconfigPath)
  const stateName = opts.stateConfigMap ?? addonStateConfigMap.name
  const prev = await readState(kube, log, opts.kubeconfigPath, stateName)
  const plan = planFiles(files, prev, clock.nowMs(), opts.resyncMs ?? resyncMsDefault)

  const problems: AddonProblem[] = []
  const docs: AddonDocument[] = []
  for (const { file } of plan.apply) {
    const split = splitManifest(file, contents.get(file)!)
    docs.push(...split.docs)
    problems.push(...split.problems)
  }
  let appliedObjects = 0
  for (const doc of orderForApply(docs)) {
    const problem = await applyOne(kube, doc, fieldManager)
    if (problem) problems.push(problem)
    else appliedObjects++
  }

  const failed = new Set(problems.map((p) => p.file))
  const applied = plan.apply.filter((a) => !failed.has(a.file))
  for (const p of problems)
    log.warn(
      { code: 'KUBE_ADDON_INVALID', file: p.file, field: p.field, source: p.source },
      `add-on refused: ${describeProblem(p)}`,
    )
  const next = nextAddonState(prev, files, new Set(applied.map((a) => a.file)), clock.nowMs())
  if (applied.length > 0 || Object.keys(next.files).length !== Object.keys(prev.files).length) {
    await kube.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: stateName,
          namespace: addonStateConfigMap.namespace,
          labels: { 'app.kubernetes.io/managed-by': fieldManager },
        },
        data: { [addonStateConfigMap.key]: JSON.stringify(next) },
      } as never,
      fieldManager,
    )
  }
  const report: AddonsReport = {
    applied: applied.map((a) => ({
      file: a.file,
      reason: a.reason,
      objects: docs.filter((d) => d.file === a.file).length,
    })),
    failed: [...failed].sort(),
    unchanged: plan.unchanged,
    problems,
    objectsApplied: appliedObjects,
    durationMs: Math.round(clock.monoMs() - started),
  }
  if (report.applied.length > 0 || problems.length > 0) {
    log.info(
      {
        applied: report.applied.map((a) => `${a.file} (${a.reason})`),
        failed: report.failed,
        unchanged: report.unchanged.length,
        ms: report.durationMs,
      },
      'add-ons applied',
    )
  }
  return report
}
