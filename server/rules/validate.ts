/**
 * Validation of a rule definition (DESIGN.md §3). Every error is an ApiError whose field is the path
 * of the offending value inside the request, e.g. `rule.outputs[1].port`.
 */
import type { Input, Output, Rule } from '../../gen/mcr/v1/rules';
import { exhausted, invalid, quote } from '../api/errors';
import { IPV4_ANY, IPV4_BROADCAST, isMulticast, isUnicast, isValidInterfaceName, parseIPv4 } from './addresses';

export interface RuleLimits {
  /** Rules in the store. */
  maxRules: number;
  /** Outputs of one rule. */
  maxOutputsPerRule: number;
}

export const DEFAULT_RULE_LIMITS: RuleLimits = { maxRules: 10_000, maxOutputsPerRule: 64 };

/** The values an output's ttl and dscp may take. */
export const TTL_RANGE = { min: 1, max: 255 } as const;
export const DSCP_RANGE = { min: 0, max: 63 } as const;

/** Rule ids and names: a letter or digit, then up to 62 letters, digits, '.', '_' or '-'. */
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const IDENTIFIER_RULE = 'must be 1-63 characters: a letter or digit, then letters, digits, ".", "_" or "-"';

/**
 * Returns a normalized copy holding only the definition fields (id, name, input, outputs); the
 * output-only fields (generation, status, timestamps) of the request are dropped. Throws ApiError.
 */
export function validateRuleDefinition(rule: Rule | undefined, limits: RuleLimits, field = 'rule'): Rule {
  if (!rule) throw invalid(field, 'required');
  checkIdentifier(rule.id, `${field}.id`);
  checkIdentifier(rule.name, `${field}.name`);
  const input = validateInput(rule.input, `${field}.input`);
  const outputs = validateOutputs(rule.outputs, input, limits, `${field}.outputs`);
  return {
    id: rule.id,
    name: rule.name,
    input,
    outputs,
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

function validateInput(input: Input | undefined, field: string): Input {
  if (!input) throw invalid(field, 'required');
  checkInterface(input.interface, `${field}.interface`);
  const group = checkAddress(input.group, `${field}.group`);
  if (!isMulticast(group)) throw invalid(`${field}.group`, `${input.group} is not a multicast group (224.0.0.0/4)`);
  checkInRange(input.port, 1, 65535, `${field}.port`);
  if (input.source !== '') {
    const source = checkAddress(input.source, `${field}.source`);
    if (!isUnicast(source)) {
      throw invalid(`${field}.source`, `${input.source} is not a unicast address (not multicast, 0.0.0.0 or 255.255.255.255)`);
    }
  }
  return { interface: input.interface, group: input.group, port: input.port, source: input.source };
}

function validateOutputs(outputs: Output[] | undefined, input: Input, limits: RuleLimits, field: string): Output[] {
  if (!outputs || outputs.length === 0) throw invalid(field, 'at least one output is required');
  if (outputs.length > limits.maxOutputsPerRule) {
    throw exhausted(field, `${outputs.length} outputs, more than the limit of ${limits.maxOutputsPerRule} per rule`);
  }
  const seen = new Map<string, number>();
  return outputs.map((output, index) => {
    const at = `${field}[${index}]`;
    const normalized = validateOutput(output, at);
    if (normalized.interface === input.interface && normalized.address === input.group && normalized.port === input.port) {
      throw invalid(at, `sends to the rule's own input ${input.interface} ${input.group}:${input.port}, which would loop`);
    }
    const key = `${normalized.interface}|${normalized.address}|${normalized.port}`;
    const first = seen.get(key);
    if (first !== undefined) {
      throw invalid(at, `duplicates ${field}[${first}] (${normalized.interface} ${normalized.address}:${normalized.port})`);
    }
    seen.set(key, index);
    return normalized;
  });
}

function validateOutput(output: Output | undefined, field: string): Output {
  if (!output) throw invalid(field, 'required');
  checkInterface(output.interface, `${field}.interface`);
  const address = checkAddress(output.address, `${field}.address`);
  if (address === IPV4_ANY || address === IPV4_BROADCAST) {
    throw invalid(`${field}.address`, `${output.address} cannot be a destination`);
  }
  checkInRange(output.port, 1, 65535, `${field}.port`);
  if (output.ttl !== undefined) checkInRange(output.ttl, TTL_RANGE.min, TTL_RANGE.max, `${field}.ttl`);
  if (output.dscp !== undefined) checkInRange(output.dscp, DSCP_RANGE.min, DSCP_RANGE.max, `${field}.dscp`);
  return { interface: output.interface, address: output.address, port: output.port, ttl: output.ttl, dscp: output.dscp };
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

