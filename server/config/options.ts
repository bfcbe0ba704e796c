/**
 * mcrd's command line (the contract in DESIGN.md §1), parsed into validated options.
 * Bad input is a UsageError naming the flag.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import os from 'os';

import { isLogLevel, LogLevel } from '../log-levels';
import { SERVER_VERSION } from '../version';
import { AccessTokens, readTokenFile } from './tokens';
import { isValidInterfaceName } from '../formats/addresses';
import { CpuListError, parseCpuList } from '../formats/cpu-list';
import { LIMIT_FLAGS, ServerLimits } from './limits';
import { Listener, ListenerAddressError, parseListenerAddress, WORKERS_RANGE } from './listener';

export type { Listener } from './listener';

/** The settings a config file may also give; given on the command line, they win over the file. */
export type FileSetting = 'listen' | 'workers' | 'logLevel' | 'cpus' | 'interfaceCpus';

/** Every FileSetting, in the order messages list them. */
export const FILE_SETTINGS: readonly FileSetting[] = ['listen', 'workers', 'logLevel', 'cpus', 'interfaceCpus'];

export interface TlsFiles {
  cert: string;
  key: string;
  clientCa?: string;
}

export interface DaemonOptions {
  /** --config: the config file (its settings, then its rules as the desired state); none when undefined. */
  config?: string;
  /** Which of the settings a config file may give were given on the command line. */
  commandLine: ReadonlySet<FileSetting>;
  listen: Listener[];
  stateDir: string;
  workers: number;
  /** --cpus: the CPUs the workers run on (worker i on cpus[i % cpus.length]); undefined: every CPU mcrd may use. */
  cpus?: number[];
  /** --interface-cpus IF=LIST: the rules of input interface IF go to the workers on these CPUs. */
  interfaceCpus: Record<string, number[]>;
  logLevel: LogLevel;
  tls?: TlsFiles;
  insecure: boolean;
  /** --socket-group: the group unix sockets are handed to (mode 0660); mcrd's own when undefined. */
  socketGroup?: string;
  /** Bearer tokens from --token-file and --read-only-token-file; none: no token needed. */
  tokens: AccessTokens;
  limits: ServerLimits;
  /** Frames per recvmmsg/sendmmsg batch in the data plane. */
  batch: number;
  /** Capture socket receive buffer, bytes. */
  rcvbuf: number;
  /** Egress socket send buffer, bytes. */
  sndbuf: number;
  /** Seconds between full resyncs of every worker's rules (the drift safety net). */
  fullSyncInterval: number;
  /** Fault injection for the resilience tests; never in production. */
  testHooks: boolean;
  /** Where to serve Prometheus /metrics; off when undefined. */
  metrics?: Extract<Listener, { kind: 'tcp' }>;
}

export const DEFAULT_SOCKET = '/run/mcr/mcr.sock';
export const DEFAULT_STATE_DIR = '/var/lib/mcr';

export class UsageError extends Error {}

export function parseListener(value: string): Listener {
  try {
    return parseListenerAddress(value);
  } catch (err) {
    if (err instanceof ListenerAddressError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    return n;
  };
}

function metricsListener(value: string): Extract<Listener, { kind: 'tcp' }> {
  const listener = parseListener(value);
  if (listener.kind !== 'tcp') throw new InvalidArgumentError(`expected HOST:PORT, got "${value}"`);
  return listener;
}

function cpuList(value: string): number[] {
  try {
    return parseCpuList(value);
  } catch (err) {
    if (err instanceof CpuListError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

/** IF=LIST, added to those given before; an interface given twice is refused. */
function interfaceCpus(value: string, previous: Record<string, number[]>): Record<string, number[]> {
  const at = value.indexOf('=');
  const name = at < 0 ? '' : value.slice(0, at);
  if (at < 0 || !isValidInterfaceName(name)) throw new InvalidArgumentError(`expected IF=CPULIST (eth0=0-3), got "${value}"`);
  if (previous[name] !== undefined) throw new InvalidArgumentError(`${name} is given twice`);
  return { ...previous, [name]: cpuList(value.slice(at + 1)) };
}

/**
 * --workers when neither the command line nor the config file gives it: one per CPU of --cpus, or one
 * per CPU mcrd may use (os.availableParallelism() counts the CPU affinity, which a cpuset narrows).
 */
export function defaultWorkers(cpus?: readonly number[]): number {
  return Math.min(cpus?.length ?? os.availableParallelism(), WORKERS_RANGE.max);
}

function logLevel(value: string): LogLevel {
  if (!isLogLevel(value)) throw new InvalidArgumentError('must be one of error, warn, info, debug');
  return value;
}

/** mcrd's command line as a commander program: parseDaemonArgs parses with it, the man page is generated from it. */
export function daemonProgram(): Command {
  const program = new Command('mcrd')
    .description('mcr supervisor: relays multicast between interfaces, driven over gRPC')
    .version(SERVER_VERSION)
    .option('--config <file>', 'JSON5 config file: settings (the flags given win) and the rules, applied as the desired state; SIGHUP re-applies it')
    .addOption(
      new Option('--listen <address>', 'unix:PATH or HOST:PORT; repeatable')
        .argParser((v: string, all: Listener[]) => [...all, parseListener(v)])
        .default([] as Listener[], `unix:${DEFAULT_SOCKET}`),
    )
    .option('--state-dir <dir>', 'where the rule store is kept', DEFAULT_STATE_DIR)
    .addOption(
      new Option('--workers <n>', 'worker processes')
        .argParser(integer(WORKERS_RANGE.min, WORKERS_RANGE.max))
        .default(defaultWorkers(), 'one per CPU of --cpus, else per CPU mcrd may use'),
    )
    .option('--cpus <list>', 'the CPUs the workers run on, as taskset -c lists them (0-3,6); worker i on the i-th, wrapping (default: every CPU mcrd may use)', cpuList)
    .addOption(
      new Option('--interface-cpus <if=list>', 'put the rules whose input is IF on the workers running on these CPUs (near its NIC); repeatable')
        .argParser(interfaceCpus)
        .default({} as Record<string, number[]>, 'none'),
    )
    .option('--full-sync-interval <seconds>', 'resend every worker its whole rule set this often', integer(1, 86400), 300)
    .option('--test-hooks', 'enable fault injection for the test suite (never in production)', false)
    .option('--metrics <host:port>', 'serve Prometheus metrics on http://HOST:PORT/metrics', metricsListener)
    .option('--log-level <level>', 'error, warn, info or debug', logLevel, 'info')
    .option('--tls-cert <file>', 'TLS certificate for TCP listeners')
    .option('--tls-key <file>', 'TLS private key for TCP listeners')
    .option('--tls-client-ca <file>', 'require client certificates signed by this CA')
    .option('--insecure', 'allow a TCP listener without TLS (loopback only)', false)
    .option('--socket-group <group>', 'hand unix sockets to this group (name or gid): its members may connect')
    .option('--token-file <file>', 'require "authorization: Bearer TOKEN" with the token in FILE (full access)')
    .option('--read-only-token-file <file>', 'also accept the token in FILE, for calls that change nothing')
    .option('--batch <n>', 'frames per receive/send batch', integer(1, 1024), 64)
    .option('--rcvbuf <bytes>', 'capture socket receive buffer', integer(65536, 1 << 30), 8 << 20)
    .option('--sndbuf <bytes>', 'egress socket send buffer', integer(65536, 1 << 30), 2 << 20)
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') process.exit(0);
      throw new UsageError(err.message.replace(/^error: /, ''));
    })
    .configureOutput({ writeErr: () => undefined })
    .allowExcessArguments(false);
  for (const limit of LIMIT_FLAGS) {
    program.option(`${limit.flag} <n>`, `limit: ${limit.description}`, integer(limit.min, limit.max), limit.default);
  }
  return program;
}

/** Parses argv (without node and script); throws UsageError, or exits for --help/--version. */
export function parseDaemonArgs(argv: string[]): DaemonOptions {
  const program = daemonProgram();
  program.parse(argv, { from: 'user' });
  const o = program.opts();
  if (!!o.tlsCert !== !!o.tlsKey) throw new UsageError('--tls-cert and --tls-key go together');
  if (o.tlsClientCa && !o.tlsCert) throw new UsageError('--tls-client-ca needs --tls-cert and --tls-key');
  const listen: Listener[] = o.listen.length ? o.listen : [{ kind: 'unix', path: DEFAULT_SOCKET }];
  const tokens: AccessTokens = {};
  try {
    if (o.tokenFile) tokens.full = readTokenFile(o.tokenFile, 'token');
    if (o.readOnlyTokenFile) tokens.readOnly = readTokenFile(o.readOnlyTokenFile, 'read-only token');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (tokens.full !== undefined && tokens.full === tokens.readOnly) throw new UsageError('--token-file and --read-only-token-file must hold different tokens');
  if (tokens.readOnly !== undefined && tokens.full === undefined) {
    throw new UsageError('--read-only-token-file needs --token-file too (otherwise no token could change anything)');
  }
  const limits = Object.fromEntries(LIMIT_FLAGS.map((l) => [l.key, o[l.key]])) as unknown as ServerLimits;
  const commandLine = new Set(FILE_SETTINGS.filter((key) => program.getOptionValueSource(key) === 'cli'));
  return {
    config: o.config,
    commandLine,
    listen,
    stateDir: o.stateDir,
    workers: commandLine.has('workers') ? o.workers : defaultWorkers(o.cpus),
    cpus: o.cpus,
    interfaceCpus: o.interfaceCpus,
    logLevel: o.logLevel,
    tls: o.tlsCert ? { cert: o.tlsCert, key: o.tlsKey, clientCa: o.tlsClientCa } : undefined,
    insecure: o.insecure,
    socketGroup: o.socketGroup,
    tokens,
    limits,
    batch: o.batch,
    rcvbuf: o.rcvbuf,
    sndbuf: o.sndbuf,
    metrics: o.metrics,
    fullSyncInterval: o.fullSyncInterval,
    testHooks: o.testHooks,
  };
}
