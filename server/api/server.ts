/**
 * The gRPC server: mcr.v1 services, grpc.health.v1 and server reflection, on a unix socket (0660,
 * stale socket replaced, a live one never) and on TCP only when asked for (TLS, or --insecure on
 * loopback).
 */
import { Server, ServerCredentials, UntypedServiceImplementation, ServiceDefinition } from '@grpc/grpc-js';
import fs from 'fs';
import { HealthImplementation, ServingStatus } from 'grpc-health-check';
import net from 'net';
import path from 'path';

import { RuleServiceService } from '../../gen/mcr/v1/rules';
import { StatsServiceService } from '../../gen/mcr/v1/stats';
import { SystemServiceService } from '../../gen/mcr/v1/system';
import { TraceServiceService } from '../../gen/mcr/v1/trace';
import { logger } from '../log';
import { MAX_RESPONSE_BYTES } from './message-limits';
import { AccessControl } from './access';
import { shuttingDown } from './errors';
import { checkedImplementation } from './call-check';
import { checkProtocol } from './protocol-check';
import { resolveGroup } from './socket-group';
import { OpenStreams } from './open-streams';
import { DescriptorSet } from './descriptor-set';
import { addReflection } from './reflection/service';
import { StreamLimit } from './stream-limit';
import { acceptPreEncoded } from './pre-encoded';
import type { KnownRules } from './known-rules';
import { refuseMalformed, strictDefinition } from './strict-requests';
import type { Listener, TlsFiles } from '../config/options';

const log = logger('api');

/** Every mcr.v1 service, by full name, with its generated definition. */
const SERVICES = {
  'mcr.v1.RuleService': RuleServiceService,
  'mcr.v1.SystemService': SystemServiceService,
  'mcr.v1.StatsService': StatsServiceService,
  'mcr.v1.TraceService': TraceServiceService,
} as const;

export type ServiceName = keyof typeof SERVICES;
export type Implementations = Record<ServiceName, UntypedServiceImplementation>;

export const SOCKET_MODE = 0o660;

/** Is something answering on this unix socket path? */
function socketInUse(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
}

/** Makes room for our socket: creates the directory, removes a stale socket, refuses a live one. */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 });
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(socketPath);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new Error(`${socketPath} exists and is not a socket: refusing to replace it`);
  if (await socketInUse(socketPath)) throw new Error(`another server is listening on ${socketPath} (is mcrd already running?)`);
  fs.unlinkSync(socketPath);
  log.info('removed stale socket', { path: socketPath });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}

function tcpCredentials(listener: Extract<Listener, { kind: 'tcp' }>, tls: TlsFiles | undefined, insecure: boolean): ServerCredentials {
  if (tls) {
    const clientCa = tls.clientCa ? fs.readFileSync(tls.clientCa) : null;
    return ServerCredentials.createSsl(clientCa, [{ cert_chain: fs.readFileSync(tls.cert), private_key: fs.readFileSync(tls.key) }], clientCa !== null);
  }
  if (insecure && isLoopback(listener.host)) return ServerCredentials.createInsecure();
  throw new Error(
    `refusing to listen on ${listener.host}:${listener.port} without TLS: give --tls-cert and --tls-key` +
      (isLoopback(listener.host) ? ', or --insecure' : ' (--insecure is allowed on loopback only)'),
  );
}

/** What every mcr.v1 call goes through before its handler: tokens, the stream bound, the size bound. */
export interface CallPolicy {
  access: AccessControl;
  /** Server streams open at once, all services and clients together. */
  maxStreams: number;
  /** The largest request message (grpc-js answers RESOURCE_EXHAUSTED above it). */
  maxRequestBytes: number;
}

export class ApiServer {
  readonly health = new HealthImplementation({ '': 'NOT_SERVING' });
  private readonly server: Server;
  private readonly socketPaths: string[] = [];
  readonly streams: StreamLimit;
  private readonly open = new OpenStreams();

  /** `knownRules`: stored rules an ApplyRules body is read against (strict-requests.ts). */
  constructor(implementations: Implementations, policy: CallPolicy, knownRules?: KnownRules) {
    // Every answer fits in what any client accepts by default (message-limits.ts); the lists page to fit.
    // Channelz (grpc-js's call tracking for an introspection service mcrd does not serve) off.
    this.server = new Server({
      'grpc.max_receive_message_length': policy.maxRequestBytes,
      'grpc.max_send_message_length': MAX_RESPONSE_BYTES,
      'grpc.enable_channelz': 0,
    });
    this.streams = new StreamLimit(policy.maxStreams);
    const descriptors = DescriptorSet.load();
    const schemas = descriptors.registry();
    for (const [name, untyped] of Object.entries(SERVICES)) {
      const definition = untyped as unknown as ServiceDefinition;
      const implementation = implementations[name as ServiceName];
      // Refused calls (no or wrong token, malformed body) never count against the stream bound. A
      // malformed body is only diagnosed to a caller whose token passed.
      const bodyChecked = checkedImplementation(definition, implementation, refuseMalformed);
      const checked = checkedImplementation(definition, policy.access.guard(definition, bodyChecked), checkProtocol);
      this.server.addService(acceptPreEncoded(strictDefinition(definition, schemas, knownRules)), this.streams.apply(definition, this.open.apply(definition, checked)));
    }
    this.health.addToServer(this.server);
    addReflection(this.server, descriptors);
  }

  /** Binds every listener; rejects (with nothing left bound) when one cannot be used. */
  async listen(listeners: Listener[], tls: TlsFiles | undefined, insecure: boolean, socketGroup?: string): Promise<void> {
    const gid = socketGroup === undefined ? undefined : resolveGroup(socketGroup);
    for (const listener of listeners) {
      if (listener.kind === 'unix') {
        await prepareSocketPath(listener.path);
        await this.bind(`unix:${listener.path}`, ServerCredentials.createInsecure());
        if (gid !== undefined) fs.chownSync(listener.path, -1, gid);
        fs.chmodSync(listener.path, SOCKET_MODE);
        this.socketPaths.push(listener.path);
        log.info('listening', { socket: listener.path });
      } else {
        const host = listener.host.includes(':') && !listener.host.startsWith('[') ? `[${listener.host}]` : listener.host;
        const port = await this.bind(`${host}:${listener.port}`, tcpCredentials(listener, tls, insecure));
        log.info('listening', { address: `${host}:${port}`, tls: !!tls });
      }
    }
  }

  setServing(serving: boolean): void {
    const state: ServingStatus = serving ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', state);
    for (const name of Object.keys(SERVICES)) this.health.setStatus(name, state);
  }

  /**
   * Ends every open stream with UNAVAILABLE "mcrd is shutting down", so that each client learns why
   * (see open-streams.ts). The streams would otherwise hold tryShutdown until it is forced.
   */
  endStreams(): void {
    this.open.endAll(shuttingDown());
  }

  /** Lets calls in flight finish (up to graceMs), then closes listeners and removes the sockets. */
  async close(graceMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.server.forceShutdown(); resolve(); }, graceMs);
      this.server.tryShutdown(() => { clearTimeout(timer); resolve(); });
    });
    for (const socketPath of this.socketPaths) fs.rmSync(socketPath, { force: true });
  }

  private bind(address: string, credentials: ServerCredentials): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, credentials, (err, port) => (err ? reject(new Error(`cannot listen on ${address}: ${err.message}`)) : resolve(port)));
    });
  }
}
