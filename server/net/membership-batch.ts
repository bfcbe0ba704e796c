/**
 * One batch of membership steps (joins, leaves, closes of membership sockets) handed to the addon,
 * which runs them in order on a background thread (docs/decisions/0045), and what each step did.
 */
import type { MembershipFailure, Native } from '../../native';
import { MEMBERSHIP_OP_WORDS, MembershipOpKind } from '../../native';
import { parseIPv4 } from '../formats/addresses';

/** A group membership a rule needs: joined on its input interface (source-specific when source is set). */
export interface Membership {
  key: string;
  ifindex: number;
  group: string;
  source: string;
}

export type MembershipStep = { kind: 'join' | 'leave'; fd: number; membership: Membership } | { kind: 'close'; fd: number };

/** What a step did: undefined when done, else why not. */
export type StepResult = Pick<MembershipFailure, 'code' | 'message'> | undefined;

function address(text: string, what: string): number {
  const value = parseIPv4(text);
  if (value === undefined) throw new TypeError(`${what} ${JSON.stringify(text)} is not a dotted-quad IPv4 address`);
  return value;
}

/** The steps as applyMemberships takes them: [kind, fd, group, ifindex, source] each. */
export function encodeSteps(steps: readonly MembershipStep[]): Uint32Array {
  const words = new Uint32Array(steps.length * MEMBERSHIP_OP_WORDS);
  steps.forEach((step, i) => {
    const at = i * MEMBERSHIP_OP_WORDS;
    words[at] = MembershipOpKind[step.kind];
    words[at + 1] = step.fd;
    if (step.kind === 'close') return;
    const { group, ifindex, source } = step.membership;
    words[at + 2] = address(group, 'group');
    words[at + 3] = ifindex;
    words[at + 4] = source ? address(source, 'source') : 0;
  });
  return words;
}

/**
 * Runs `steps` in order off the event loop; resolves with each one's result, in the same order.
 * Rejects only when the batch could not run at all (a malformed step: a bug).
 */
export async function applySteps(addon: Native, steps: readonly MembershipStep[]): Promise<StepResult[]> {
  const results: StepResult[] = new Array<StepResult>(steps.length).fill(undefined);
  if (steps.length === 0) return results;
  const { failures } = await addon.applyMemberships(encodeSteps(steps));
  for (const { index, code, message } of failures) results[index] = { code, message };
  return results;
}
