/**
 * The rules the control-plane section installs: rule i captures group 239.0.0.0 + 1 + i, port 5000 on
 * in0 and sends it to the same group and port on out1..outK, named "cp-i" (deletes and the one-rule
 * diff refer to it by name). Deterministic, so that a one-rule diff
 * and a re-created rule are the same definitions every run (pure: unit-tested).
 */
import type { DeepPartial, Rule } from '../../gen/mcr/v1/rules';

export const INPUT_IFNAME = 'in0';
export const PORT = 5000;
/** The port rule 0's outputs are moved to in the one-rule diff. */
export const DIFF_PORT = 5001;
const GROUP_BASE = 239 * 2 ** 24;
/** 239.0.0.0/8 minus the first and last address. */
export const MAX_RULES = 2 ** 24 - 2;

export function outputIfname(k: number): string {
  return `out${k}`;
}

export function groupOf(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= MAX_RULES) throw new RangeError(`rule index ${i} is not 0..${MAX_RULES - 1}`);
  const value = GROUP_BASE + 1 + i;
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

export function nameOf(i: number): string {
  return `cp-${i}`;
}

/** Rule i of a set with `outputs` outputs; `outputPort` moves its outputs to another port. */
export function ruleAt(i: number, outputs: number, outputPort = PORT): DeepPartial<Rule> {
  const group = groupOf(i);
  return {
    name: nameOf(i),
    input: { interface: INPUT_IFNAME, group, port: PORT },
    outputs: Array.from({ length: outputs }, (_, k) => ({ interface: outputIfname(k + 1), address: group, port: outputPort })),
  };
}

/** Rules 0..count-1. */
export function ruleSet(count: number, outputs: number): DeepPartial<Rule>[] {
  return Array.from({ length: count }, (_, i) => ruleAt(i, outputs));
}

/** The same set with rule 0's outputs moved to DIFF_PORT: one changed rule. */
export function ruleSetWithOneChange(count: number, outputs: number): DeepPartial<Rule>[] {
  const rules = ruleSet(count, outputs);
  rules[0] = ruleAt(0, outputs, DIFF_PORT);
  return rules;
}
