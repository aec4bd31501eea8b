// Import rules (issue 12 item 4): layers point one way. Run by scripts/test.sh's static
// checks (`npx depcruise --config .dependency-cruiser.cjs agent control cli lab bin`).
//   base      agent/core: clock, random, errors, files, backoff, ids, canonical JSON, …
//   models    pure vocabularies both sides share: agent/etcd/model (etcd's data, ids, error words)
//   adapters  etcd (agent/etcd), Kubernetes (agent/kube, control/kubeapi/client.ts),
//             swarm (agent/mesh/swarm.ts), PKI (agent/pki), dnsmasq (agent/netboot), HTTP (agent/api)
//   logic     control/ (pure decisions and loops over interfaces they declare), agent/trust, …
//   composition  agent/components, agent/agent.ts, cli/, lab/
// docs/architecture.md "Layers and import rules" explains each rule.
const ours = '^(agent|control|cli|lab|bin)/'
const adapters = [
  '^agent/etcd/(?!model/)',
  '^agent/kube/',
  '^control/kubeapi/client\\.ts$',
  '^agent/mesh/swarm\\.ts$',
  '^agent/api/',
  '^agent/netboot/',
]

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'A cycle makes two modules one: split the shared part into its own file.',
      severity: 'error',
      from: { path: ours },
      to: { circular: true },
    },
    {
      name: 'core-imports-nothing-of-ours',
      comment: 'agent/core is the base: every layer may use it, it uses no other layer.',
      severity: 'error',
      from: { path: '^agent/core/' },
      to: { path: ours, pathNot: '^agent/core/' },
    },
    {
      name: 'models-import-only-core',
      comment: 'Shared vocabularies (agent/etcd/model) are pure: base only.',
      severity: 'error',
      from: { path: '^agent/etcd/model/' },
      to: { path: ours, pathNot: ['^agent/core/', '^agent/etcd/model/'] },
    },
    {
      name: 'control-imports-no-adapters',
      comment:
        'control/ is logic: it declares the interfaces it needs (CoordinatorEtcd, KubeApi, LeaseApi, …) ' +
        'and is given adapters by the composition (agent/components, agent/controlplane, cli).',
      severity: 'error',
      from: { path: '^control/', pathNot: '^control/kubeapi/client\\.ts$' },
      to: { path: adapters },
    },
    {
      name: 'control-imports-no-composition',
      comment: 'The composition (agent/controlplane, agent/components, agent.ts) uses control/, not the reverse.',
      severity: 'error',
      from: { path: '^control/' },
      to: { path: ['^agent/controlplane/', '^agent/components/', '^agent/agent\\.ts$', '^cli/', '^lab/'] },
    },
    {
      name: 'etcd-adapter-imports-no-logic',
      comment: 'The etcd adapter speaks etcd; what placement or the coordinator make of it lives in control/.',
      severity: 'error',
      from: { path: '^agent/etcd/' },
      to: { path: ['^control/', '^agent/controlplane/'] },
    },
    {
      name: 'mesh-imports-no-trust',
      comment: 'The mesh carries messages; trust registers its own on the router (agent/mesh/router.ts).',
      severity: 'error',
      from: { path: '^agent/mesh/' },
      to: { path: '^agent/trust/' },
    },
    {
      name: 'trust-imports-no-http',
      comment: 'Trust protocols run over the mesh; the HTTP layer (agent/api) calls trust, not the reverse.',
      severity: 'error',
      from: { path: '^agent/trust/' },
      to: { path: '^agent/api/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
}
