/**
 * The rule store on disk (docs/decisions/0023): a snapshot, rules.json, one JSON document
 *   {"format": "mcr-rules", "version": 2, "generation": "N", "rules": [Rule.toJSON(...), ...]}
 * with rules sorted by id, one per line, without their status (which is runtime state); and beside it
 * a journal (journal.ts) of the changes since, one JSON record per change:
 *   {"generation": "N+1", "put": [Rule.toJSON(...), ...], "remove": ["id", ...]}
 * Version 1 is the same document from before the journal (pretty-printed, no journal beside it): it
 * is read, and written again as version 2 when the store opens, so that an older mcrd, which would
 * not read the journal, refuses the store instead of losing the changes in it.
 *
 * Reading is strict: a file that is not exactly a valid store is reported as corrupt, never
 * replaced and never read as empty, so a damaged file cannot silently lose every rule.
 */
import { promises as fs } from 'fs';

import { Rule } from '../../gen/mcr/v1/rules';
import { RuleError } from './errors';
import { writeFileAtomic } from '../files/atomic-file';
import { joinedByteLength, writeJoined } from '../files/joined-bytes';
import { RuleSet } from './rule-set';
import { RuleLimits, validateRuleDefinition } from './validate';

export const STORE_FORMAT = 'mcr-rules';
export const STORE_VERSION = 2;
/** The version before the journal: read, and migrated on open. */
export const STORE_VERSION_WITHOUT_JOURNAL = 1;
/** Only the supervisor reads or writes the store. */
export const STORE_FILE_MODE = 0o600;

/** The rule store file exists but cannot be used as it is. */
export class StoreCorruptError extends Error {
  constructor(
    readonly path: string,
    /** What is wrong, e.g. `rules[2].input.port: must be 1-65535, got 0`. */
    readonly problem: string,
  ) {
    super(`rule store ${path} is corrupt: ${problem} (mcrd will not overwrite it; repair it or move it away)`);
    this.name = 'StoreCorruptError';
  }
}

export interface StoreContents {
  generation: bigint;
  rules: RuleSet;
}

/** A snapshot as read: its contents, its version and its size in bytes (0 when there is no file). */
export interface Snapshot extends StoreContents {
  version: number;
  bytes: number;
}


/**
 * Characters of rules encodeStoreInSlices encodes before it lets the event loop run (about 1-2 ms of
 * work: some 60 rules of 64 outputs, 500 of 4).
 */
export const SNAPSHOT_SLICE_CHARS = 256 * 1024;

/** The snapshot of `rules` at `generation`: compact, a rule a line (a readable diff, a fast parse). */
export function encodeStore(contents: { generation: bigint; rules: Iterable<Rule> }): string {
  return assembleStore(contents.generation, [...contents.rules].map(ruleLine)).toString('utf8');
}

/** What encodeStore returns, encoded as ruleLinesInSlices does. */
export async function encodeStoreInSlices(
  contents: { generation: bigint; rules: readonly Rule[] },
  sliceChars = SNAPSHOT_SLICE_CHARS,
): Promise<string> {
  return assembleStore(contents.generation, await ruleLinesInSlices(contents.rules, sliceChars)).toString('utf8');
}

/**
 * The snapshot lines of `rules`, encoded a slice of rules at a time with a turn of the event loop
 * between slices, so that encoding megabytes never holds the loop (journal frames go on meanwhile).
 * The rules must not change until it resolves (stored rules never do: a change replaces them).
 */
async function ruleLinesInSlices(rules: readonly Rule[], sliceChars: number): Promise<string[]> {
  const lines: string[] = [];
  let sliceLength = 0;
  for (const rule of rules) {
    if (sliceLength >= sliceChars) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceLength = 0;
    }
    const line = ruleLine(rule);
    lines.push(line);
    sliceLength += line.length;
  }
  return lines;
}

/** A rule's line in the snapshot. */
function ruleLine(rule: Rule): string {
  return JSON.stringify(ruleJson(rule));
}

/**
 * The snapshot document holding `lines`, written straight into bytes: no joined copy of the lines
 * (megabytes) to be encoded again, as a string written to a file would be.
 */
function assembleStore(generation: bigint, lines: readonly string[]): Buffer {
  const head = `{"format":${JSON.stringify(STORE_FORMAT)},"version":${STORE_VERSION},"generation":${JSON.stringify(generation.toString())},"rules":[`;
  const [open, separator, close] = lines.length === 0 ? [head, '', ']}\n'] : [`${head}\n`, ',\n', '\n]}\n'];
  const bytes = Buffer.allocUnsafe(Buffer.byteLength(open) + joinedByteLength(lines, separator) + Buffer.byteLength(close));
  bytes.write(close, writeJoined(bytes, bytes.write(open), lines, separator));
  return bytes;
}

/** A stored rule as JSON: without its status (which a stored rule does not have: copied only when it does). */
function ruleJson(rule: Rule): unknown {
  return Rule.toJSON(rule.status === undefined ? rule : { ...rule, status: undefined });
}

/**
 * Writes the snapshot atomically, encoded in slices (encodeStoreInSlices); resolves to its size in
 * bytes once it is durable.
 */
export async function writeStore(file: string, contents: { generation: bigint; rules: readonly Rule[] }): Promise<number> {
  const bytes = assembleStore(contents.generation, await ruleLinesInSlices(contents.rules, SNAPSHOT_SLICE_CHARS));
  await writeFileAtomic(file, bytes, STORE_FILE_MODE);
  return bytes.length;
}

/** The snapshot in `file`: empty when there is no file; StoreCorruptError when it is not valid. */
export async function readStore(file: string, limits: RuleLimits): Promise<Snapshot> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { generation: 0n, rules: RuleSet.empty(), version: STORE_VERSION, bytes: 0 };
    throw err;
  }
  try {
    return { ...decodeStore(text, limits), bytes: Buffer.byteLength(text) };
  } catch (err) {
    if (err instanceof StoreProblem) throw new StoreCorruptError(file, err.message);
    throw err;
  }
}

/** What one journal record says: the store's generation after it, rules put in place, ids removed. */
export interface StoreChange {
  generation: bigint;
  put: Rule[];
  remove: string[];
}

/** One journal record (a single line). */
export function encodeChange(change: StoreChange): string {
  return JSON.stringify({ generation: change.generation.toString(), put: change.put.map(ruleJson), remove: change.remove });
}

/** A journal record; throws StoreProblem naming `where` when it is not a valid one. */
export function decodeChange(record: string, where: string, limits: RuleLimits): StoreChange {
  let document: unknown;
  try {
    document = JSON.parse(record);
  } catch (err) {
    throw new StoreProblem(`${where}: not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(document)) throw new StoreProblem(`${where}: not a JSON object`);
  const generation = decodeCounter(document.generation, `${where}.generation`);
  if (!Array.isArray(document.put)) throw new StoreProblem(`${where}.put is not an array`);
  if (!Array.isArray(document.remove) || !document.remove.every((id) => typeof id === 'string')) {
    throw new StoreProblem(`${where}.remove is not an array of ids`);
  }
  const put = document.put.map((entry: unknown, index: number) => decodeRule(entry, `${where}.put[${index}]`, limits));
  return { generation, put, remove: document.remove as string[] };
}

/** The generation of a journal record, without reading the rest of it (a record the snapshot has). */
export function changeGeneration(record: string, where: string): bigint {
  const match = /^\{"generation":"(0|[1-9][0-9]*)"/.exec(record);
  if (!match) return decodeChange(record, where, { maxRules: Number.MAX_SAFE_INTEGER, maxOutputsPerRule: Number.MAX_SAFE_INTEGER }).generation;
  return BigInt(match[1]);
}

/** What is wrong with a store file (the caller makes it a StoreCorruptError naming the file). */
export class StoreProblem extends Error {}

function decodeStore(text: string, limits: RuleLimits): StoreContents & { version: number } {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new StoreProblem(`not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(document)) throw new StoreProblem('not a JSON object');
  if (document.format !== STORE_FORMAT) throw new StoreProblem(`format is ${JSON.stringify(document.format)}, expected "${STORE_FORMAT}"`);
  const version = document.version;
  if (version !== STORE_VERSION && version !== STORE_VERSION_WITHOUT_JOURNAL) {
    throw new StoreProblem(`version is ${JSON.stringify(version)}, expected ${STORE_VERSION} (or ${STORE_VERSION_WITHOUT_JOURNAL}, the format before the journal)`);
  }
  const generation = decodeCounter(document.generation, 'generation');
  if (!Array.isArray(document.rules)) throw new StoreProblem('rules is not an array');
  if (document.rules.length > limits.maxRules) {
    throw new StoreProblem(`${document.rules.length} rules, more than the limit of ${limits.maxRules}`);
  }
  const rules = RuleSet.empty();
  document.rules.forEach((entry: unknown, index: number) => {
    const rule = decodeRule(entry, `rules[${index}]`, limits);
    const conflict = rules.conflict(rule, `rules[${index}]`, false);
    if (conflict) throw new StoreProblem(conflict.message);
    rules.put(rule);
  });
  return { generation, rules, version };
}

export function decodeRule(entry: unknown, field: string, limits: RuleLimits): Rule {
  if (!isObject(entry)) throw new StoreProblem(`${field} is not a JSON object`);
  let rule: Rule;
  try {
    rule = Rule.fromJSON(entry);
  } catch (err) {
    throw new StoreProblem(`${field}: ${(err as Error).message}`);
  }
  let definition: Rule;
  try {
    definition = validateRuleDefinition(rule, limits, field);
  } catch (err) {
    if (err instanceof RuleError) throw new StoreProblem(err.message);
    throw err;
  }
  if (!definition.id) throw new StoreProblem(`${field}.id: missing`);
  if (rule.generation < 1n) throw new StoreProblem(`${field}.generation: missing (stored rules start at 1)`);
  return {
    ...definition,
    generation: rule.generation,
    createdUnixNanos: rule.createdUnixNanos,
    updatedUnixNanos: rule.updatedUnixNanos,
  };
}

function decodeCounter(value: unknown, field: string): bigint {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]*)$/.test(value)) {
    throw new StoreProblem(`${field} is ${JSON.stringify(value)}, expected a decimal string`);
  }
  return BigInt(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
