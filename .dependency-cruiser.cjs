/**
 * The import graph's rules (docs/decisions/0034-import-direction.md), checked by
 * test/unit/import-graph.test.ts (so `npm test` and CI) with dependency-cruiser:
 *
 *   server/main, daemon -> api -> rules, forwarding, stats, trace, config -> workers, net -> native
 *
 * with events, log, version, formats (text formats such as CPU lists) and the generated code usable
 * from every layer. No cycles anywhere in server/,
 * workers/, native/ or clients/.
 */

/** A layer's directories, as path patterns (relative to the repository). */
const LAYERS = {
  api: '^server/api/',
  domain: '^server/(rules|forwarding|stats|trace|config)/',
  processes: '^server/(workers|net)/',
  native: '^native/',
};

/** A rule forbidding `from` to import `to`. */
function forbid(name, comment, from, to) {
  return { name, comment, severity: 'error', from: { path: from }, to: { path: to } };
}

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'A module may not depend on itself through others: each one is understood (and tested) on its own.',
      severity: 'error',
      from: { path: '^(server|workers|native|clients)/' },
      to: { circular: true },
    },
    forbid('domain-not-api', 'The domain raises domain errors; only server/api knows gRPC statuses and the API\'s services.', LAYERS.domain, LAYERS.api),
    forbid('domain-not-grpc', 'gRPC is the API layer\'s concern.', '^server/(rules|forwarding|stats|trace|config|workers|net)/', '@grpc/grpc-js'),
    forbid('processes-not-up', 'Worker processes and the network know nothing of rules, forwarding, stats, traces or the API.', LAYERS.processes, `${LAYERS.api}|${LAYERS.domain}`),
    forbid('native-not-up', 'The addon\'s TypeScript face depends on nothing of the supervisor.', LAYERS.native, '^(server|workers|clients)/'),
    forbid('worker-not-supervisor', 'The worker process runs unprivileged code only: nothing of the supervisor.', '^workers/', '^(server|clients)/'),
    forbid('server-not-clients', 'mcrd does not depend on its clients.', '^server/', '^clients/'),
    forbid(
      'clients-not-server',
      'Clients speak the API only: no supervisor internals. mcrctl config reads and writes mcrd\'s config file with mcrd\'s own code for that format (server/config, and the text formats and file writing it uses: server/formats, server/files).',
      '^clients/',
      '^(server/(?!config/|files/|formats/)|workers/|native/)',
    ),
    forbid('only-daemon-starts', 'Only server/main.ts and daemon.ts assemble the layers.', '^server/(?!main\\.ts|daemon\\.ts)', '^server/(main|daemon)\\.ts$'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '^(gen|dist|build|test|bench|demo|scripts)/' },
  },
};
