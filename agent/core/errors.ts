// Operating errors carry a stable code from one catalogue (docs/errors.md lists
// them); assertions are for bugs and simply throw.

export const ERROR_CODES = {
  CONFIG_INVALID: 'the configuration file or flags failed validation',
  STATE_DIR: 'the state directory cannot be used',
  IDENTITY_INVALID: 'the node identity key is unreadable or malformed',
  LAB_INVALID: 'a lab command was given something it cannot do',
  LAB_NOT_FOUND: 'no lab exists in that directory',
  LAB_NODE_EXITED: 'a lab agent exited while the lab waited for its mesh to converge',
  NETNS_FAILED: 'creating or removing a network namespace failed',
  API_UNREACHABLE: 'the agent API could not be reached',
  PROFILE_UNKNOWN: 'no board profile has that name',
  JOIN_MATERIAL_INVALID: 'the join material file is malformed',
  CLUSTER_EXISTS: 'the state directory already holds a cluster',
  INSTALL_EXISTS: 'homecloud is already installed under that root',
  INSTALL_FAILED: 'installing the agent (files, systemd unit, systemctl) failed',
  UNINSTALL_REFUSED: 'uninstalling would lose data the cluster needs, or nothing is installed there',
  ADMIN_UNAUTHORIZED: 'an action needs the admin client certificate',
  NODE_UNKNOWN: 'no member or pending node has that name or id',
  NOT_SIGNER: 'this node does not hold the cluster CA key',
  PKI_CSR_INVALID: 'a certificate signing request is unreadable or its self-signature does not verify',
  PKI_CSR_MISMATCH: 'a certificate signing request names someone other than the requester',
  PKI_FORBIDDEN_REQUEST: 'a certificate request asks for rights or names it may not have',
  PKI_REQUEST_INVALID: 'a certificate request lacks what its profile needs',
  PKI_CERT_INVALID: 'a certificate is malformed, tampered with, or not from this cluster CA',
  PKI_REVOKED: 'a certificate has been revoked',
  PKI_EXPIRED: 'a certificate (or the cluster CA) has expired',
  PKI_REVOCATIONS_INVALID: 'the revocation list is malformed, tampered with, or from another cluster',
  PKI_KEY_EXPOSED: 'a private key file is readable by other users',
  KUBE_NOT_INSTALLED: 'the pinned Kubernetes programs are not built or not found',
  KUBE_ADDON_INVALID: 'an add-on manifest document was refused, by the envelope check or by the API server',
  KUBE_ADDONS_FAILED:
    'the add-on applier could not run: manifests directory unreadable or API server unreachable',
  KUBE_API: 'the Kubernetes API refused or failed a request, or no API server answered',
  KUBE_CERT_REFUSED: 'a signer refused a Kubernetes node certificate request',
  KUBE_RUNTIME: 'containerd or the kubelet could not be started, or an image archive could not be imported',
  PODNET_FAILED: 'the pod network (wireguard-go, routes, iptables) could not be set up on this node',
  PROCESS_FAILED: 'a supervised program could not start or its command line is wrong',
  ETCD_NOT_INSTALLED: 'the etcd or etcdctl program is not installed',
  ETCD_PROCESS: 'an etcd member process failed to start, or keeps exiting',
  ETCD_UNREACHABLE: 'no etcd endpoint answered in time',
  ETCD_REQUEST_FAILED: 'etcd refused or failed a request',
  ETCD_RESPONSE_INVALID: 'an answer from etcd did not have the expected shape',
  ETCD_MEMBER_NOT_FOUND: 'the etcd member does not exist (any more)',
  ETCD_LEARNER_NOT_READY: 'an etcd learner did not catch up with the leader in time to be promoted',
  ETCD_LEASE_LOST: 'an etcd lease expired or was revoked, so whatever it held is lost',
  ETCD_SNAPSHOT_INVALID: 'an etcd snapshot file is truncated, corrupt or not a snapshot',
  ETCD_SNAPSHOT_FAILED: 'saving or restoring an etcd snapshot failed',
  RECOVER_REFUSED:
    'a recovery from a snapshot was refused: not on a surviving voter, etcd still has quorum, or the chosen snapshot is gone or does not match its sha256',
  PLACEMENT_INVALID:
    'the placement record in etcd is not JSON, fails its schema, or is not signed by the key of an etcd voter',
  CONTROL_REFUSED:
    'a control-plane message or seat claim was refused: not from the coordinator, not for this node, or contradicted by etcd',
  NETBOOT_IMAGE_INVALID: 'the netboot image directory is missing, malformed, or does not match its manifest',
  NETBOOT_DNSMASQ: 'dnsmasq or the iPXE files for netboot are missing, or dnsmasq cannot serve the interface',
  // Drain, the cluster lock and dead-node handling (issue 6).
  LOCK_HELD: 'another disruptive operation holds the cluster lock',
  LOCK_REFUSED:
    'the cluster lock may not be taken now: a node is NotReady, etcd has no failure to spare, or a rollout is upgrading a node',
  LOCK_LOST: 'the cluster lock was lost while an operation held it; the operation stopped',
  KUBE_NODE_UNKNOWN: 'Kubernetes has no Node with that name',
  KUBE_API_FAILED: 'the Kubernetes API refused or failed a request',
  DRAIN_ALREADY_DONE: 'the node is already drained by homecloud',
  DRAIN_UNMANAGED_PODS: 'the node runs pods that no controller would recreate elsewhere',
  DRAIN_TIMEOUT:
    'a drain did not finish in time: a PodDisruptionBudget or an admission webhook blocks an eviction',
  // Releases (issue 13).
  RELEASE_INVALID: 'a release directory or manifest is malformed, or a file does not match its manifest',
  RELEASE_ARCH_UNKNOWN: 'a release is for an architecture this cluster does not know',
  RELEASE_UNSIGNED: 'a release carries no signature',
  RELEASE_KEY_UNTRUSTED: 'a release is signed by a key the cluster does not trust',
  RELEASE_SIGNATURE_INVALID:
    'a release signature is malformed or does not verify (forged, or the manifest was changed)',
  RELEASE_KEY_INVALID: 'a release key file is unreadable or not an ed25519 key',
  RELEASE_PIECE_INVALID:
    'a release piece does not match the sha256 its manifest lists (corrupt or truncated)',
  RELEASE_DISK_FULL: 'the release store has no room for a release, even after removing old ones',
  RELEASE_UNKNOWN: 'no release with that id or version is known',
  RELEASE_RECORD_INVALID:
    'a release record in etcd (trusted keys, current release) is malformed, not signed by the cluster CA, or older than one already seen',
  // Boot slots and rollouts (issue 14).
  SLOT_REFUSED:
    'a boot-slot change was refused: nothing installed to try, both slots in use, or the booted slot is not the one being tried',
  SLOT_FAILED: 'a boot slot could not be written or read (disk, bundle, or the firmware state)',
  DISK_IMAGE_FAILED: 'building a disk image failed: a tool is missing or refused its part',
  FIRST_BOOT_INVALID:
    "a homecloud disk's first-boot settings (homecloud/first-boot.json, join.json on its boot partition) are malformed or incomplete",
  STATE_DISK_REFUSED:
    "no local disk may hold this node's state (none labelled homecloud-state; the others hold data or the policy adopts none), or the labelled filesystem is ambiguous, read-only or not ext4",
  STATE_DISK_FAILED:
    "the state disk could not be used: lsblk's report is malformed, partitioning, mkfs or mount failed, it is full, or it holds another cluster's state",
  ROLLOUT_REFUSED:
    'a rollout command was refused: another rollout runs, the release is marked bad, or it would skip a minor version',
  ROLLOUT_RECORD_INVALID:
    'the rollout record in etcd is malformed, not signed by the cluster CA, or older than one already seen',
  SHUTDOWN_REFUSED:
    'a node may not shut down that way: it runs no Kubernetes, or its init would start the agent again (or has no machine to power off)',
  SHUTDOWN_IN_PROGRESS: 'the node is already shutting down',
  SHUTDOWN_STUCK: 'a node drained but its agent still answers long after it should have stopped',
} as const

export type ErrorCode = keyof typeof ERROR_CODES

/**
 * The `error` field of the JSON answers the HTTP servers (7080, 7443) give, beyond the
 * operating codes above (which they also return, e.g. NODE_UNKNOWN, RELEASE_UNKNOWN).
 */
export const HTTP_ERROR_CODES = {
  BAD_REQUEST: 'a request body, parameter or path failed validation; the message names the field',
  NOT_FOUND: 'no such route, asset or file',
  NOT_READY: 'this node holds no certificate yet',
  NO_ETCD_VIEW:
    'this node reads no etcd view of its own now (not a voter, or its member cannot read): ask another voter',
  UNAUTHENTICATED: 'the status page requires a login (or the action a session)',
  CSRF: 'the form token does not match the session',
  URI_TOO_LONG: 'the URL is longer than the server accepts',
  TOO_MANY_STREAMS: 'too many live viewers of the event stream',
  PLAIN_HTTP_REFUSED: 'this node answers over HTTPS only',
  IMAGE_UNKNOWN: 'this node does not hold the netboot image with that sha256',
  NOT_SERVED: 'join material goes only to a machine this node served, shortly after',
  NO_JOIN_MATERIAL: 'this node holds no join material to hand out',
  ERROR: "a handler failed; 4xx answers carry fastify's own code instead when it has one",
} as const

export type HttpErrorCode = keyof typeof HTTP_ERROR_CODES | ErrorCode

export class HomecloudError extends Error {
  readonly code: ErrorCode
  /** What the user should do next; printed by the CLI under the message. */
  readonly hint: string | undefined

  constructor(code: ErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'HomecloudError'
    this.code = code
    this.hint = hint
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`)
}
