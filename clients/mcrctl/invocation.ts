/** A parsed mcrctl command line: where to connect, how to print, and what to do. */
import type { RuleFilter } from '../../gen/mcr/v1/rules';
import { EventKind } from '../../gen/mcr/v1/system';
import type { CompletionTopic } from './completion-names';
import type { ConfigCommand } from './config-program';
import { NewRuleEdit, RuleEdit } from './rule-edit';
import { PcapDestination } from './trace-output';

export interface ConnectionOptions {
  /** Exactly one of socket and address is set. */
  socket?: string;
  address?: string;
  timeoutMs: number;
  /** --token-file (or $MCR_TOKEN_FILE): a file holding the bearer token. */
  tokenFile?: string;
  /** TLS for --address: the CA that signed mcrd's certificate, and this client's certificate and key. */
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

export type CliCommand =
  | ConfigCommand
  | { name: 'rule add'; edit: NewRuleEdit; dryRun: boolean }
  /** filter: the --in, --group, --state and --name-prefix given (none: every rule). */
  | { name: 'rule list'; filter?: RuleFilter }
  | { name: 'rule get'; rule: string }
  | { name: 'rule update'; rule: string; edit: RuleEdit; expectGeneration?: bigint; dryRun: boolean }
  | { name: 'rule delete'; rule: string; expectGeneration?: bigint }
  | { name: 'stats'; rule?: string; filter?: RuleFilter; inputs: boolean; watch?: WatchOptions }
  | { name: 'workers' }
  | { name: 'interfaces' }
  /** kinds empty = every kind; reconnect: --reconnect (see reconnect.ts). */
  | { name: 'events'; kinds: EventKind[]; reconnect: boolean }
  | { name: 'version' }
  /** The completion script for `shell`, generated from the command tree at parse time. */
  | { name: 'completion'; script: string }
  /** The hidden command of the completion scripts: the rule or interface names mcrd knows. */
  | { name: '__complete'; of: CompletionTopic }
  | { name: 'log-level get' }
  /** facility "" = every facility. Names and levels are mcrd's to check. */
  | { name: 'log-level set'; facility: string; level: string }
  /** `trace RULE`: enable, follow until the trace ends or Ctrl-C; pcap set = a pcapng capture. */
  | { name: 'trace start'; rule: string; settings: TraceSettings; pcap?: PcapDestination; reconnect: boolean }
  | { name: 'trace list' }
  | { name: 'trace show'; rule: string; pcap?: PcapDestination }
  | { name: 'trace stop'; rule: string };

/** The settings of `trace RULE`; those not given are left to mcrd's defaults. */
export interface TraceSettings {
  sampleEvery?: number;
  snapLength?: number;
  recordLimit?: number;
  timeLimitMs?: number;
}

/** `--watch`: keep printing updates until interrupted. */
export interface WatchOptions {
  /** Milliseconds between updates (--interval). */
  intervalMs: number;
  /** --reconnect: when mcrd goes away, wait for it and go on (see reconnect.ts). */
  reconnect: boolean;
}

export interface Invocation {
  connection: ConnectionOptions;
  /** --json: print responses as proto3 JSON instead of tables. */
  json: boolean;
  command: CliCommand;
}
