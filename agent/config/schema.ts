import { isIP } from 'node:net'
import { z } from 'zod'
import { NodeLifecyclePolicy } from '../../control/nodes/policy.js'
import { PlacementPolicy } from '../../control/placement/policy.js'
import { Arch } from '../facts/schema.js'
import { parseAddressRange } from '../kube/metallb/pool.js'
import { HostPortString } from '../mesh/bootstrap.js'
import { NetbootConfig } from '../netboot/config.js'

const Port = z.number().int().min(1).max(65535)
const AddressRange = z
  .string()
  .refine((r) => parseAddressRange(r) !== null, 'an IPv4 range A.B.C.D-A.B.C.E or a CIDR A.B.C.D/N')

/** Every port a node listens on; in the lab each node has its own address, so they never change. */
export const PORTS = { api: 7080, https: 7444, tls: 7443, dht: 49737, contact: 7081, release: 7082 } as const

export const AgentConfig = z
  .object({
    /** The address this node listens on and announces; default: its first LAN IPv4 address. */
    host: z
      .string()
      .refine((h) => isIP(h) === 4, 'host must be an IPv4 address')
      .optional(),
    name: z.string().min(1).max(63).optional(),
    /** Pretend to be this board (a profile name from agent/facts/boards); lab mode uses it. */
    board: z.string().min(1).max(64).optional(),
    ports: z
      .object({
        api: Port.default(PORTS.api),
        /** The status page over HTTPS (login and actions live only there). */
        https: Port.default(PORTS.https),
        tls: Port.default(PORTS.tls),
        dht: Port.default(PORTS.dht),
        contact: Port.default(PORTS.contact),
        /** Releases: libp2p (kad-dht provider records, the piece protocol), members only. */
        release: Port.default(PORTS.release),
      })
      .prefault({}),
    /** DHT peers to start from ("IP:PORT"); learned peers are added and remembered. */
    bootstrap: z.array(HostPortString).max(64).default([]),
    /** Hold, fetch and serve the cluster's releases (agent/release). */
    releases: z
      .object({ enabled: z.boolean().default(true) })
      .strict()
      .prefault({}),
    /** Find the first peer on the LAN with mDNS when nothing else is known. */
    mdns: z.boolean().default(true),
    mesh: z
      .object({
        /** SWIM: one member is probed per period. */
        probeIntervalMs: z.number().int().min(50).max(60_000).default(400),
        /** A direct probe waits this long for its ack before asking others to try. */
        probeTimeoutMs: z.number().int().min(10).max(60_000).default(200),
        /** A confirmed suspicion lasts suspicionMult × max(1, log10 n) probe periods (4× that unconfirmed). */
        suspicionMult: z.number().min(0.5).max(20).default(2),
        /** Links to members a node holds at most (others' picks included); up to 12 peers, everyone links to everyone. */
        connectionsMax: z.number().int().min(4).max(256).default(16),
        frameBytesMax: z
          .number()
          .int()
          .min(4096)
          .max(1024 * 1024)
          .default(64 * 1024),
      })
      .prefault({}),
    /** etcd and the coordinator (agent/controlplane, control/coordinator). */
    controlPlane: z
      .object({
        /** Off: this node never runs etcd nor coordinates (it still shows the cluster). */
        enabled: z.boolean().default(true),
        // Placement settings (failover grace, eligible architectures, fsync limit,
        // voters target): one schema, shared with the pure placement function.
        ...PlacementPolicy.shape,
        /** How often the coordinator observes and takes one step. */
        reconcileMs: z.number().int().min(100).max(60_000).default(1500),
        /** The coordinator's lease: a dead coordinator is replaced within about this long. */
        leaseTtlSeconds: z.number().int().min(2).max(60).default(5),
        /** How often the coordinator saves an etcd snapshot and sends it to two other nodes. */
        snapshotIntervalMs: z
          .number()
          .int()
          .min(1000)
          .max(24 * 3600_000)
          .default(5 * 60_000),
        etcd: z
          .object({
            /** The directory holding etcd, etcdctl and etcdutl; default the pinned build (agent/etcd/binaries.ts). */
            binDir: z.string().min(1).optional(),
            clientPort: Port.default(2379),
            peerPort: Port.default(2380),
            heartbeatMs: z.number().int().min(10).max(5000).default(100),
            electionTimeoutMs: z.number().int().min(50).max(50_000).default(1000),
          })
          .prefault({}),
      })
      .prefault({}),
    /** Kubernetes (agent/kube): the control plane on etcd voters, a Node on every node. */
    kube: z
      .object({
        /**
         * Off by default: a node runs Kubernetes only when told to (the netboot image's
         * config, `homecloud lab up`, tests), so an agent on a machine without the
         * built components still runs the mesh and etcd.
         */
        enabled: z.boolean().default(false),
        /** `kubelet` (with containerd) on real machines; kwok stands in for it in labs; `none` registers the Node only. */
        kubelet: z.enum(['kubelet', 'kwok', 'none']).default('kwok'),
        /**
         * The address the API server advertises: `node` (its own address), or an IPv4 address.
         * A loopback node cannot advertise itself; it uses 192.0.2.<last octet> and turns
         * the endpoint reconciler off (the \`kubernetes\` Service then has no endpoints).
         */
        advertise: z.union([z.literal('node'), z.string().refine((h) => isIP(h) === 4)]).default('node'),
        apiPort: Port.default(6443),
        /** The local load balancer in front of the API servers; host default 127.0.0.1, a loopback lab node's own address. */
        lb: z
          .object({
            host: z
              .string()
              .refine((h) => isIP(h) === 4)
              .optional(),
            port: Port.default(6444),
            healthMs: z.number().int().min(100).max(60_000).default(1000),
          })
          .prefault({}),
        /** Taint control-plane boards NoSchedule; default off: a home cluster has few boards to spare. */
        taintControlPlane: z.boolean().default(false),
        /** The coordinator applies manifests/addons (CoreDNS, local-path storage, MetalLB, RBAC). */
        addons: z.boolean().default(true),
        /** `kubelet` mode: the pod network between nodes (agent/kube/podnet). */
        podNetwork: z
          .object({
            /** WireGuard (userspace wireguard-go) between nodes; off: plain routes, pod traffic in clear. */
            encrypt: z.boolean().default(true),
            /** The tunnel device; wireguard-go names its control socket after it, so labs give each node its own. */
            interface: z
              .string()
              .regex(/^[A-Za-z0-9_-]{1,15}$/, 'an interface name of 1-15 letters, digits, _ or -')
              .default('hcwg0'),
            port: Port.default(51820),
            /** The tunnel's and so the pods' MTU: 1500 less WireGuard's 80 bytes of overhead. */
            mtu: z.number().int().min(1280).max(9000).default(1420),
          })
          .strict()
          .prefault({}),
        /** Services of type LoadBalancer get an address from these LAN ranges (MetalLB, layer 2). */
        loadBalancer: z
          .object({
            /**
             * `A.B.C.D-A.B.C.E` or `A.B.C.D/N`, on the nodes' LAN and outside the router's DHCP
             * range. None: such Services wait for an address. The coordinator's list is applied.
             */
            addresses: z.array(AddressRange).max(16).default([]),
          })
          .strict()
          .prefault({}),
        /** Dead-node handling: out-of-service taint after the grace, Node deleted much later. */
        nodes: NodeLifecyclePolicy.strict().prefault({}),
        /** kube-controller-manager: how long a silent Node stays Ready. */
        nodeMonitorGracePeriodSeconds: z.number().int().min(5).max(600).default(40),
        /** kwok: the Node's lease; a killed kwok makes its Node NotReady once it runs out. */
        nodeLeaseSeconds: z.number().int().min(5).max(600).default(40),
        /** `kubelet` mode: the container runtime beside the kubelet (agent/kube/runtime). */
        runtime: z
          .object({
            /** Programs, by path or from PATH (Debian: containerd, its ctr, runc). */
            containerd: z.string().min(1).default('containerd'),
            ctr: z.string().min(1).default('ctr'),
            /** Where the CNI reference plugins are; the first holding `bridge` is used. */
            cniBinDirs: z.array(z.string().min(1)).min(1).default(['/opt/cni/bin', '/usr/lib/cni']),
            /** More OCI image archives to import at start, beside the pause image's directory. */
            imageDirs: z.array(z.string().min(1)).default([]),
            /** Must match the archive images/pause/build.sh makes, so it is never pulled. */
            sandboxImage: z.string().min(1).default('registry.k8s.io/pause:3.10.2'),
            /** The parent cgroup of every pod: `/` on a machine of its own; labs give each node one. */
            cgroupRoot: z
              .string()
              .regex(/^\/[A-Za-z0-9_./-]*$/, 'an absolute cgroup path such as / or /homecloud')
              .refine((p) => !p.includes('..'), 'no .. in a cgroup path')
              .default('/'),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** The status page and read API on the api port. */
    statusPage: z
      .object({
        /** Reading needs a session too (login with the cluster password); default: open on the LAN. */
        requireLogin: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /** Answer netboot (proxyDHCP + TFTP + HTTP) with a local image: agent/netboot. */
    netboot: NetbootConfig.prefault({}),
    /** This machine's two boot slots (agent/slots): who plays the firmware. */
    slots: z
      .object({
        /**
         * `none`: no slots (not upgraded in place); `lab`: the lab firmware; `netboot`: the
         * serving nodes; `grub`: a homecloud disk, GRUB counting tries (agent/slots/disk-boot.ts).
         */
        backend: z.enum(['none', 'lab', 'netboot', 'grub']).default('none'),
        /** lab: the directory holding boot.json and the slot directories. */
        dir: z.string().min(1).optional(),
        /** netboot: this machine's MAC (the serving nodes keep its slot choice by it). */
        mac: z
          .string()
          .regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/)
          .optional(),
      })
      .strict()
      .prefault({}),
    /** The rollout controller on the coordinator (control/rollout): whether it runs, its timings. */
    rollout: z
      .object({
        /** On: proven by test/cluster/rollout.test.ts (six lab nodes 1 → 2); it acts only on a rollout record. */
        enabled: z.boolean().default(true),
        triesPerBoot: z.number().int().min(1).max(10).default(3),
        gateTimeoutMs: z
          .number()
          .int()
          .min(1000)
          .max(3600_000)
          .default(5 * 60_000),
        drainTimeoutMs: z
          .number()
          .int()
          .min(1000)
          .max(3600_000)
          .default(5 * 60_000),
        leaderStableMs: z.number().int().min(0).max(600_000).default(5000),
        nodeGoneMs: z
          .number()
          .int()
          .min(1000)
          .max(3600_000)
          .default(3 * 60_000),
        resendMs: z.number().int().min(500).max(600_000).default(10_000),
        /** How often the coordinator looks at the rollout. */
        everyMs: z.number().int().min(200).max(60_000).default(2000),
      })
      .strict()
      .prefault({}),
    /** A node shut down on purpose (SIGTERM) drains itself first through a voter, then leaves (agent/components/self-drain.ts). */
    shutdownDrain: z
      .object({
        /** On: only a node running Kubernetes has anything to drain (test/cluster/self-drain.test.ts proves it). */
        enabled: z.boolean().default(true),
        /** How long the drain may take before the node leaves anyway (the systemd unit's TimeoutStopSec leaves room for it). */
        timeoutMs: z.number().int().min(1000).max(600_000).default(60_000),
      })
      .strict()
      .prefault({}),
    /** Skip the disk latency probe (lab profiles carry their own numbers). */
    fsyncProbe: z.boolean().default(true),
    /** Netboot: which disk holds the state, or why none (/init's `homecloud state-disk`); shown in facts and the status page. */
    stateDisk: z.string().max(400).optional(),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  })
  .strict()
export type AgentConfig = z.infer<typeof AgentConfig>
