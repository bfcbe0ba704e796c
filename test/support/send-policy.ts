/** The send policy of a test's egress socket opened with ttl 64 and tos 0: every packet leaves with those. */
import type { SenderPolicy } from '../../native';

export const FIXED_SEND_POLICY: SenderPolicy = { ttl: 64, tos: 0, keepTos: 0, decrementTtl: false, dontFragment: false };

/** addSender's MTU for a sender whose interface MTU the test leaves unknown: nothing counts as fragmented. */
export const UNKNOWN_MTU = 0;
