/**
 * Mocha hooks shared by the end-to-end test files: each file gets its own topology (and, for most,
 * its own mcrd) in before() and loses them in after(), whether its tests passed or not.
 *
 *   describe('...', function () {
 *     const relay = useRelay({ workers: 2 });
 *     it('...', async () => { await relay.client.createRule(...); });
 *   });
 */
import { createDocNamespace } from './doc-namespace';
import { McrClient } from './grpc';
import { Mcrd, McrdOptions } from './mcrd';
import { Topology } from './netns';

/** Time for before()/after(): building namespaces and starting mcrd (each bounded on its own). */
const SETUP_TIMEOUT_MS = 90_000;

/** The e2e tests need root (namespaces, AF_PACKET); without it they fail rather than skip. */
export function requireRoot(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('the end-to-end tests need root (network namespaces, veths, AF_PACKET): run them as root, e.g. `sudo npx mocha test/e2e`');
  }
}

function missing(what: string): never {
  throw new Error(`${what} is not available: the before() hook failed or has not run`);
}

/** Registers an afterEach hook that prints mcrd's output when a test of the enclosing describe() fails. */
export function printMcrdOutputOnFailure(current: () => Mcrd | null | undefined): void {
  afterEach(function () {
    const mcrd = current();
    if (this.currentTest?.state === 'failed' && mcrd) {
      process.stderr.write(`\n----- mcrd output (${this.currentTest.fullTitle()}) -----\n${mcrd.logs()}\n----- end of mcrd output -----\n`);
    }
  });
}

export interface McrdContext {
  readonly mcrd: Mcrd;
}

/**
 * An mcrd in a namespace of its own with only a loopback (createDocNamespace: no topology), for tests
 * of the API rather than of forwarding; started in before() when `start`, else by the tests. Stopped
 * and the namespace deleted in after(); mcrd's output printed for a failed test.
 */
export function useNamespacedMcrd(tag: string, options: McrdOptions, { start }: { start: boolean }): McrdContext {
  let namespace: { ns: string; destroy: () => void } | null = null;
  let mcrd: Mcrd | null = null;
  before(async function () {
    this.timeout(SETUP_TIMEOUT_MS);
    requireRoot();
    namespace = createDocNamespace(tag);
    mcrd = new Mcrd(namespace.ns, options);
    if (start) await mcrd.start();
  });
  printMcrdOutputOnFailure(() => mcrd);
  after(async function () {
    this.timeout(SETUP_TIMEOUT_MS);
    try {
      await mcrd?.dispose();
    } finally {
      namespace?.destroy();
    }
  });
  return {
    get mcrd() {
      return mcrd ?? missing('mcrd');
    },
  };
}

export interface TopologyContext {
  readonly topology: Topology;
}

/** Registers before/after hooks that build and delete a topology for the enclosing describe(). */
export function useTopology(): TopologyContext {
  let topology: Topology | null = null;
  before(async function () {
    this.timeout(SETUP_TIMEOUT_MS);
    requireRoot();
    topology = Topology.create();
    await topology.linksUp();
  });
  after(function () {
    this.timeout(SETUP_TIMEOUT_MS);
    topology?.destroy();
    topology = null;
  });
  return {
    get topology() {
      return topology ?? missing('the topology');
    },
  };
}

export interface RelayContext extends TopologyContext {
  readonly mcrd: Mcrd;
  readonly client: McrClient;
  /** Replaces the client with a fresh connection (after mcrd restarted). */
  reconnect(): McrClient;
}

/**
 * A topology plus an mcrd in its relay namespace and a connected client. mcrd is stopped before the
 * topology is deleted. When a test fails, mcrd's output is printed after it (a failed start puts the
 * output in its error).
 */
export function useRelay(options: McrdOptions): RelayContext {
  let topology: Topology | null = null;
  let mcrd: Mcrd | null = null;
  let client: McrClient | null = null;

  before(async function () {
    this.timeout(SETUP_TIMEOUT_MS);
    requireRoot();
    topology = Topology.create();
    mcrd = new Mcrd(topology.ns.relay, options);
    await mcrd.start();
    await topology.linksUp(); // after the start, which takes about as long
    client = new McrClient(mcrd.socketPath);
  });

  printMcrdOutputOnFailure(() => mcrd);

  after(async function () {
    this.timeout(SETUP_TIMEOUT_MS);
    client?.close();
    client = null;
    try {
      await mcrd?.dispose();
    } finally {
      mcrd = null;
      topology?.destroy();
      topology = null;
    }
  });

  return {
    get topology() {
      return topology ?? missing('the topology');
    },
    get mcrd() {
      return mcrd ?? missing('mcrd');
    },
    get client() {
      return client ?? missing('the gRPC client');
    },
    reconnect() {
      client?.close();
      client = new McrClient((mcrd ?? missing('mcrd')).socketPath);
      return client;
    },
  };
}
