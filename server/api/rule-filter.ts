/**
 * RuleFilter (ListRules, GetStats, WatchStats): checked once per request, every violation named
 * (`filter.group_prefix: ...`), then applied as a predicate. Every field set must hold.
 */
import { Rule, RuleFilter, RuleState } from '../../gen/mcr/v1/rules';
import { formatIPv4, isValidInterfaceName, MAX_INTERFACE_NAME_BYTES, parseIPv4 } from '../formats/addresses';
import { ApiError, invalid, quote, violationsError } from './errors';

/** What a rule is matched on: its definition and its state now. */
export type RuleMatcher = (rule: Rule, state: () => RuleState) => boolean;

/** States a rule can be in (VALIDATED is only ever an answer to a request that changes nothing). */
const SELECTABLE_STATES: readonly RuleState[] = [
  RuleState.RULE_STATE_ACTIVE,
  RuleState.RULE_STATE_WAITING_FOR_INTERFACE,
  RuleState.RULE_STATE_INTERFACE_DOWN,
  RuleState.RULE_STATE_ERROR,
];

/** The longest name prefix: a name is at most 63 characters. */
const MAX_NAME_PREFIX = 63;

interface Prefix {
  network: number;
  mask: number;
}

/** "239.1.0.0/16" or a bare address (/32), without host bits; a violation's description otherwise. */
export function parseGroupPrefix(text: string): Prefix | string {
  const [address, length, ...rest] = text.split('/');
  if (rest.length > 0) return `${quote(text)} is not an IPv4 prefix: expected ADDRESS/LENGTH, e.g. 239.1.0.0/16`;
  const network = parseIPv4(address);
  if (network === undefined) return `${quote(text)} is not an IPv4 prefix: ${quote(address)} is not a dotted-quad address (e.g. 239.1.0.0/16)`;
  let bits = 32;
  if (length !== undefined) {
    if (!/^(0|[1-9][0-9]?)$/.test(length) || Number(length) > 32) return `${quote(text)}: the prefix length must be 0-32, got ${quote(length)}`;
    bits = Number(length);
  }
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  if (((network & ~mask) >>> 0) !== 0) {
    return `${quote(text)} has host bits set: did you mean ${formatIPv4((network & mask) >>> 0)}/${bits}?`;
  }
  return { network, mask };
}

function filterViolations(filter: RuleFilter, field: string): ApiError[] {
  const violations: ApiError[] = [];
  if (filter.inputInterface !== '' && !isValidInterfaceName(filter.inputInterface)) {
    violations.push(invalid(`${field}.input_interface`, `${quote(filter.inputInterface)} is not an interface name (1-${MAX_INTERFACE_NAME_BYTES} bytes, no "/", ":" or white space)`));
  }
  if (filter.groupPrefix !== '') {
    const prefix = parseGroupPrefix(filter.groupPrefix);
    if (typeof prefix === 'string') violations.push(invalid(`${field}.group_prefix`, prefix));
  }
  filter.states.forEach((state, i) => {
    if (!SELECTABLE_STATES.includes(state)) {
      const known = SELECTABLE_STATES.map((s) => RuleState[s]).join(', ');
      violations.push(invalid(`${field}.states[${i}]`, `${RuleState[state] ?? state} is not a state a rule can be in: one of ${known}`));
    }
  });
  if (filter.namePrefix.length > MAX_NAME_PREFIX || !/^[A-Za-z0-9._-]*$/.test(filter.namePrefix)) {
    violations.push(invalid(`${field}.name_prefix`, `${quote(filter.namePrefix)} is no rule name's start: names are up to 63 of A-Z a-z 0-9 . _ -`));
  }
  return violations;
}

/** The filter's fields as the query they select (for page token fingerprints). */
export function filterQuery(filter: RuleFilter | undefined): RuleFilter {
  return RuleFilter.fromPartial({ ...filter, states: [...new Set(filter?.states ?? [])].sort((a, b) => a - b) });
}

/**
 * The predicate of `filter` (undefined = every rule), or INVALID_ARGUMENT listing every violation,
 * each under `field` (the request field that holds the filter).
 */
export function ruleMatcher(filter: RuleFilter | undefined, field = 'filter'): RuleMatcher {
  if (!filter) return () => true;
  const violations = filterViolations(filter, field);
  if (violations.length > 0) throw violationsError(violations, 'INVALID_REQUEST');
  const tests: RuleMatcher[] = [];
  if (filter.inputInterface !== '') tests.push((rule) => rule.input?.interface === filter.inputInterface);
  if (filter.groupPrefix !== '') {
    const { network, mask } = parseGroupPrefix(filter.groupPrefix) as Prefix;
    tests.push((rule) => {
      const group = parseIPv4(rule.input?.group ?? '');
      return group !== undefined && ((group & mask) >>> 0) === network;
    });
  }
  if (filter.namePrefix !== '') tests.push((rule) => rule.name !== '' && rule.name.startsWith(filter.namePrefix));
  // Last: a rule's state is the one test that is not read from the rule itself.
  if (filter.states.length > 0) {
    const states = new Set(filter.states);
    tests.push((_rule, state) => states.has(state()));
  }
  return (rule, state) => tests.every((test) => test(rule, state));
}
