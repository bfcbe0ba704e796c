/**
 * The config file: JSON5 (comments, trailing commas, unquoted keys) holding mcrd's settings and its
 * rules. mcrd reads it with --config and on SIGHUP; mcrctl checks and loads it with the same code,
 * which therefore stays free of anything server-only.
 *
 *   {
 *     listen: ["unix:/run/mcr/mcr.sock"],  // --listen, repeatable
 *     workers: 4,                          // --workers
 *     cpus: "0-3",                         // --cpus
 *     interfaceCpus: { eth0: "0-1" },      // --interface-cpus eth0=0-1
 *     logLevel: "info",                    // --log-level
 *     defaults: { ttl: 8, dscp: 46 },      // for outputs that do not set them (also preserveTos, oversize)
 *     rules: [
 *       { name: "camera-1",
 *         input: { interface: "eth0", group: "239.0.0.1", port: 5000 },
 *         outputs: [{ interface: "eth1", address: "239.9.9.9", port: 6000 },
 *                   { interface: "eth2", address: "239.9.9.9", port: 6000, ttl: "decrement", preserveTos: false },
 *                   { interface: "eth3", address: "10.0.0.7", port: 6000, oversize: "drop" },
 *                   { interface: "wg0", address: "10.20.0.7", port: 6000, source: "10.20.0.1" }] },
 *       { name: "camera-2",                // VLAN 100 of the trunk eth4
 *         input: { interface: "eth4", group: "239.0.0.1", port: 5000, vlan: 100 },
 *         outputs: [{ interface: "eth1", address: "239.9.9.10", port: 6000 }] },
 *       { name: "tunnel-1",                // ESP (IPsec) packets to 239.1.1.1: no ports
 *         input: { interface: "eth0", group: "239.1.1.1", protocol: "esp" },
 *         outputs: [{ interface: "eth1", address: "10.0.0.9" }] },
 *     ],
 *   }
 *
 * An output's `ttl` (and `defaults.ttl`) is a number, the fixed TTL of every packet sent (Output.ttl),
 * or "decrement": the received TTL minus one (Output.ttl_policy TTL_POLICY_DECREMENT, ttl unset).
 * `preserveTos` is Output.preserve_tos (unset: true, the received DSCP and ECN are copied).
 * `oversize` is Output.oversize as a word: "fragment" (the default, read as unset) or "drop".
 * `source` is Output.source (left out: the address the kernel picks); not among the defaults, since
 * an address belongs to one interface.
 * An input's `vlan` is Input.vlan (left out: untagged frames only).
 * An input's `protocol` is Input.protocol as a word: "udp" (the default, read as unset) or "esp"
 * (IP_PROTOCOL_ESP). An ESP rule has no port: `port` must then be left out of its input and of each
 * of its outputs (read as 0, unset); a UDP rule's input and outputs need one.
 *
 * Every problem is reported with its place: "FILE:LINE:COLUMN: rules[2].outputs[0].port: must be
 * 1-65535, got 0". Syntax errors come from JSON5 (which knows their place); every other problem is
 * placed with Json5Locations. Rules are checked by the API's own validation, so a file that passes
 * here is one mcrd accepts (short of collisions with rules it already holds).
 */
import { promises as fs } from 'fs';
import JSON5 from 'json5';

import type { Input, Output, Rule } from '../../gen/mcr/v1/rules';
import { IpProtocol, OversizePolicy, TtlPolicy } from '../../gen/mcr/v1/rules';
import { isLogLevel, LOG_LEVELS, LogLevel } from '../log-levels';
import { isValidInterfaceName } from '../formats/addresses';
import { distinctViolations, RuleIdentity } from '../rules/apply-plan';
import { TTL_DECREMENT } from '../formats/ttl-word';
import { isOversizeWord, OVERSIZE_DROP, OVERSIZE_WORDS, OversizeWord } from '../formats/oversize-word';
import { isProtocolWord, PROTOCOL_ESP, PROTOCOL_WORDS, ProtocolWord } from '../formats/protocol-word';
import { DEFAULT_RULE_LIMITS, DSCP_RANGE, RuleLimits, ruleViolations, TTL_RANGE } from '../rules/validate';
import { CpuListError, parseCpuList } from '../formats/cpu-list';
import { elementPath, Json5Locations, memberPath, SourcePosition } from './json5-locator';
import { Listener, ListenerAddressError, parseListenerAddress, WORKERS_RANGE } from './listener';

/** TTL, DSCP, TOS and oversize handling for the outputs that do not set their own. */
export interface OutputDefaults {
  /** A fixed TTL, or 'decrement' (the received TTL minus one). */
  ttl?: number | typeof TTL_DECREMENT;
  dscp?: number;
  preserveTos?: boolean;
  oversize?: OversizeWord;
}

export interface ConfigFile {
  /** The file's name, as given. */
  file: string;
  /**
   * Where the value at a JSON path is in the file (or its nearest ancestor that is there), so that a
   * refusal naming `rules[i].field` (from mcrd, say) can point at the line.
   */
  locate(field: string): SourcePosition;
  /** Settings; undefined when the file does not give them. */
  listen?: Listener[];
  workers?: number;
  /** `cpus`, as --cpus: ascending, each once. */
  cpus?: number[];
  /** `interfaceCpus`, as --interface-cpus: input interface -> CPUs. */
  interfaceCpus?: Record<string, number[]>;
  logLevel?: LogLevel;
  defaults: OutputDefaults;
  /**
   * The rules, as ApplyRules takes them, with the defaults filled in. Undefined when the file has
   * no `rules` key: it then does not manage rules (those made over the API stay); `rules: []`
   * means no rules.
   */
  rules?: Rule[];
}

/** One thing wrong with a config file, and where. */
export interface ConfigProblem {
  /** 1-based; undefined for a problem with the file as a whole (it cannot be read). */
  line?: number;
  column?: number;
  /** The JSON path of the value at fault (`rules[2].outputs[0].port`); "" for the whole document. */
  field: string;
  message: string;
}

/** A config file that cannot be used; `message` has one line per problem, each naming the place. */
export class ConfigFileError extends Error {
  override name = 'ConfigFileError';

  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(problems.map((problem) => formatProblem(file, problem)).join('\n'));
  }
}

/**
 * The problem an error naming a field of the file's rules (`rules[1].name: ...`, as mcrd's refusals
 * do) is, placed in the file; undefined when `text` names no such field.
 */
export function problemFromRefusal(config: ConfigFile, text: string): ConfigProblem | undefined {
  const match = /^(rules(?:\[\d+\](?:\.[A-Za-z]+|\[\d+\])*)?): (.*)$/s.exec(text);
  if (!match) return undefined;
  return { ...config.locate(match[1]), field: match[1], message: match[2] };
}

/** "FILE:LINE:COLUMN: FIELD: MESSAGE" (without the parts a problem does not have). */
export function formatProblem(file: string, problem: ConfigProblem): string {
  const place = problem.line === undefined ? file : `${file}:${problem.line}:${problem.column}`;
  return `${place}: ${problem.field ? `${problem.field}: ` : ''}${problem.message}`;
}

const TOP_KEYS = ['listen', 'workers', 'cpus', 'interfaceCpus', 'logLevel', 'defaults', 'rules'] as const;
const DEFAULTS_KEYS = ['ttl', 'dscp', 'preserveTos', 'oversize'] as const;
const RULE_KEYS = ['id', 'name', 'input', 'outputs'] as const;
const INPUT_KEYS = ['interface', 'group', 'port', 'source', 'vlan', 'protocol'] as const;
const OUTPUT_KEYS = ['interface', 'address', 'port', 'source', 'ttl', 'dscp', 'preserveTos', 'oversize'] as const;

/** Reads and checks a config file; throws ConfigFileError (also when it cannot be read). */
export async function readConfigFile(file: string, limits: RuleLimits = DEFAULT_RULE_LIMITS): Promise<ConfigFile> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(file, [{ field: '', message: `cannot read it: ${(err as Error).message}` }]);
  }
  return parseConfig(text, file, limits);
}

/** Parses and checks the text of a config file; throws ConfigFileError listing every problem found. */
export function parseConfig(text: string, file: string, limits: RuleLimits = DEFAULT_RULE_LIMITS): ConfigFile {
  let document: unknown;
  try {
    document = JSON5.parse(text);
  } catch (err) {
    throw new ConfigFileError(file, [syntaxProblem(err)]);
  }
  const locations = Json5Locations.scan(text);
  const reader = new Reader();
  for (const duplicate of locations.duplicates()) {
    const first = `${duplicate.first.line}:${duplicate.first.column}`;
    reader.problem(duplicate.path, `given twice (also at ${first}); only the last would count`);
  }
  const config = readDocument(document, reader, limits, { file, locate: (field) => locations.locate(field) });
  if (reader.problems.length > 0) {
    const placed = reader.problems.map((problem) => ({ ...locations.locate(problem.field), ...problem }));
    placed.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ConfigFileError(file, placed);
  }
  return config;
}

/** A JSON5 SyntaxError ("JSON5: invalid character 'x' at 3:5") as a problem at its place. */
function syntaxProblem(err: unknown): ConfigProblem {
  const error = err as SyntaxError & { lineNumber?: number; columnNumber?: number };
  if (typeof error.lineNumber !== 'number') throw err;
  const message = error.message.replace(/^JSON5: /, '').replace(/ at \d+:\d+$/, '');
  return { line: error.lineNumber, column: error.columnNumber, field: '', message: `not valid JSON5: ${message}` };
}

/** Collects problems by field; each reader returns undefined for a value it could not use. */
class Reader {
  readonly problems: ConfigProblem[] = [];

  problem(field: string, message: string): undefined {
    this.problems.push({ field, message });
    return undefined;
  }

  /** An object whose keys are all among `keys` (each unknown key is a problem; the object is still used). */
  object(value: unknown, field: string, keys: readonly string[]): Record<string, unknown> | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return this.problem(field, `must be an object, got ${describe(value)}`);
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!keys.includes(key)) this.problem(memberPath(field, key), `unknown key (expected one of: ${keys.join(', ')})`);
    }
    return record;
  }

  array(value: unknown, field: string): unknown[] | undefined {
    return Array.isArray(value) ? value : this.problem(field, `must be an array, got ${describe(value)}`);
  }

  string(value: unknown, field: string): string | undefined {
    return typeof value === 'string' ? value : this.problem(field, `must be a string, got ${describe(value)}`);
  }

  boolean(value: unknown, field: string): boolean | undefined {
    return typeof value === 'boolean' ? value : this.problem(field, `must be true or false, got ${describe(value)}`);
  }

  /** Any number: a value out of range or not whole is the rule validation's to name. */
  number(value: unknown, field: string): number | undefined {
    return typeof value === 'number' ? value : this.problem(field, `must be a number, got ${describe(value)}`);
  }

  /** `alternative`: the other values accepted, for the message (` or "decrement"`). */
  integer(value: unknown, field: string, range: { min: number; max: number }, alternative = ''): number | undefined {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
      return this.problem(field, `must be ${range.min}-${range.max}${alternative}, got ${describe(value)}`);
    }
    return value;
  }

  /** `record[key]` read by `read`, or a "required" problem when it is missing. */
  required<T>(record: Record<string, unknown>, key: string, field: string, read: (value: unknown, field: string) => T | undefined): T | undefined {
    const at = memberPath(field, key);
    return record[key] === undefined ? this.problem(at, 'required') : read(record[key], at);
  }
}

/** A value as a message shows it: `"text"`, `0`, `null`, `an object`, `an array`. */
function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value) ?? String(value);
}

function readDocument(document: unknown, reader: Reader, limits: RuleLimits, source: Pick<ConfigFile, 'file' | 'locate'>): ConfigFile {
  const config: ConfigFile = { ...source, defaults: {} };
  const top = reader.object(document, '', TOP_KEYS);
  if (!top) return config;
  if (top.listen !== undefined) config.listen = readListen(top.listen, reader);
  if (top.workers !== undefined) config.workers = reader.integer(top.workers, 'workers', WORKERS_RANGE);
  if (top.cpus !== undefined) config.cpus = readCpuList(top.cpus, 'cpus', reader);
  if (top.interfaceCpus !== undefined) config.interfaceCpus = readInterfaceCpus(top.interfaceCpus, reader);
  if (top.logLevel !== undefined) config.logLevel = readLogLevel(top.logLevel, reader);
  if (top.defaults !== undefined) config.defaults = readDefaults(top.defaults, reader);
  if (top.rules !== undefined) config.rules = readRules(top.rules, config.defaults, reader, limits);
  return config;
}

function readListen(value: unknown, reader: Reader): Listener[] | undefined {
  const list = reader.array(value, 'listen');
  if (!list) return undefined;
  if (list.length === 0) return reader.problem('listen', 'lists no address: give at least one, or leave listen out for the default');
  const listeners = list.map((item, index) => readParsed(item, elementPath('listen', index), reader, parseListenerAddress, ListenerAddressError));
  return listeners.every((l): l is Listener => l !== undefined) ? listeners : undefined;
}

/** `value`, a string, parsed by `parse`; a parse error of class `refusal` is the problem at `field`. */
function readParsed<T>(value: unknown, field: string, reader: Reader, parse: (text: string) => T, refusal: abstract new (...args: never[]) => Error): T | undefined {
  const text = reader.string(value, field);
  if (text === undefined) return undefined;
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof refusal) return reader.problem(field, err.message);
    throw err;
  }
}

function readCpuList(value: unknown, field: string, reader: Reader): number[] | undefined {
  return readParsed(value, field, reader, parseCpuList, CpuListError);
}

function readInterfaceCpus(value: unknown, reader: Reader): Record<string, number[]> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return reader.problem('interfaceCpus', `must be an object of interface names and CPU lists ({ eth0: "0-1" }), got ${describe(value)}`);
  }
  const result: Record<string, number[]> = {};
  let usable = true;
  for (const [name, list] of Object.entries(value as Record<string, unknown>)) {
    const field = memberPath('interfaceCpus', name);
    if (!isValidInterfaceName(name)) {
      reader.problem(field, `${JSON.stringify(name)} is not a valid interface name (1-15 bytes, no "/", ":" or spaces, not "." or "..")`);
      usable = false;
      continue;
    }
    const cpus = readCpuList(list, field, reader);
    if (cpus === undefined) usable = false;
    else result[name] = cpus;
  }
  return usable ? result : undefined;
}

function readLogLevel(value: unknown, reader: Reader): LogLevel | undefined {
  const level = reader.string(value, 'logLevel');
  if (level === undefined || isLogLevel(level)) return level;
  return reader.problem('logLevel', `must be one of ${LOG_LEVELS.join(', ')}, got ${describe(level)}`);
}

function readDefaults(value: unknown, reader: Reader): OutputDefaults {
  const record = reader.object(value, 'defaults', DEFAULTS_KEYS);
  const defaults: OutputDefaults = {};
  if (record?.ttl !== undefined) defaults.ttl = readTtl(record.ttl, 'defaults.ttl', reader);
  if (record?.dscp !== undefined) defaults.dscp = reader.integer(record.dscp, 'defaults.dscp', DSCP_RANGE);
  if (record?.preserveTos !== undefined) defaults.preserveTos = reader.boolean(record.preserveTos, 'defaults.preserveTos');
  if (record?.oversize !== undefined) defaults.oversize = readOversize(record.oversize, 'defaults.oversize', reader);
  return defaults;
}

/**
 * The rules; undefined when any is unusable. Every problem is reported in one pass: each rule's
 * shape, then the API's validation of whatever of it could be read, then the set as a whole (no two
 * with one id, name or match key) among the rules that are valid, each problem where it is.
 */
function readRules(value: unknown, defaults: OutputDefaults, reader: Reader, limits: RuleLimits): Rule[] | undefined {
  const list = reader.array(value, 'rules');
  if (!list) return undefined;
  if (list.length > limits.maxRules) return reader.problem('rules', `${list.length} rules, more than the limit of ${limits.maxRules}`);
  const read = list.map((item, index) => readRule(item, elementPath('rules', index), defaults, reader, limits));
  const clashes = distinctViolations(read.map((r) => r?.identity));
  for (const clash of clashes) reader.problem(clash.field ?? 'rules', clash.detail);
  const rules = read.map((r) => r?.rule);
  return rules.every((rule): rule is Rule => rule !== undefined) && clashes.length === 0 ? rules : undefined;
}

/**
 * A rule of the file: the rule when it has no problem, and its identity (id, name, input) made of
 * the parts that are valid, which must not clash with another rule's even when the rule has problems.
 */
function readRule(value: unknown, field: string, defaults: OutputDefaults, reader: Reader, limits: RuleLimits): { rule?: Rule; identity: RuleIdentity } | undefined {
  const record = reader.object(value, field, RULE_KEYS);
  if (!record) return undefined;
  const before = reader.problems.length;
  const id = record.id === undefined ? '' : reader.string(record.id, memberPath(field, 'id'));
  const name = record.name === undefined ? '' : reader.string(record.name, memberPath(field, 'name'));
  const input = reader.required(record, 'input', field, (v, at) => readInput(v, at, reader));
  const outputs = reader.required(record, 'outputs', field, (v, at) => readOutputs(v, at, input?.esp, defaults, reader));
  // What could be read is validated even when other parts could not, so one run names every problem.
  const violations = ruleViolations({ id, name, input: input?.fields, outputs }, limits, field, 'unread');
  for (const violation of violations) reader.problem(violation.field ?? field, violation.detail);
  const faulty = (part: string) => violations.some((v) => v.field !== undefined && (v.field === part || v.field.startsWith(`${part}.`)));
  const complete = input?.complete;
  const identity: RuleIdentity = {
    id: faulty(`${field}.id`) ? undefined : id,
    name: faulty(`${field}.name`) ? undefined : name,
    input: faulty(`${field}.input`) ? undefined : complete,
  };
  if (reader.problems.length > before || id === undefined || name === undefined || !complete) return { identity };
  const outputList = outputs?.map(completeOutput);
  if (!outputList?.every((o): o is Output => o !== undefined)) return { identity };
  return { rule: { id, name, input: complete, outputs: outputList, generation: 0n, status: undefined, createdUnixNanos: 0n, updatedUnixNanos: 0n }, identity };
}

/** The output when every field of it was read. */
function completeOutput(output: Partial<Output> | undefined): Output | undefined {
  if (output?.interface === undefined || output.address === undefined || output.port === undefined) return undefined;
  const { interface: name, address, port, ttl, dscp, preserveTos } = output;
  const ttlPolicy = output.ttlPolicy ?? TtlPolicy.TTL_POLICY_UNSPECIFIED;
  const oversize = output.oversize ?? OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED;
  return { interface: name, address, port, ttl, dscp, ttlPolicy, preserveTos, oversize, source: output.source ?? '' };
}

/**
 * The input's fields that could be read (the others undefined, each a problem already), and the
 * input when every one given could be. `vlan` is undefined in `fields` both when it is not given (no
 * VLAN: the input can be complete) and when it could not be read (it cannot), hence `complete`.
 * `esp`: whether the rule relays ESP (its outputs then have no port either); undefined when its
 * `protocol` could not be read.
 */
function readInput(value: unknown, field: string, reader: Reader): { fields: Partial<Input>; complete?: Input; esp?: boolean } | undefined {
  const record = reader.object(value, field, INPUT_KEYS);
  if (!record) return undefined;
  const protocol = record.protocol === undefined ? undefined : readProtocol(record.protocol, memberPath(field, 'protocol'), reader);
  const protocolRead = record.protocol === undefined || protocol !== undefined;
  const esp = protocolRead ? protocol === PROTOCOL_ESP : undefined;
  const fields = {
    interface: reader.required(record, 'interface', field, (v, at) => reader.string(v, at)),
    group: reader.required(record, 'group', field, (v, at) => reader.string(v, at)),
    port: readPort(record, field, esp, reader),
    source: record.source === undefined ? '' : reader.string(record.source, memberPath(field, 'source')),
    vlan: record.vlan === undefined ? undefined : reader.number(record.vlan, memberPath(field, 'vlan')),
    // "udp" is written as unset (IP_PROTOCOL_UNSPECIFIED), as the API's default.
    protocol: protocolRead ? (esp ? IpProtocol.IP_PROTOCOL_ESP : IpProtocol.IP_PROTOCOL_UNSPECIFIED) : undefined,
  };
  const { interface: name, group, port, source, vlan } = fields;
  const vlanRead = record.vlan === undefined || vlan !== undefined;
  if (name === undefined || group === undefined || port === undefined || source === undefined || !vlanRead || !protocolRead) return { fields, esp };
  return { fields, complete: { interface: name, group, port, source, vlan, protocol: fields.protocol ?? IpProtocol.IP_PROTOCOL_UNSPECIFIED }, esp };
}

/**
 * The `port` of an input or output: required in a UDP rule; in an ESP rule (`esp`) none may be
 * given, and it is 0 (unset). With the rule's protocol unread (`esp` undefined) a port is read if
 * given, and its absence is no problem of its own.
 */
function readPort(record: Record<string, unknown>, field: string, esp: boolean | undefined, reader: Reader): number | undefined {
  if (esp === true) {
    if (record.port === undefined) return 0;
    return reader.problem(memberPath(field, 'port'), `must be left out in an ESP rule (protocol ${JSON.stringify(PROTOCOL_ESP)}): ESP has no port, got ${describe(record.port)}`);
  }
  if (esp === undefined && record.port === undefined) return undefined;
  return reader.required(record, 'port', field, (v, at) => reader.number(v, at));
}

/** The outputs, each with the fields that could be read (undefined for one that is not an object). */
function readOutputs(value: unknown, field: string, esp: boolean | undefined, defaults: OutputDefaults, reader: Reader): Array<Partial<Output> | undefined> | undefined {
  const list = reader.array(value, field);
  return list?.map((item, index) => readOutput(item, elementPath(field, index), esp, defaults, reader));
}

/** An output of a rule that relays ESP (`esp`), UDP, or (undefined) a protocol that could not be read. */
function readOutput(value: unknown, field: string, esp: boolean | undefined, defaults: OutputDefaults, reader: Reader): Partial<Output> | undefined {
  const record = reader.object(value, field, OUTPUT_KEYS);
  if (!record) return undefined;
  const ttl = record.ttl === undefined ? defaults.ttl : readTtl(record.ttl, memberPath(field, 'ttl'), reader);
  const oversize = record.oversize === undefined ? defaults.oversize : readOversize(record.oversize, memberPath(field, 'oversize'), reader);
  return {
    interface: reader.required(record, 'interface', field, (v, at) => reader.string(v, at)),
    address: reader.required(record, 'address', field, (v, at) => reader.string(v, at)),
    port: readPort(record, field, esp, reader),
    source: record.source === undefined ? '' : reader.string(record.source, memberPath(field, 'source')),
    ttl: ttl === TTL_DECREMENT ? undefined : ttl,
    dscp: record.dscp === undefined ? defaults.dscp : reader.number(record.dscp, memberPath(field, 'dscp')),
    // Fixed is written as unset (TTL_POLICY_UNSPECIFIED), as the API's default.
    ttlPolicy: ttl === TTL_DECREMENT ? TtlPolicy.TTL_POLICY_DECREMENT : TtlPolicy.TTL_POLICY_UNSPECIFIED,
    preserveTos: record.preserveTos === undefined ? defaults.preserveTos : reader.boolean(record.preserveTos, memberPath(field, 'preserveTos')),
    // "fragment" is written as unset (OVERSIZE_POLICY_UNSPECIFIED), as the API's default.
    oversize: oversize === OVERSIZE_DROP ? OversizePolicy.OVERSIZE_POLICY_DROP : OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED,
  };
}

/**
 * An output's `ttl`: 1-255 or "decrement". Checked here rather than left to the rule validation (as
 * the other numbers are) so that the problem names both forms.
 */
function readTtl(value: unknown, field: string, reader: Reader): number | typeof TTL_DECREMENT | undefined {
  return value === TTL_DECREMENT ? TTL_DECREMENT : reader.integer(value, field, TTL_RANGE, ` or ${JSON.stringify(TTL_DECREMENT)}`);
}

/** An output's `oversize`: one of the words, checked here since the API's field is an enum. */
function readOversize(value: unknown, field: string, reader: Reader): OversizeWord | undefined {
  if (isOversizeWord(value)) return value;
  return reader.problem(field, `must be ${OVERSIZE_WORDS.map((word) => JSON.stringify(word)).join(' or ')}, got ${describe(value)}`);
}

/** An input's `protocol`: one of the words, checked here since the API's field is an enum. */
function readProtocol(value: unknown, field: string, reader: Reader): ProtocolWord | undefined {
  if (isProtocolWord(value)) return value;
  return reader.problem(field, `must be ${PROTOCOL_WORDS.map((word) => JSON.stringify(word)).join(' or ')}, got ${describe(value)}`);
}
