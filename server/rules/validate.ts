/**
 * Validation of a rule definition (DESIGN.md §3). Every error is a RuleError (errors.ts) whose field is the path
 * of the offending value inside the request, e.g. `rule.outputs[1].port`.
 */
import type { Input, Output, Rule } from '../../gen/mcr/v1/rules';
import { IpProtocol, OversizePolicy, TtlPolicy } from '../../gen/mcr/v1/rules';
import { exhausted, invalid, quote, RuleError, violationsError } from './errors';
import { IPV4_ANY, IPV4_BROADCAST, isMulticast, isUnicast, isValidInterfaceName, parseIPv4 } from '../formats/addresses';
import { inputDestination, relaysEsp } from '../formats/input-protocol';

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
/** 802.1Q VLAN IDs a rule may name: 0 (priority tagging, no VLAN) and 4095 (reserved) are not VLANs. */
export const VLAN_RANGE = { min: 1, max: 4094 } as const;
/** The values a port (of the input or an output) of a UDP rule may take. */
const PORT_RANGE = { min: 1, max: 65535 } as const;

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

/**
 * Every violation of `draft`, in field order (id, name, input, then each output), as RuleErrors
 * naming their field. With `absent: 'required'` (a request) a missing input, output list or output
 * is a violation; with 'unread' (see RuleDraft) it is skipped. The first violation is the one
 * validateRuleDefinition throws (with all of them in its details). Checks that compare parts (an output sending to the input, two
 * outputs alike) are made between parts that are themselves valid, so each problem is named once.
 *
 * Each check returns what is wrong (undefined: nothing), and a field's path and error are built only
 * then: a valid rule of 64 outputs costs the list returned and the duplicate check's keys, no more
 * (this runs for every rule written).
 */
export function ruleViolations(draft: RuleDraft, limits: RuleLimits, field = 'rule', absent: 'required' | 'unread' = 'required'): RuleError[] {
  const violations: RuleError[] = [];
  if (draft.id !== undefined) report(violations, identifierProblem(draft.id), field, 'id');
  if (draft.name !== undefined) report(violations, identifierProblem(draft.name), field, 'name');
  let input: Input | undefined;
  if (draft.input !== undefined || absent === 'required') {
    const before = violations.length;
    inputViolations(draft.input, field, violations);
    const { interface: name, group, port, source, protocol } = draft.input ?? {};
    if (violations.length === before && name !== undefined && group !== undefined && port !== undefined) {
      input = { interface: name, group, port, source: source ?? '', protocol: protocol ?? 0 };
    }
  }
  // An ESP rule's outputs name no port; an unread input is taken for UDP (what its outputs then
  // need is a port, as before ESP).
  const esp = relaysEsp(draft.input);
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
    if (!output && absent === 'unread') return;
    const before = violations.length;
    outputViolations(output, field, index, esp, violations);
    if (violations.length > before || output?.interface === undefined || output.address === undefined || output.port === undefined) return;
    const { interface: name, address, port } = output;
    if (input && name === input.interface && address === input.group && port === input.port) {
      violations.push(invalid(outputField(field, index), `sends to the rule's own input ${input.interface} ${inputDestination(input)}, which would loop`));
      return;
    }
    const key = `${name}|${address}|${port}`;
    const first = seen.get(key);
    const destination = esp ? address : `${address}:${port}`;
    if (first !== undefined) violations.push(invalid(outputField(field, index), `duplicates ${outputField(field, first)} (${name} ${destination})`));
    else seen.set(key, index);
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
    input: { interface: input.interface, group: input.group, port: input.port, source: input.source, vlan: input.vlan, protocol: input.protocol },
    outputs: rule.outputs.map((o) => ({
      interface: o.interface,
      address: o.address,
      port: o.port,
      ttl: o.ttl,
      dscp: o.dscp,
      ttlPolicy: o.ttlPolicy,
      preserveTos: o.preserveTos,
      oversize: o.oversize,
      source: o.source,
    })),
    generation: 0n,
    status: undefined,
    createdUnixNanos: 0n,
    updatedUnixNanos: 0n,
  };
}

/** Adds the violation of `${field}.${leaf}` when there is a `problem`: its path is built only then. */
function report(violations: RuleError[], problem: string | undefined, field: string, leaf: string): void {
  if (problem !== undefined) violations.push(invalid(`${field}.${leaf}`, problem));
}

/** report() for a field of output `index` of the rule at `field`. */
function reportOutput(violations: RuleError[], problem: string | undefined, field: string, index: number, leaf: string): void {
  if (problem !== undefined) report(violations, problem, outputField(field, index), leaf);
}

/** The path of output `index` of the rule at `field`. */
function outputField(field: string, index: number): string {
  return `${field}.outputs[${index}]`;
}

/** Adds a violation to `violations` for each field of the input at `${field}.input` that is not valid (unread fields are skipped). */
function inputViolations(input: Partial<Input> | undefined, field: string, violations: RuleError[]): void {
  if (!input) return void violations.push(invalid(`${field}.input`, 'required'));
  const { interface: name, group, port, source, vlan, protocol } = input;
  if (name !== undefined) report(violations, interfaceProblem(name), field, 'input.interface');
  if (group !== undefined) report(violations, groupProblem(group), field, 'input.group');
  if (protocol !== undefined && !(protocol in KNOWN_PROTOCOLS)) {
    report(violations, `${protocol} is not an IpProtocol (IP_PROTOCOL_UDP = 1, IP_PROTOCOL_ESP = 2)`, field, 'input.protocol');
  }
  if (port !== undefined) report(violations, portProblem(port, relaysEsp(input)), field, 'input.port');
  if (source !== undefined && source !== '') report(violations, sourceProblem(source), field, 'input.source');
  if (vlan !== undefined) report(violations, vlanProblem(vlan), field, 'input.vlan');
}

/** Adds a violation to `violations` for each field of output `index` that is not valid (unread fields are skipped). */
function outputViolations(output: Partial<Output> | undefined, field: string, index: number, esp: boolean, violations: RuleError[]): void {
  if (!output) return void violations.push(invalid(outputField(field, index), 'required'));
  const { interface: name, address, port, ttl, dscp, ttlPolicy, oversize, source } = output;
  if (name !== undefined) reportOutput(violations, interfaceProblem(name), field, index, 'interface');
  if (address !== undefined) reportOutput(violations, destinationProblem(address), field, index, 'address');
  if (port !== undefined) reportOutput(violations, portProblem(port, esp), field, index, 'port');
  if (ttl !== undefined) reportOutput(violations, rangeProblem(ttl, TTL_RANGE), field, index, 'ttl');
  if (dscp !== undefined) reportOutput(violations, rangeProblem(dscp, DSCP_RANGE), field, index, 'dscp');
  if (ttlPolicy !== undefined && !(ttlPolicy in KNOWN_TTL_POLICIES)) {
    reportOutput(violations, `${ttlPolicy} is not a TtlPolicy (TTL_POLICY_FIXED = 1, TTL_POLICY_DECREMENT = 2)`, field, index, 'ttl_policy');
  } else if (ttlPolicy === TtlPolicy.TTL_POLICY_DECREMENT && ttl !== undefined) {
    const problem = `set to ${ttl} with ttl_policy TTL_POLICY_DECREMENT: a decremented TTL is the received one minus 1; leave ttl unset`;
    reportOutput(violations, problem, field, index, 'ttl');
  }
  if (source !== undefined && source !== '') reportOutput(violations, sourceProblem(source), field, index, 'source');
  if (oversize !== undefined && !(oversize in KNOWN_OVERSIZE_POLICIES)) {
    reportOutput(violations, `${oversize} is not an OversizePolicy (OVERSIZE_POLICY_FRAGMENT = 1, OVERSIZE_POLICY_DROP = 2)`, field, index, 'oversize');
  }
}

/** The TtlPolicy values a request may carry (the decoder keeps any number it is sent). */
const KNOWN_TTL_POLICIES: Readonly<Record<number, true>> = {
  [TtlPolicy.TTL_POLICY_UNSPECIFIED]: true,
  [TtlPolicy.TTL_POLICY_FIXED]: true,
  [TtlPolicy.TTL_POLICY_DECREMENT]: true,
};

/** The IpProtocol values a request may carry. */
const KNOWN_PROTOCOLS: Readonly<Record<number, true>> = {
  [IpProtocol.IP_PROTOCOL_UNSPECIFIED]: true,
  [IpProtocol.IP_PROTOCOL_UDP]: true,
  [IpProtocol.IP_PROTOCOL_ESP]: true,
};

/** The OversizePolicy values a request may carry. */
const KNOWN_OVERSIZE_POLICIES: Readonly<Record<number, true>> = {
  [OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED]: true,
  [OversizePolicy.OVERSIZE_POLICY_FRAGMENT]: true,
  [OversizePolicy.OVERSIZE_POLICY_DROP]: true,
};

/** Optional identifier: empty, or matching IDENTIFIER. */
function identifierProblem(value: string): string | undefined {
  return value !== '' && !IDENTIFIER.test(value) ? `${quote(value)} ${IDENTIFIER_RULE}` : undefined;
}

function interfaceProblem(name: string): string | undefined {
  if (name === '') return 'required: an interface name';
  if (!isValidInterfaceName(name)) return `${quote(name)} is not a valid interface name (1-15 bytes, no "/", ":" or spaces, not "." or "..")`;
  return undefined;
}

function groupProblem(group: string): string | undefined {
  const value = parseIPv4(group);
  if (value === undefined) return addressSyntaxProblem(group);
  return isMulticast(value) ? undefined : `${group} is not a multicast group (224.0.0.0/4)`;
}

function sourceProblem(source: string): string | undefined {
  const value = parseIPv4(source);
  if (value === undefined) return addressSyntaxProblem(source);
  return isUnicast(value) ? undefined : `${source} is not a unicast address (not multicast, 0.0.0.0 or 255.255.255.255)`;
}

function destinationProblem(address: string): string | undefined {
  const value = parseIPv4(address);
  if (value === undefined) return addressSyntaxProblem(address);
  return value === IPV4_ANY || value === IPV4_BROADCAST ? `${address} cannot be a destination` : undefined;
}

/** What is wrong with an address parseIPv4 refused. */
function addressSyntaxProblem(text: string): string {
  return text === '' ? 'required: an IPv4 address' : `${quote(text)} is not an IPv4 address in dotted-quad form (e.g. 239.1.2.3)`;
}

function vlanProblem(vlan: number): string | undefined {
  const problem = rangeProblem(vlan, VLAN_RANGE);
  return problem && `${problem} (0 is priority tagging without a VLAN, 4095 is reserved)`;
}

/** A UDP port (1-65535), or none (0, unset) in an ESP rule. */
function portProblem(port: number, esp: boolean): string | undefined {
  if (!esp) return rangeProblem(port, PORT_RANGE);
  return port === 0 ? undefined : `must be unset in an ESP rule (input.protocol IP_PROTOCOL_ESP): ESP has no port, got ${port}`;
}

function rangeProblem(value: number, range: { readonly min: number; readonly max: number }): string | undefined {
  const { min, max } = range;
  return Number.isInteger(value) && value >= min && value <= max ? undefined : `must be ${min}-${max}, got ${value}`;
}
