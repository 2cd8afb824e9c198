/**
 * The direction of src/ imports (run by `npm test` and `npm run lint`):
 *   domain  <-  infrastructure: db, config, temporal, tracing, metrics, events (envelope, outbox, inbox, fenced step,
 *               event builders, relay)
 *           <-  inventory, payments, shipping, notifications, orders, returns (one module per bounded context)
 *           <-  adapters: activities, api, events/consumers, worker, ops
 * Workflows see only domain and their own messages (activities as types), and adapters never import each other.
 */
const INFRASTRUCTURE = '^src/(db|config|temporal|tracing|metrics)/|^src/events/';
const CONTEXTS = 'src/(inventory|payments|shipping|notifications|orders|returns)/';
const ADAPTERS = 'src/(activities|api|worker|ops)/|src/events/consumers/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A cycle means two modules are one concern split in two, or a type that belongs lower down.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'The domain is vocabulary everyone imports: it imports nothing of ours.',
      from: { path: '^src/domain/' },
      to: { path: '^src/', pathNot: '^src/domain/' },
    },
    {
      name: 'infrastructure-below-contexts',
      severity: 'error',
      comment:
        'db, config, Temporal, tracing, metrics and the event plumbing serve the contexts and adapters; they never call up into them.',
      from: { path: INFRASTRUCTURE, pathNot: '^src/events/consumers/' },
      to: { path: `^(${CONTEXTS}|${ADAPTERS}|src/workflows/)` },
    },
    {
      name: 'contexts-below-adapters',
      severity: 'error',
      comment: 'A bounded context is used by adapters (activities, routes, consumers, worker), never the reverse.',
      from: { path: `^${CONTEXTS}` },
      to: { path: `^(${ADAPTERS})` },
    },
    {
      name: 'adapters-do-not-cross',
      severity: 'error',
      comment: 'Routes, consumers and activities are separate entry points: shared logic belongs in a context module.',
      from: { path: '^src/(activities|api|events/consumers|ops)/' },
      to: { path: '^src/(activities|api|events/consumers|ops)/', pathNot: '^src/$1/' },
    },
    {
      name: 'contexts-do-not-cross',
      severity: 'error',
      comment: 'Each context owns its tables and rules; what two contexts need together is composed by an adapter.',
      from: { path: `^${CONTEXTS}` },
      to: { path: `^${CONTEXTS}`, pathNot: '^src/$1/' },
    },
    {
      name: 'workflows-are-sandboxed',
      severity: 'error',
      comment: 'Workflow code runs in the deterministic sandbox: domain vocabulary and its own files only.',
      from: { path: '^src/workflows/' },
      to: { path: '^src/', pathNot: '^src/(domain|workflows)/', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
