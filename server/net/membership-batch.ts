/**
 * One batch of membership steps (joins, leaves, closes of membership sockets) handed to the addon,
 * which runs them in order on a background thread (docs/decisions/0045), and what each step did.
 */
import type { MembershipFailure, Native } from '../../native';
import { MEMBERSHIP_OP_WORDS, MEMBERSHIP_OP_WORDS_IPV6, MembershipOpKind } from '../../native';
import { isMulticast, isUnicast, parseIPv4 } from '../formats/addresses';
import { familyOfText, type IpFamily } from '../formats/ip-address';
import { ipv6Words, isMulticast6, isUnspecified6, parseIPv6 } from '../formats/ipv6';

/**
 * A group membership a rule needs: joined on its input interface (source-specific when source is set).
 * Group and source are IPv4 (dotted quads) or IPv6 (RFC 5952 text) addresses, both of one family.
 */
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

/** The membership's family: its group's. */
export function familyOf(membership: Membership): IpFamily {
  return familyOfText(membership.group);
}

/** How a step is named in its failure: as joinGroup/leaveGroup/closeFd name it. */
function describe(step: MembershipStep): string {
  if (step.kind === 'close') return `closeFd (fd ${step.fd})`;
  const { group, ifindex, source } = step.membership;
  return `${step.kind}Group (${source ? `${source}, ` : ''}${group} on ifindex ${ifindex})`;
}

/** Words the step takes in a batch: an IPv4 step 5, an IPv6 one 11 (its addresses in 4 words each). */
function wordsOf(step: MembershipStep): number {
  return step.kind !== 'close' && familyOf(step.membership) === 6 ? MEMBERSHIP_OP_WORDS_IPV6 : MEMBERSHIP_OP_WORDS;
}

/**
 * Writes the step's words ([kind, fd, group, ifindex, source]) at `words[at]` and returns how many,
 * or says why the addon would refuse it as malformed: such a step fails alone, the others of its
 * batch run.
 */
function encodeStep(step: MembershipStep, words: Uint32Array, at: number): number | string {
  const { fd } = step;
  if (!Number.isInteger(fd) || fd < 0 || fd > INT_MAX) return `fd ${fd} is not a file descriptor`;
  if (step.kind === 'close') {
    words.set([MembershipOpKind.close, fd, 0, 0, 0], at);
    return MEMBERSHIP_OP_WORDS;
  }
  const { group, ifindex, source } = step.membership;
  if (!Number.isInteger(ifindex) || ifindex < 1 || ifindex > INT_MAX) return `ifindex ${ifindex} is not an interface index`;
  const kind = MembershipOpKind[step.kind];
  if (familyOf(step.membership) === 4) {
    const groupValue = parseIPv4(group);
    if (groupValue === undefined || !isMulticast(groupValue)) return `group ${JSON.stringify(group)} is not an IPv4 multicast address`;
    const sourceValue = source ? parseIPv4(source) : 0;
    if (sourceValue === undefined || (source && !isUnicast(sourceValue))) return `source ${JSON.stringify(source)} is not a unicast IPv4 address`;
    words[at] = kind;
    words[at + 1] = fd;
    words[at + 2] = groupValue;
    words[at + 3] = ifindex;
    words[at + 4] = sourceValue;
    return MEMBERSHIP_OP_WORDS;
  }
  const groupBytes = parseIPv6(group);
  if (groupBytes === undefined || !isMulticast6(groupBytes)) return `group ${JSON.stringify(group)} is not an IPv6 multicast address`;
  // A source is unicast: neither multicast nor :: (which stands for any source).
  const sourceBytes = source ? parseIPv6(source) : undefined;
  if (source && (sourceBytes === undefined || isMulticast6(sourceBytes) || isUnspecified6(sourceBytes))) {
    return `source ${JSON.stringify(source)} is not a unicast IPv6 address`;
  }
  words[at] = kind | MembershipOpKind.ipv6;
  words[at + 1] = fd;
  ipv6Words(groupBytes, words, at + 2);
  words[at + 6] = ifindex;
  if (sourceBytes) ipv6Words(sourceBytes, words, at + 7);
  else words.fill(0, at + 7, at + 11); // any source
  return MEMBERSHIP_OP_WORDS_IPV6;
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
  let length = 0;
  for (const step of steps) length += wordsOf(step);
  const words = new Uint32Array(length);
  let at = 0;
  steps.forEach((step, i) => {
    const encoded = encodeStep(step, words, at);
    if (typeof encoded === 'string') {
      results[i] = { code: 'EINVAL', message: `${describe(step)}: ${encoded}` };
      return;
    }
    at += encoded;
    sent.push(i);
  });
  if (sent.length === 0) return results;
  const { failures } = await addon.applyMemberships(words.subarray(0, at));
  for (const { index, code, message } of failures) results[sent[index]] = { code, message };
  return results;
}
