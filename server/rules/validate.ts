/**
 * Validation of a rule definition (DESIGN.md §3). Every error is a RuleError (errors.ts) whose field is the path
 * of the offending value inside the request, e.g. `rule.outputs[1].port`.
 */
import type { Input, Output, Rule } from '../../gen/mcr/v1/rules';
import { exhausted, invalid, quote, RuleError, violationsError } from './errors';
import { IPV4_ANY, IPV4_BROADCAST, isMulticast, isUnicast, isValidInterfaceName, parseIPv4 } from '../formats/addresses';

export interface RuleLimits {
  /** Rules in the store. */
  maxRules: number;
  /** Outputs of one rule. */
  maxOutputsPerRule: number;
}

/** The defaults of --max-rules and --max-outputs-per-rule (config/limits.ts). */
export const DEFAULT_RULE_LIMITS: RuleLimits = { maxRules: 100_000, maxOutputsPerRule: 64 };

/** The values an output's ttl and dscp may take. */
export const TTL_RANGE = { min: 1, max: 255 } as const;
export const DSCP_RANGE = { min: 0, max: 63 } as const;

/** Rule ids and names: a letter or digit, then up to 62 letters, digits, '.', '_' or '-'. */
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const IDENTIFIER_RULE = 'must be 1-63 characters: a letter or digit, then letters, digits, ".", "_" or "-"';

/**
 * A rule definition whose parts were read one by one (a config file): a part or field left
 * undefined could not be read, its reader has said why, and it is not checked again.
 */
export interface RuleDraft {
  id?: string;
  name?: string;
  input?: Partial<Input>;
  outputs?: ReadonlyArray<Partial<Output> | undefined>;
}

/** Runs `check`; an RuleError it throws goes to `violations`. Returns whether it passed. */
function collect(violations: RuleError[], check: () => void): boolean {
  try {
    check();
    return true;
  } catch (err) {
    if (!(err instanceof RuleError)) throw err;
    violations.push(err);
    return false;
  }
}

/**
 * Every violation of `draft`, in field order (id, name, input, then each output), as RuleErrors
 * naming their field. With `absent: 'required'` (a request) a missing input, output list or output
 * is a violation; with 'unread' (see RuleDraft) it is skipped. The first violation is the one
 * validateRuleDefinition throws (with all of them in its details). Checks that compare parts (an output sending to the input, two
 * outputs alike) are made between parts that are themselves valid, so each problem is named once.
 */
export function ruleViolations(draft: RuleDraft, limits: RuleLimits, field = 'rule', absent: 'required' | 'unread' = 'required'): RuleError[] {
  const violations: RuleError[] = [];
  if (draft.id !== undefined) collect(violations, () => checkIdentifier(draft.id!, `${field}.id`));
  if (draft.name !== undefined) collect(violations, () => checkIdentifier(draft.name!, `${field}.name`));
  let input: Input | undefined;
  if (draft.input !== undefined || absent === 'required') {
    const before = violations.length;
    inputViolations(draft.input, `${field}.input`, violations);
    const { interface: name, group, port, source } = draft.input ?? {};
    if (violations.length === before && name !== undefined && group !== undefined && port !== undefined) {
      input = { interface: name, group, port, source: source ?? '' };
    }
  }
  const outputs = draft.outputs;
  if (outputs === undefined || outputs.length === 0) {
    if (outputs !== undefined || absent === 'required') violations.push(invalid(`${field}.outputs`, 'at least one output is required'));
    return violations;
  }
  if (outputs.length > limits.maxOutputsPerRule) {
    // Beyond the limit the outputs are not looked at one by one.
    violations.push(exhausted(`${field}.outputs`, `${outputs.length} outputs, more than the limit of ${limits.maxOutputsPerRule} per rule`, '--max-outputs-per-rule'));
    return violations;
  }
  const seen = new Map<string, number>();
  outputs.forEach((output, index) => {
    const at = `${field}.outputs[${index}]`;
    if (!output && absent === 'unread') return;
    const before = violations.length;
    outputViolations(output, at, violations);
    if (violations.length > before || output?.interface === undefined || output.address === undefined || output.port === undefined) return;
    const { interface: name, address, port } = output;
    collect(violations, () => {
      if (input && name === input.interface && address === input.group && port === input.port) {
        throw invalid(at, `sends to the rule's own input ${input.interface} ${input.group}:${input.port}, which would loop`);
      }
      const key = `${name}|${address}|${port}`;
      const first = seen.get(key);
      if (first !== undefined) throw invalid(at, `duplicates ${field}.outputs[${first}] (${name} ${address}:${port})`);
      seen.set(key, index);
    });
  });
  return violations;
}

/**
 * Returns a normalized copy holding only the definition fields (id, name, input, outputs); the
 * output-only fields (generation, status, timestamps) of the request are dropped. Throws the first
 * violation ruleViolations finds, carrying every one in its details (violationsError, INVALID_RULE).
 */
export function validateRuleDefinition(rule: Rule | undefined, limits: RuleLimits, field = 'rule'): Rule {
  if (!rule) throw invalid(field, 'required');
  const violations = ruleViolations(rule, limits, field);
  if (violations.length > 0) throw violationsError(violations, 'INVALID_RULE');
  const input = rule.input!;
  return {
    id: rule.id,
    name: rule.name,
    input: { interface: input.interface, group: input.group, port: input.port, source: input.source },
    outputs: rule.outputs.map((o) => ({ interface: o.interface, address: o.address, port: o.port, ttl: o.ttl, dscp: o.dscp })),
    generation: 0n,
    status: undefined,
    createdUnixNanos: 0n,
    updatedUnixNanos: 0n,
  };
}

/** Optional identifier: empty, or matching IDENTIFIER. */
function checkIdentifier(value: string, field: string): void {
  if (value !== '' && !IDENTIFIER.test(value)) throw invalid(field, `${quote(value)} ${IDENTIFIER_RULE}`);
}

/** Adds a violation to `violations` for each field of the input that is not valid (unread fields are skipped). */
function inputViolations(input: Partial<Input> | undefined, field: string, violations: RuleError[]): void {
  if (!input) return void violations.push(invalid(field, 'required'));
  const { interface: name, group, port, source } = input;
  if (name !== undefined) collect(violations, () => checkInterface(name, `${field}.interface`));
  if (group !== undefined) {
    collect(violations, () => {
      if (!isMulticast(checkAddress(group, `${field}.group`))) throw invalid(`${field}.group`, `${group} is not a multicast group (224.0.0.0/4)`);
    });
  }
  if (port !== undefined) collect(violations, () => checkInRange(port, 1, 65535, `${field}.port`));
  if (source === undefined || source === '') return;
  collect(violations, () => {
    if (!isUnicast(checkAddress(source, `${field}.source`))) {
      throw invalid(`${field}.source`, `${source} is not a unicast address (not multicast, 0.0.0.0 or 255.255.255.255)`);
    }
  });
}

/** Adds a violation to `violations` for each field of the output that is not valid (unread fields are skipped). */
function outputViolations(output: Partial<Output> | undefined, field: string, violations: RuleError[]): void {
  if (!output) return void violations.push(invalid(field, 'required'));
  const { interface: name, address, port } = output;
  if (name !== undefined) collect(violations, () => checkInterface(name, `${field}.interface`));
  if (address !== undefined) {
    collect(violations, () => {
      const value = checkAddress(address, `${field}.address`);
      if (value === IPV4_ANY || value === IPV4_BROADCAST) throw invalid(`${field}.address`, `${address} cannot be a destination`);
    });
  }
  if (port !== undefined) collect(violations, () => checkInRange(port, 1, 65535, `${field}.port`));
  if (output.ttl !== undefined) collect(violations, () => checkInRange(output.ttl!, TTL_RANGE.min, TTL_RANGE.max, `${field}.ttl`));
  if (output.dscp !== undefined) collect(violations, () => checkInRange(output.dscp!, DSCP_RANGE.min, DSCP_RANGE.max, `${field}.dscp`));
}

function checkInterface(name: string, field: string): void {
  if (name === '') throw invalid(field, 'required: an interface name');
  if (!isValidInterfaceName(name)) {
    throw invalid(field, `${quote(name)} is not a valid interface name (1-15 bytes, no "/", ":" or spaces, not "." or "..")`);
  }
}

function checkAddress(text: string, field: string): number {
  if (text === '') throw invalid(field, 'required: an IPv4 address');
  const value = parseIPv4(text);
  if (value === undefined) throw invalid(field, `${quote(text)} is not an IPv4 address in dotted-quad form (e.g. 239.1.2.3)`);
  return value;
}

function checkInRange(value: number, min: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(field, `must be ${min}-${max}, got ${value}`);
}

