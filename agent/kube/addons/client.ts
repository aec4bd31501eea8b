import {
  ApiException,
  CoreV1Api,
  HttpMethod,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from '@kubernetes/client-node'

// The one place the add-on applier touches @kubernetes/client-node. The module is loaded
// only through a dynamic import (see index.ts): the library is several MB of JavaScript,
// and agents on 1 GB boards pay for it only on the coordinator, when it applies.

export const fieldManagerDefault = 'homecloud'

/**
 * Server-side apply of the document exactly as written. KubernetesObjectApi.patch
 * re-serialises known kinds through the typed models, which silently drops unknown
 * fields, and it has no fieldValidation parameter; strict validation needs the raw
 * document, so this sends it as-is through the same request machinery (TLS, auth).
 */
class ApplyApi extends KubernetesObjectApi {
  async apply(doc: KubernetesObject, fieldManager: string): Promise<KubernetesObject> {
    const path = await this.specUriPath(doc, 'patch')
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH)
    ctx.setHeaderParam('Accept', 'application/json')
    ctx.setHeaderParam('Content-Type', PatchStrategy.ServerSideApply)
    ctx.setQueryParam('fieldManager', fieldManager)
    // The add-ons are homecloud's: a hand edit of a field we manage is overwritten.
    ctx.setQueryParam('force', 'true')
    ctx.setQueryParam('fieldValidation', 'Strict')
    // JSON is valid YAML, so the apply-patch+yaml content type accepts it.
    ctx.setBody(JSON.stringify(doc))
    return this.requestPromise(ctx)
  }
}

export interface KubeAccess {
  apply(doc: KubernetesObject, fieldManager: string): Promise<KubernetesObject>
  readConfigMap(namespace: string, name: string): Promise<Record<string, string> | null>
}

export function kubeAccess(kubeconfigPath: string): KubeAccess {
  const kc = new KubeConfig()
  kc.loadFromFile(kubeconfigPath)
  const objects = kc.makeApiClient(ApplyApi)
  const core = kc.makeApiClient(CoreV1Api)
  return {
    apply: (doc, fieldManager) => objects.apply(doc, fieldManager),
    async readConfigMap(namespace, name) {
      try {
        const cm = await core.readNamespacedConfigMap({ namespace, name })
        return cm.data ?? {}
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) return null
        throw err
      }
    },
  }
}

/** Status code and body of an API server refusal, or null for anything else (network, bug). */
export function apiRefusal(err: unknown): { status: number; body: unknown } | null {
  if (err instanceof ApiException) return { status: err.code, body: err.body }
  return null
}
