/**
 * mcrctl's command line, defined with commander and parsed into an Invocation. Parsing does no I/O
 * beyond writing help and usage errors; running the invocation is commands.ts's job.
 */
import { Argument, Command, CommanderError, Option } from 'commander';

import { DEFAULT_TIMEOUT_MS } from '../lib/defaults';
import { DEFAULT_SOCKET } from '../lib/target';
import { CLIENT_VERSION } from '../lib/version';
import { COMPLETE_COMMAND, COMPLETION_SHELLS, CompletionShell, completionScript } from './completion';
import { COMPLETION_TOPICS, CompletionTopic } from './completion-names';
import { hostPortArg, integerArg, parseEndpoints, parseInputEndpoint, parseSource, ruleArgument, ttlArg, uint64Arg, UsageError } from './args';
import { TTL_DECREMENT } from '../../server/formats/ttl-word';
import { OVERSIZE_WORDS, OversizeWord } from '../../server/formats/oversize-word';
import { PROTOCOL_ESP, PROTOCOL_WORDS, ProtocolWord } from '../../server/formats/protocol-word';
import { EVENT_KIND_WORDS, parseEventKinds } from './event-kinds';
import { defineConfigCommands } from './config-program';
import { ExitCode } from './exit-codes';
import { CliCommand, ConnectionOptions, Invocation, TraceSettings } from './invocation';
import { CliIo } from './io';
import { isEmptyEdit, portsChange, RuleEdit } from './rule-edit';
import { ruleFilter, ruleFilterOptions } from './rule-filter-options';
import { PcapDestination } from './trace-output';

export type ParseResult = { invocation: Invocation } | { exitCode: ExitCode };

/** Options every command accepts. */
interface GlobalOptions {
  socket?: string;
  address?: string;
  json?: boolean;
  timeout: number;
  tokenFile?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** Options of the leaf commands (rule add/update/delete have some), as commander leaves them. */
interface CommandOptions {
  name?: string;
  id?: string;
  in?: string[];
  /** --protocol udp|esp: what the rule relays (esp: --in and --out without ports). */
  protocol?: ProtocolWord;
  source?: string;
  /** --vlan ID; false: --no-vlan (rule update). */
  vlan?: number | false;
  out?: string[];
  /** --from ADDR: the source address of the outputs; "" clears it (rule update). */
  from?: string;
  ttl?: number | typeof TTL_DECREMENT;
  dscp?: number;
  /** --preserve-tos (true), --no-preserve-tos (false). */
  preserveTos?: boolean;
  oversize?: OversizeWord;
  expectGeneration?: bigint;
  dryRun?: boolean;
  watch?: boolean;
  interval?: number;
  inputs?: boolean;
  kind?: string[];
  sample?: number;
  snap?: number;
  limit?: number;
  duration?: number;
  pcap?: boolean;
  write?: string;
  reconnect?: boolean;
  addOut?: string[];
  delOut?: string[];
  group?: string;
  state?: string[];
  namePrefix?: string;
}

/** `stats --watch` without --interval. */
export const DEFAULT_WATCH_INTERVAL_MS = 1000;
/** The interval range mcrd accepts (it would clamp anything else; mcrctl refuses it instead). */
export const MIN_WATCH_INTERVAL_MS = 100;
export const MAX_WATCH_INTERVAL_MS = 60_000;

/** The option keys that set up and follow a trace (`trace RULE` only), with their flags. */
const TRACE_SETTING_FLAGS = [
  ['sample', '--sample'],
  ['snap', '--snap'],
  ['limit', '--limit'],
  ['duration', '--duration'],
  ['reconnect', '--reconnect'],
] as const;

/** --reconnect, of the commands that watch (see reconnect.ts). */
const RECONNECT_HELP = 'when mcrd goes away (or is not there yet), wait for it and go on instead of exiting 1: for monitoring scripts';
/** The option keys that ask for a pcapng capture, with their flags. */
const CAPTURE_FLAGS = [
  ['pcap', '--pcap'],
  ['write', '-w'],
] as const;

const TRACE_HELP = `
A rule named start, list, show or stop is traced with 'mcrctl trace start NAME' (or by its id).
Records go to stdout, notes (started, records lost, ended) to stderr. Ctrl-C, SIGTERM or a closed
pipe disable the trace and exit 0.`;

/** mcrd's log facilities, for help texts (mcrd checks the names). */
const FACILITIES_HELP = 'supervisor, api, store, workers, net, worker (the workers\' own logs)';

const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  mcrd answered with an error (the message names the field, e.g. rule.outputs[1].port),
     or went away under a watching command ("mcrd shut down"; see --reconnect)
  2  bad command line (nothing was sent)
  3  mcrd could not be reached (not running, wrong --socket/--address, or no permission on the socket)`;

/**
 * An option that takes two values each time it is given (--in IF GROUP:PORT). commander has no such
 * option, so it is declared variadic (every following non-option word is collected) and the flat list
 * is split into pairs after parsing, by parseEndpoints. The flags keep the two placeholders for help.
 */
function pairOption(flags: string, description: string): Option {
  const option = new Option(flags, description);
  option.variadic = true;
  return option;
}

/** The options shared by `rule add` and `rule update`; only add may choose the id. */
function ruleEditOptions(command: Command, { withId }: { withId: boolean }): Command {
  command.option('--name <NAME>', 'unique rule name, usable wherever a rule is referred to');
  if (withId) command.option('--id <ID>', 'choose the rule id (default: derived from the input)');
  return command
    .addOption(pairOption('--in <IF> <GROUP:PORT>', 'capture UDP to GROUP:PORT arriving on interface IF (with --protocol esp: ESP to GROUP, given without a port)'))
    .addOption(
      new Option(
        '--protocol <udp|esp>',
        'what the rule relays: udp (the default), or esp: IPsec ESP packets (IP protocol 50, any SPI) to GROUP, each sent on unchanged ' +
          'to every ADDR; GROUP and ADDR are then given without a port' +
          // rule update's (the command without --id): a switch, or how --add-out and --del-out are written.
          (withId ? '' : ' (of --add-out and --del-out too). A switch of protocol needs --in and --out (every output); without them the rule must relay it already'),
      ).choices(PROTOCOL_WORDS),
    )
    .option('--source <ADDR>', 'only from this IPv4 source (source-specific); "" = any source')
    .option(
      '--vlan <ID>',
      'only frames of this 802.1Q VLAN, 1-4094 (their outer tag), for an input on a trunk; without it, untagged frames only',
      integerArg(1, 4094),
    )
    .addOption(pairOption('--out <IF> <ADDR:PORT>', 'send to ADDR:PORT (multicast or unicast) through IF (ADDR alone with --protocol esp); repeat for more outputs'))
    .option(
      '--from <ADDR>',
      'source address of every --out given (update without --out: of every output): one of its interface\'s addresses ' +
        '(any unicast address on an interface without IPv4 addresses); default the address the kernel picks; "" = that default',
    )
    .option(
      '--ttl <N|decrement>',
      'IP TTL of every --out given (update without --out: of every output): N (1-255), or decrement: the received TTL minus 1, ' +
        'packets arriving with TTL 1 are not sent; default 1 for multicast, 64 for unicast',
      ttlArg,
    )
    .option('--dscp <N>', 'DSCP of every --out given (update without --out: of every output); default the received DSCP (0 with --no-preserve-tos)', integerArg(0, 63))
    .option('--preserve-tos', "copy each received packet's DSCP and ECN to the packets sent (the default; --dscp then replaces the DSCP only)")
    .option('--no-preserve-tos', 'send every packet with DSCP --dscp (0 without) and ECN 0, whatever it arrived with')
    .addOption(
      new Option(
        '--oversize <fragment|drop>',
        "what every --out given (update without --out: every output) does with a datagram too large for its interface's MTU: " +
          'fragment it (the default), or drop and count it (every packet then leaves with DF set)',
      ).choices(OVERSIZE_WORDS),
    )
    .option('--dry-run', 'validate only: report what would be done, change nothing');
}

/**
 * The RuleEdit given by rule options; throws UsageError for malformed --in/--out/--source/--from
 * (--in and --out written as --protocol has them: without ports for esp).
 */
function ruleEdit(options: CommandOptions): RuleEdit {
  const esp = options.protocol === PROTOCOL_ESP;
  return {
    id: options.id,
    name: options.name,
    protocol: options.protocol,
    input: options.in === undefined ? undefined : parseInputEndpoint(options.in, esp),
    source: options.source === undefined ? undefined : parseSource('--source', options.source),
    vlan: options.vlan,
    outputs: options.out === undefined ? undefined : parseEndpoints('--out', options.out, esp),
    from: options.from === undefined ? undefined : parseSource('--from', options.from),
    ttl: options.ttl,
    dscp: options.dscp,
    preserveTos: options.preserveTos,
    oversize: options.oversize,
  };
}

function connectionOptions(globals: GlobalOptions, env: NodeJS.ProcessEnv): ConnectionOptions {
  const tokenFile = globals.tokenFile || env.MCR_TOKEN_FILE || undefined;
  const token = tokenFile === undefined ? {} : { tokenFile };
  // Only the TLS flags given, so that a plain connection compares equal to { socket, timeoutMs }.
  const tls = Object.fromEntries(Object.entries({ tlsCa: globals.tlsCa, tlsCert: globals.tlsCert, tlsKey: globals.tlsKey }).filter(([, v]) => v !== undefined));
  if (globals.address === undefined && Object.keys(tls).length > 0) throw new UsageError('--tls-ca, --tls-cert and --tls-key go with --address');
  if (!!globals.tlsCert !== !!globals.tlsKey) throw new UsageError('--tls-cert and --tls-key go together');
  if (globals.address !== undefined) return { address: globals.address, timeoutMs: globals.timeout, ...token, ...tls };
  return { socket: globals.socket || env.MCR_SOCKET || DEFAULT_SOCKET, timeoutMs: globals.timeout, ...token };
}

/** The options of `trace RULE` (and `trace start RULE`) that set up and follow the trace. */
function traceSettingOptions(command: Command): Command {
  return command
    .option('--reconnect', `${RECONNECT_HELP} (the trace is enabled again, afresh)`)
    .option('--sample <N>', 'record one packet in every N (1-1000000; default 1: every packet)', integerArg(1, 1_000_000))
    .option('--snap <BYTES>', 'bytes of each frame to keep, from its Ethernet header (1-2048; default 128)', integerArg(1, 2048))
    .option('--limit <N>', 'the trace switches itself off after N records (1-100000; default 1000)', integerArg(1, 100_000))
    .option('--duration <SECONDS>', 'the trace switches itself off after this many seconds (1-3600; default 60)', integerArg(1, 3600));
}

/** --pcap and -w, of `trace RULE` and `trace show`. */
function captureOptions(command: Command): Command {
  return command
    .option('--pcap', 'write a pcapng capture (the verdict as each packet\'s comment) to stdout, which must not be a terminal')
    .option('-w, --write <FILE>', 'write the pcapng capture to FILE instead ("-" = stdout); implies --pcap');
}

/** The settings given on the command line; those not given are left out (mcrd's defaults). */
function traceSettings(options: CommandOptions): TraceSettings {
  const settings: TraceSettings = {};
  if (options.sample !== undefined) settings.sampleEvery = options.sample;
  if (options.snap !== undefined) settings.snapLength = options.snap;
  if (options.limit !== undefined) settings.recordLimit = options.limit;
  if (options.duration !== undefined) settings.timeLimitMs = options.duration * 1000;
  return settings;
}

/**
 * Where --pcap / -w send the capture, or undefined for neither. A capture is binary: it is refused on a
 * terminal, and cannot be combined with --json, the other output format.
 */
function pcapDestination(options: CommandOptions, json: boolean, isTTY: boolean): PcapDestination | undefined {
  if (!options.pcap && options.write === undefined) return undefined;
  if (json) throw new UsageError('--json and --pcap (or -w) ask for different outputs: give one of them');
  if (options.write === '') throw new UsageError('-w: the file name is empty');
  if (options.write !== undefined && options.write !== '-') return { to: 'file', path: options.write };
  if (isTTY) throw new UsageError('refusing to write a pcapng capture to a terminal: give -w FILE, or pipe it (mcrctl trace RULE --pcap | wireshark -k -i -)');
  return { to: 'stdout' };
}

/**
 * Refuses options that belong to another trace command. The `trace` command itself knows them all
 * (for `trace RULE`), so commander accepts them anywhere after `trace`, as in `trace list --sample 5`.
 */
function refuseOptions(command: string, options: CommandOptions, flags: ReadonlyArray<readonly [keyof CommandOptions, string]>): void {
  for (const [key, flag] of flags) {
    if (options[key] !== undefined) throw new UsageError(`${command} takes no ${flag}: it applies to 'trace RULE'`);
  }
}

/** "mcrctl rule add" for the rule add command. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Defines the program; every leaf command's action hands its Invocation to `emit`. */
function buildProgram(io: CliIo, emit: (invocation: Invocation) => void): Command {
  const program = new Command('mcrctl')
    .description('Control mcrd, the userspace multicast relay.')
    .version(CLIENT_VERSION, '-V, --version', "print mcrctl's version")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showSuggestionAfterError()
    .addOption(new Option('--socket <PATH>', `mcrd's unix socket (default: $MCR_SOCKET or ${DEFAULT_SOCKET})`))
    .addOption(new Option('--address <HOST:PORT>', "mcrd's TCP listener, instead of the socket").argParser(hostPortArg).conflicts('socket'))
    .option('--json', 'print the response as JSON (proto3 JSON mapping; 64-bit integers as strings)')
    .option('--timeout <MS>', 'deadline of each call in milliseconds', integerArg(1, 3_600_000), DEFAULT_TIMEOUT_MS)
    .option('--token-file <FILE>', "send the bearer token in FILE with every call (default: $MCR_TOKEN_FILE)")
    .option('--tls-ca <FILE>', "with --address: verify mcrd's certificate against this CA (TLS)")
    .option('--tls-cert <FILE>', 'with --address: present this client certificate (mutual TLS)')
    .option('--tls-key <FILE>', 'with --address: the key of --tls-cert')
    .addHelpText('after', EXIT_CODES_HELP);

  /** Makes `command` a leaf whose action turns its arguments and options into a CliCommand. */
  const leaf = (command: Command, build: (args: string[], options: CommandOptions, self: Command) => CliCommand): Command =>
    command.action((...actionArgs: unknown[]) => {
      const self = actionArgs[actionArgs.length - 1] as Command;
      const options = actionArgs[actionArgs.length - 2] as CommandOptions;
      const args = actionArgs.slice(0, -2) as string[];
      try {
        const globals = self.optsWithGlobals<GlobalOptions>();
        emit({ connection: connectionOptions(globals, io.env), json: globals.json === true, command: build(args, options, self) });
      } catch (err) {
        if (err instanceof UsageError) self.error(`error: ${err.message}`, { exitCode: ExitCode.Usage, code: 'mcrctl.usage' });
        throw err;
      }
    });

  const rule = program.command('rule').description('create, inspect, change and delete forwarding rules (RULE = id or name)');

  leaf(
    ruleEditOptions(rule.command('add').description('create a rule'), { withId: true }).usage(
      '[--name NAME] [--id ID] --in IF GROUP:PORT [--source ADDR] [--vlan ID] [--protocol udp|esp] --out IF ADDR:PORT [--out IF ADDR:PORT ...] [--from ADDR] ' +
        '[--ttl N|decrement] [--dscp N] [--[no-]preserve-tos] [--oversize fragment|drop] [--dry-run]\n' +
        '       mcrctl rule add --protocol esp --in IF GROUP --out IF ADDR [--out IF ADDR ...] [options as above]',
    ),
    (_args, options) => {
      const edit = ruleEdit(options);
      const { input, outputs } = edit;
      const esp = edit.protocol === PROTOCOL_ESP;
      if (input === undefined) throw new UsageError(`rule add needs --in IF ${esp ? 'GROUP' : 'GROUP:PORT'}`);
      if (outputs === undefined) throw new UsageError(`rule add needs at least one --out IF ${esp ? 'ADDR' : 'ADDR:PORT'}`);
      return { name: 'rule add', edit: { ...edit, input, outputs }, dryRun: options.dryRun === true };
    },
  );

  leaf(
    ruleFilterOptions(rule.command('list').description('list every rule with its state (or those the options select: all of them must hold)'), 'rules').usage(
      '[--in IF] [--group PREFIX] [--state STATE ...] [--name-prefix TEXT]',
    ),
    (_args, options) => {
      const filter = ruleFilter(options);
      return filter ? { name: 'rule list', filter } : { name: 'rule list' };
    },
  );

  leaf(rule.command('get').description('show one rule in detail').argument('<RULE>', 'rule id or name', ruleArgument), ([ruleName]) => ({
    name: 'rule get',
    rule: ruleName,
  }));

  leaf(
    ruleEditOptions(rule.command('update').description('change a rule: only what is given is replaced (--out replaces every output)'), { withId: false })
      .usage(
        'RULE [--name NAME] [--in IF GROUP:PORT] [--source ADDR] [--vlan ID | --no-vlan] [--protocol udp|esp] [--out IF ADDR:PORT ... | --add-out IF ADDR:PORT ... --del-out IF ADDR:PORT ...] ' +
          '[--from ADDR] [--ttl N|decrement] [--dscp N] [--[no-]preserve-tos] [--oversize fragment|drop] [--expect-generation N] [--dry-run]',
      )
      .argument('<RULE>', 'rule id or name', ruleArgument)
      .option('--no-vlan', "match untagged frames again (clears the rule's --vlan)")
      .addOption(pairOption('--add-out <IF> <ADDR:PORT>', 'add this output to the rule\'s (repeatable; --from/--ttl/--dscp/--[no-]preserve-tos/--oversize then apply to the outputs added)'))
      .addOption(pairOption('--del-out <IF> <ADDR:PORT>', 'remove this output of the rule (repeatable; before any --add-out)'))
      .option('--expect-generation <N>', 'refuse (ABORTED) unless the rule is at this generation (default: the generation read, when the edit reads the rule)', uint64Arg),
    ([ruleName], options) => {
      const esp = options.protocol === PROTOCOL_ESP;
      const edit: RuleEdit = {
        ...ruleEdit(options),
        addOutputs: options.addOut === undefined ? undefined : parseEndpoints('--add-out', options.addOut, esp),
        removeOutputs: options.delOut === undefined ? undefined : parseEndpoints('--del-out', options.delOut, esp),
      };
      if (isEmptyEdit(edit)) {
        throw new UsageError(
          'rule update: nothing to change: give --name, --in, --source, --[no-]vlan, --out, --add-out, --del-out, --from, --ttl, --dscp, --[no-]preserve-tos or --oversize',
        );
      }
      if (edit.outputs && (edit.addOutputs || edit.removeOutputs)) {
        throw new UsageError('rule update: --out replaces every output; --add-out and --del-out edit them: give one or the other');
      }
      const addresses = [edit.input, edit.outputs, edit.addOutputs, edit.removeOutputs];
      if (edit.protocol !== undefined && addresses.every((given) => given === undefined)) {
        // Without an address to write, --protocol can only mean a switch.
        throw new UsageError(`rule update: switching a rule's protocol needs --in and --out (every output) with --protocol ${edit.protocol}, as ${portsChange(edit.protocol)}`);
      }
      return { name: 'rule update', rule: ruleName, edit, expectGeneration: options.expectGeneration, dryRun: options.dryRun === true };
    },
  );

  leaf(
    rule
      .command('delete')
      .description('delete a rule')
      .argument('<RULE>', 'rule id or name', ruleArgument)
      .option('--expect-generation <N>', 'refuse (ABORTED) unless the rule is at this generation', uint64Arg),
    ([ruleName], options) => ({ name: 'rule delete', rule: ruleName, expectGeneration: options.expectGeneration }),
  );

  leaf(
    ruleFilterOptions(program.command('stats'), 'rules')
      .description('packet counters and rates per rule and per output; with --inputs, per worker input interface')
      .usage('[RULE] [--in IF] [--group PREFIX] [--state STATE ...] [--name-prefix TEXT] [--watch] [--interval MS] [--reconnect] [--inputs]')
      .argument('[RULE]', 'only this rule (id or name)', ruleArgument)
      .option('--watch', 'keep showing updates until Ctrl-C (redrawn in place on a terminal)')
      .option(
        '--interval <MS>',
        `with --watch: milliseconds between updates (${MIN_WATCH_INTERVAL_MS}-${MAX_WATCH_INTERVAL_MS}, default ${DEFAULT_WATCH_INTERVAL_MS})`,
        integerArg(MIN_WATCH_INTERVAL_MS, MAX_WATCH_INTERVAL_MS),
      )
      .option('--inputs', 'frames, unmatched frames, parse errors and kernel drops per worker and input interface')
      .option('--reconnect', `with --watch: ${RECONNECT_HELP}`),
    ([ruleName], options) => {
      const filter = ruleFilter(options);
      if (options.interval !== undefined && !options.watch) throw new UsageError('stats: --interval applies only with --watch');
      if (options.reconnect && !options.watch) throw new UsageError('stats: --reconnect applies only with --watch');
      if (options.inputs && ruleName !== undefined) {
        throw new UsageError(`stats --inputs counts per worker input, not per rule: drop "${ruleName}" or --inputs`);
      }
      if (options.inputs && filter) throw new UsageError('stats --inputs counts per worker input, not per rule: --in, --group, --state and --name-prefix select rules');
      return {
        name: 'stats',
        rule: ruleName,
        ...(filter && { filter }),
        inputs: options.inputs === true,
        watch: options.watch ? { intervalMs: options.interval ?? DEFAULT_WATCH_INTERVAL_MS, reconnect: options.reconnect === true } : undefined,
      };
    },
  );
  leaf(program.command('workers').description('the worker processes: pid, uid, CPU (pinned to, last ran on), state, rules, ruleset hash'), () => ({ name: 'workers' }));
  leaf(
    program.command('interfaces').description('the interfaces mcrd sees and those rules name: state, MTU, MAC, addresses, and the rules using each'),
    () => ({ name: 'interfaces' }),
  );
  leaf(
    program
      .command('events')
      .description('print what happens in mcrd as it happens (interfaces, rule status and changes, workers, drift), until Ctrl-C')
      .usage('[--kind KIND ...] [--reconnect]')
      .option('--kind <KIND...>', `only events of these kinds (repeatable): ${EVENT_KIND_WORDS.join(', ')}`)
      .option('--reconnect', `${RECONNECT_HELP} (events in between are not replayed)`),
    (_args, options) => ({ name: 'events', kinds: parseEventKinds(options.kind ?? []), reconnect: options.reconnect === true }),
  );
  defineTraceCommands(program, leaf, io.isTTY === true);
  defineConfigCommands(program, leaf);
  leaf(program.command('version').description('client and server versions and protocol'), () => ({ name: 'version' }));

  leaf(
    program
      .command('completion')
      .addArgument(new Argument('<shell>', 'the shell').choices(COMPLETION_SHELLS))
      .description('print a shell completion script: source <(mcrctl completion bash); zsh: mcrctl completion zsh > "${fpath[1]}/_mcrctl"'),
    ([shell]) => ({ name: 'completion', script: completionScript(shell as CompletionShell, program) }),
  );
  // For the completion scripts only: the rule or interface names mcrd knows, one per line.
  leaf(
    program
      .command(COMPLETE_COMMAND, { hidden: true })
      .description('print the names a shell completes for RULE or IF, asked of mcrd (nothing when it cannot answer)')
      .addArgument(new Argument('<what>').choices(COMPLETION_TOPICS)),
    ([what]) => ({ name: COMPLETE_COMMAND, of: what as CompletionTopic }),
  );

  // `log-level` alone does what `log-level get` does.
  const logLevel = leaf(program.command('log-level').description(`show (alone or with get) or change mcrd's log level per facility: ${FACILITIES_HELP}`), () => ({
    name: 'log-level get',
  }));
  leaf(logLevel.command('get').description('print each facility and its level'), () => ({ name: 'log-level get' }));
  leaf(
    logLevel
      .command('set')
      .description("set a facility's level at once, or every facility's without FACILITY; \"worker\" also changes the workers' own level")
      .usage('[FACILITY] LEVEL')
      .argument('[FACILITY]', `one of ${FACILITIES_HELP}; omit for every facility`)
      .argument('[LEVEL]', 'error, warn, info or debug'),
    ([first, second]) => {
      if (first === undefined) throw new UsageError('log-level set needs a LEVEL (error, warn, info or debug), optionally after a FACILITY');
      // One word is the level for every facility; two are FACILITY LEVEL.
      return second === undefined ? { name: 'log-level set', facility: '', level: first } : { name: 'log-level set', facility: first, level: second };
    },
  );

  showUsageAfterErrors(program);
  return program;
}

type Leaf = (command: Command, build: (args: string[], options: CommandOptions, self: Command) => CliCommand) => Command;

/**
 * `trace RULE` and `trace start|list|show|stop`. `trace` is itself a command (trace RULE) with
 * subcommands: commander dispatches to a subcommand when the first word after `trace` names one, and
 * runs `trace RULE` otherwise. `trace start RULE` is the same as `trace RULE` for any RULE, a rule
 * named like a subcommand included. The options are all declared on `trace`, which therefore takes
 * them wherever they appear; each command reads them with optsWithGlobals and refuses those that are
 * not its own.
 */
function defineTraceCommands(program: Command, leaf: Leaf, isTTY: boolean): void {
  const startCommand = (rule: string | undefined, self: Command): CliCommand => {
    if (rule === undefined) throw new UsageError('trace needs a RULE (id or name) to trace, or one of: start RULE, list, show RULE, stop RULE');
    const options = self.optsWithGlobals<CommandOptions & GlobalOptions>();
    const pcap = pcapDestination(options, options.json === true, isTTY);
    return { name: 'trace start', rule, settings: traceSettings(options), pcap, reconnect: options.reconnect === true };
  };

  const trace = leaf(
    captureOptions(traceSettingOptions(program.command('trace')))
      .description('show what mcr does with each packet of a rule, live (RULE = id or name); or list, show and stop traces')
      .usage('RULE [--sample N] [--snap BYTES] [--limit N] [--duration SECONDS] [--pcap] [-w FILE] [--reconnect]\n       mcrctl trace start|list|show|stop ...')
      .argument('[RULE]', 'the rule to trace (id or name)', ruleArgument)
      .addHelpText('after', TRACE_HELP),
    ([rule], _options, self) => startCommand(rule, self),
  );

  leaf(
    captureOptions(traceSettingOptions(trace.command('start')))
      .description("the same as 'trace RULE', for any rule name")
      .argument('<RULE>', 'the rule to trace (id or name)', ruleArgument),
    ([rule], _options, self) => startCommand(rule, self),
  );

  leaf(trace.command('list').description('every trace mcrd knows: state, settings, records'), (_args, _options, self) => {
    const options = self.optsWithGlobals<CommandOptions>();
    refuseOptions('trace list', options, [...TRACE_SETTING_FLAGS, ...CAPTURE_FLAGS]);
    return { name: 'trace list' };
  });

  leaf(
    captureOptions(trace.command('show'))
      .description('the status of a trace and the records it buffered (or them as pcapng with --pcap / -w)')
      .argument('<RULE>', 'the traced rule (id or name)', ruleArgument),
    ([rule], _options, self) => {
      const options = self.optsWithGlobals<CommandOptions & GlobalOptions>();
      refuseOptions('trace show', options, TRACE_SETTING_FLAGS);
      return { name: 'trace show', rule, pcap: pcapDestination(options, options.json === true, isTTY) };
    },
  );

  leaf(
    trace.command('stop').description('switch a trace off; its records stay readable with trace show').argument('<RULE>', 'the traced rule (id or name)', ruleArgument),
    ([rule], _options, self) => {
      refuseOptions('trace stop', self.optsWithGlobals<CommandOptions>(), [...TRACE_SETTING_FLAGS, ...CAPTURE_FLAGS]);
      return { name: 'trace stop', rule };
    },
  );
}

/** After a usage error, every command prints its own usage line and where to find more. */
function showUsageAfterErrors(command: Command): void {
  const path = commandPath(command);
  command.showHelpAfterError(`Usage: ${path} ${command.usage()}\nRun '${path} --help' for details.`);
  for (const sub of command.commands) showUsageAfterErrors(sub);
}

/** mcrctl's command tree, for what is generated from it (man page, completion scripts); never parses. */
export function programDefinition(): Command {
  const silent: CliIo = { stdout: () => undefined, stderr: () => undefined, env: {} };
  return buildProgram(silent, () => undefined);
}

/**
 * Parses mcrctl's arguments (without "node" and the script: process.argv.slice(2)). Help and usage
 * errors are written to `io` and come back as an exit code.
 */
export function parseCommandLine(argv: readonly string[], io: CliIo): ParseResult {
  let invocation: Invocation | undefined;
  const program = buildProgram(io, (parsed) => {
    invocation = parsed;
  });
  try {
    program.parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return { exitCode: err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage };
    throw err;
  }
  // Every path through commander either runs a leaf action or throws (help, unknown command).
  if (invocation === undefined) throw new Error('mcrctl: the command line selected no command');
  return { invocation };
}
