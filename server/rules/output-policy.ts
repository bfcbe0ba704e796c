/**
 * An output's policies by meaning, the unset value being the default: what the planner sends by and
 * what comparisons of definitions (sameDefinition, outputIdentity) hold equal.
 */
import type { Output } from '../../gen/mcr/v1/rules';
import { OversizePolicy, TtlPolicy } from '../../gen/mcr/v1/rules';

/** Each packet leaves with its received TTL - 1 (TTL_POLICY_DECREMENT), not a fixed TTL (unset, FIXED). */
export function decrementsTtl(output: Partial<Pick<Output, 'ttlPolicy'>>): boolean {
  return output.ttlPolicy === TtlPolicy.TTL_POLICY_DECREMENT;
}

/** The received TOS byte is kept (unset: true). */
export function preservesTos(output: Partial<Pick<Output, 'preserveTos'>>): boolean {
  return output.preserveTos ?? true;
}

/** What the interface's MTU cannot carry in one packet is not sent (OVERSIZE_POLICY_DROP), not fragmented (unset, FRAGMENT). */
export function dropsOversize(output: Partial<Pick<Output, 'oversize'>>): boolean {
  return output.oversize === OversizePolicy.OVERSIZE_POLICY_DROP;
}
