/**
 * Rule identity. Two rules may not capture the same thing, so the match key (input interface, group,
 * port, source) identifies a rule; the default id is derived from it, so the same configuration gets
 * the same ids on every host and after every restart (docs/decisions/0004-rule-ids-and-placement.md).
 */
import { hash } from 'crypto';

import type { Input } from '../../gen/mcr/v1/rules';
import { flatJoin } from '../formats/flat-string';

/**
 * Canonical "interface|group|port|source" (source empty for any source), and "|vlan" when the input
 * names a VLAN: rules without one keep the ids they had before VLANs could be named.
 */
export function matchKey(input: Input): string {
  const key = flatJoin([input.interface, input.group, input.port, input.source], '|');
  return input.vlan === undefined ? key : flatJoin([key, input.vlan], '|');
}

/** "r-" and the first 12 hex digits of sha256(matchKey(input)). */
export function deriveRuleId(input: Input): string {
  return 'r-' + hash('sha256', matchKey(input), 'hex').slice(0, 12);
}
