// First contact on the LAN over libp2p mDNS: finds agents of the same cluster and
// hands their hyperdht bootstrap address to the caller. The mesh itself is hyperswarm.

export type { MdnsContact, MdnsContactInit } from './contact.js'
export {
  connectionsMax,
  contactMsMax,
  contactPeersMax,
  contactPortDefault,
  contactRetryMs,
  mdnsIntervalMsDefault,
  startMdnsContact,
} from './contact.js'
export type { ContactMessage, DhtAddress } from './message.js'
export {
  clusterTagSchema,
  contactFrameBytesMax,
  contactProtocol,
  decodeContact,
  encodeContact,
  serviceTagFor,
} from './message.js'
