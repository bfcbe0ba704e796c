/**
 * The rule store on disk: one JSON document,
 *   {"format": "mcr-rules", "version": 1, "generation": "N", "rules": [Rule.toJSON(...), ...]}
 * with rules sorted by id and without their status (which is runtime state).
 *
 * Reading is strict: a file that is not exactly a valid store is reported as corrupt, never
 * replaced and never read as empty, so a damaged file cannot silently lose every rule.
 */
import { promises as fs } from 'fs';

import { Rule } from '../../gen/mcr/v1/rules';
import { ApiError } from '../api/errors';
import { writeFileAtomic } from './atomic-file';
import { RuleSet } from './rule-set';
import { RuleLimits, validateRuleDefinition } from './validate';

export const STORE_FORMAT = 'mcr-rules';
export const STORE_VERSION = 1;
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


export function encodeStore(contents: StoreContents): string {
  const document = {
    format: STORE_FORMAT,
    version: STORE_VERSION,
    generation: contents.generation.toString(),
    rules: contents.rules.sorted().map((rule) => Rule.toJSON({ ...rule, status: undefined })),
  };
  return JSON.stringify(document, null, 2) + '\n';
}

export function writeStore(file: string, contents: StoreContents): Promise<void> {
  return writeFileAtomic(file, encodeStore(contents), STORE_FILE_MODE);
}

/** The store in `file`: empty when there is no file; StoreCorruptError when it is not valid. */
export async function readStore(file: string, limits: RuleLimits): Promise<StoreContents> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { generation: 0n, rules: RuleSet.empty() };
    throw err;
  }
  try {
    return decodeStore(text, limits);
  } catch (err) {
    if (err instanceof StoreProblem) throw new StoreCorruptError(file, err.message);
    throw err;
  }
}

class StoreProblem extends Error {}

function decodeStore(text: string, limits: RuleLimits): StoreContents {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new StoreProblem(`not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(document)) throw new StoreProblem('not a JSON object');
  if (document.format !== STORE_FORMAT) throw new StoreProblem(`format is ${JSON.stringify(document.format)}, expected "${STORE_FORMAT}"`);
  if (document.version !== STORE_VERSION) throw new StoreProblem(`version is ${JSON.stringify(document.version)}, expected ${STORE_VERSION}`);
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
  return { generation, rules };
}

function decodeRule(entry: unknown, field: string, limits: RuleLimits): Rule {
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
    if (err instanceof ApiError) throw new StoreProblem(err.message);
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
