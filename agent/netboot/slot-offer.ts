import type { Clock } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import type { NetbootSlotsClient } from '../slots/netboot-store.js'
import type { ImageArch } from './arch.js'
import type { NetbootImage } from './manifest.js'

// A serving node asking the MAC's netboot slot record (agent/slots/netboot-decide.ts) what
// to offer a booting machine. No record (every machine never moved by a rollout): null,
// and the node serves the cluster's current release as it always did. The records cannot
// be reached in time: null as well, logged — a boot never waits on a sick etcd.

export type SlotOffer = { image: NetbootImage; mode: string } | { refuse: string } | null

export const slotLookupMsMax = 4000

export interface SlotOfferDeps {
  client: NetbootSlotsClient
  imageById(id: string): NetbootImage | null
  clock: Pick<Clock, 'setTimeout'>
  log: Logger
}

export async function slotOffer(
  d: SlotOfferDeps,
  mac: string,
  arch: ImageArch,
  bootId: string | null,
): Promise<SlotOffer> {
  let timer: { cancel(): void } | null = null
  const late = new Promise<'late'>((resolve) => {
    timer = d.clock.setTimeout(() => resolve('late'), slotLookupMsMax)
  })
  try {
    const r = await Promise.race([ask(d, mac, arch, bootId), late])
    if (r === 'late') {
      d.log.warn({ mac }, `netboot slots: no answer in ${slotLookupMsMax} ms; serving the current release`)
      return null
    }
    return r
  } catch (err) {
    d.log.warn({ mac, err: (err as Error).message }, 'netboot slots unreadable; serving the current release')
    return null
  } finally {
    ;(timer as { cancel(): void } | null)?.cancel()
  }
}

async function ask(
  d: SlotOfferDeps,
  mac: string,
  arch: ImageArch,
  bootId: string | null,
): Promise<SlotOffer> {
  const rec = await d.client.read(mac)
  if (!rec) return null
  const holds = [rec.state.slots.a, rec.state.slots.b]
    .flatMap((c) => (c ? [c.releaseId] : []))
    .filter((id) => d.imageById(id) !== null)
  const decision = await d.client.boot(mac, { arch, bootId, holds })
  if (decision.kind === 'none') return null
  if (decision.kind === 'refuse') return { refuse: decision.reason }
  const image = d.imageById(decision.releaseId)
  if (!image) return { refuse: `this node does not hold release ${decision.version} whole` }
  d.log.info(
    { mac, slot: decision.slot, version: decision.version, mode: decision.mode },
    'netboot slot offered',
  )
  return { image, mode: decision.mode }
}
