/**
 * How large an answer may be, and so how many items a page may hold (docs/decisions/0030).
 *
 * mcrd never sends a message over MAX_RESPONSE_BYTES, gRPC's default receive limit in every runtime
 * (grpc-js, grpc-go as grpcurl and buf curl use it, Python grpcio): any client with default settings
 * can read any answer. The largest page of each list is chosen so that one page at that size, of
 * items at their largest (test/unit/message-limits.test.ts builds them), fits in PAGE_BUDGET_BYTES;
 * and every page also stops before its encoded items would pass PAGE_BUDGET_BYTES, which is what
 * page_size 0 ("as many as fit") means, and what bounds items with no fixed size (an interface's
 * rule lists).
 */

/** The largest message mcrd sends (grpc.max_send_message_length), and the client library accepts. */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** Room left in a page's message for its fields other than the items (token, generation, time). */
export const PAGE_ENVELOPE_BYTES = 16 * 1024;

/** What a page's items may add up to, encoded (each with its tag and length). */
export const PAGE_BUDGET_BYTES = MAX_RESPONSE_BYTES - PAGE_ENVELOPE_BYTES;

/**
 * The largest page_size each list honours; a larger one counts as this (AIP-158). A Rule with 64
 * outputs, 63-character id and name and a status reason at REASON_MAX_BYTES encodes to at most
 * 4,149 bytes, a RuleStats with 64 outputs to at most 7,860: 1000 and 500 of them fit the budget.
 */
export const MAX_PAGE_SIZE = {
  ListRules: 1000,
  GetStats: 500,
  ListTraces: 1000,
  ListInterfaces: 1000,
} as const;

export type PagedMethod = keyof typeof MAX_PAGE_SIZE;

/**
 * The longest rule status reason sent, in UTF-8 bytes. A reason names each output that could not be
 * installed, so with 64 outputs it has no useful bound of its own; past this it is cut, saying so.
 */
export const REASON_MAX_BYTES = 1024;

/** `reason` cut to REASON_MAX_BYTES of UTF-8, ending "... (cut)" when it was longer. */
export function cappedReason(reason: string): string {
  // A UTF-16 unit is at most 3 bytes of UTF-8: a short reason needs no count (a status per rule of 20,000).
  if (reason.length * 3 <= REASON_MAX_BYTES || Buffer.byteLength(reason) <= REASON_MAX_BYTES) return reason;
  const marker = '... (cut)';
  let kept = reason.slice(0, REASON_MAX_BYTES - marker.length);
  while (Buffer.byteLength(kept) + marker.length > REASON_MAX_BYTES) kept = kept.slice(0, -1);
  return kept + marker;
}
