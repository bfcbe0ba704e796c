/**
 * One batch of membership steps (joins, leaves, closes of membership sockets) handed to the addon,
 * which runs them in order on a background thread (docs/decisions/0045), and what each step did.
 */
import type { MembershipFailure, Native } from '../../native';
import { MEMBERSHIP_OP_WORDS, MembershipOpKind } from '../../native';
import { isMulticast, isUnicast, parseIPv4 } from '../formats/addresses';

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

const INT_MAX = 2 ** 31 - 1;

/** How a step is named in its failure: as joinGroup/leaveGroup/closeFd name it. */
function describe(step: MembershipStep): string {
  if (step.kind === 'close') return `closeFd (fd ${step.fd})`;
  const { group, ifindex, source } = step.membership;
  return `${step.kind}Group (${source ? `${source}, ` : ''}${group} on ifindex ${ifindex})`;
}

/**
 * The step's five words ([kind, fd, group, ifindex, source]), or why the addon would refuse it as
 * malformed: such a step fails alone, the others of its batch run.
 */
function encodeStep(step: MembershipStep): number[] | string {
  if (!Number.isInteger(step.fd) || step.fd < 0 || step.fd > INT_MAX) return `fd ${step.fd} is not a file descriptor`;
  if (step.kind === 'close') return [MembershipOpKind.close, step.fd, 0, 0, 0];
  const { group, ifindex, source } = step.membership;
  const groupValue = parseIPv4(group);
  if (groupValue === undefined || !isMulticast(groupValue)) return `group ${JSON.stringify(group)} is not an IPv4 multicast address`;
  if (!Number.isInteger(ifindex) || ifindex < 1 || ifindex > INT_MAX) return `ifindex ${ifindex} is not an interface index`;
  const sourceValue = source ? parseIPv4(source) : 0;
  if (sourceValue === undefined || (source && !isUnicast(sourceValue))) return `source ${JSON.stringify(source)} is not a unicast IPv4 address`;
  return [MembershipOpKind[step.kind], step.fd, groupValue, ifindex, sourceValue];
}

/**
 * Runs `steps` in order off the event loop; resolves with each one's result, in the same order. A
 * malformed step fails with EINVAL without reaching the addon. Rejects only when the batch could
 * not run at all.
 */
export async function applySteps(addon: Native, steps: readonly MembershipStep[]): Promise<StepResult[]> {
  const results: StepResult[] = new Array<StepResult>(steps.length).fill(undefined);
  /** Index in `steps` of each step sent. */
  const sent: number[] = [];
  const words = new Uint32Array(steps.length * MEMBERSHIP_OP_WORDS);
  steps.forEach((step, i) => {
    const encoded = encodeStep(step);
    if (typeof encoded === 'string') {
      results[i] = { code: 'EINVAL', message: `${describe(step)}: ${encoded}` };
      return;
    }
    words.set(encoded, sent.length * MEMBERSHIP_OP_WORDS);
    sent.push(i);
  });
  if (sent.length === 0) return results;
  const { failures } = await addon.applyMemberships(words.subarray(0, sent.length * MEMBERSHIP_OP_WORDS));
  for (const { index, code, message } of failures) results[sent[index]] = { code, message };
  return results;
}
