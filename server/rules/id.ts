/**
 * Rule identity. Two rules may not capture the same thing, so the match key (input interface, group,
 * port, source) identifies a rule; the default id is derived from it, so the same configuration gets
 * the same ids on every host and after every restart (docs/decisions/0004-rule-ids-and-placement.md).
 */
import { hash } from 'crypto';

import type { Input } from '../../gen/mcr/v1/rules';
import { flatJoin } from '../formats/flat-string';
import { relaysEsp } from '../formats/input-protocol';

/** The fields of an input that make its match key (vlan and protocol may be absent: unset). */
export type MatchedInput = Pick<Input, 'interface' | 'group' | 'port' | 'source'> & Partial<Pick<Input, 'vlan' | 'protocol'>>;

/**
 * Canonical "interface|group|port|source" (source empty for any source; "esp" in place of the port
 * for an ESP rule), and "|vlan" when the input names a VLAN: rules without one keep the ids they had
 * before VLANs could be named, UDP rules those they had before ESP.
 */
export function matchKey(input: MatchedInput): string {
  const key = flatJoin([input.interface, input.group, relaysEsp(input) ? 'esp' : input.port, input.source], '|');
  return input.vlan === undefined ? key : flatJoin([key, input.vlan], '|');
}

/** "r-" and the first 12 hex digits of sha256(matchKey(input)). */
export function deriveRuleId(input: MatchedInput): string {
  return 'r-' + hash('sha256', matchKey(input), 'hex').slice(0, 12);
}
