/**
 * The rules domain's errors (docs/decisions/0024): what is wrong, as the domain sees it, with the
 * request field at fault. The domain knows nothing of gRPC: server/api/errors.ts maps each kind to
 * a status and the extras to google.rpc details (toApiError). Messages name the field path first
 * ("rule.outputs[1].port: must be 1-65535") so a client can point at what to fix.
 */

import { quote } from '../formats/quote';

/** The resource type of rules (ResourceInfo.resource_type). */
export const RULE_RESOURCE = 'mcr.v1.Rule';

/** What kind of refusal: the API answers INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, ABORTED, RESOURCE_EXHAUSTED. */
export type RuleErrorKind = 'invalid' | 'not-found' | 'already-exists' | 'aborted' | 'exhausted';

/** One problem with a request field. */
export interface Violation {
  field: string;
  description: string;
}

/** What an error says beyond its kind, field and detail (all optional). */
export interface ErrorExtras {
  /** A stable reason (UPPER_SNAKE, ErrorInfo.reason); the kind's default otherwise. */
  reason?: string;
  /** Every violation of the request; else the error's own field and detail. */
  violations?: Violation[];
  /** What was not found or already exists. */
  resource?: { type: string; name: string };
  /** The limit reached, as the flag that sets it ("--max-rules"). */
  limit?: string;
}

export class RuleError extends Error {
  constructor(
    readonly kind: RuleErrorKind,
    /** Path of the request field at fault (e.g. `rule.input.group`), when there is one. */
    readonly field: string | undefined,
    /** What is wrong with it, without the field path. */
    readonly detail: string,
    readonly extras: ErrorExtras = {},
  ) {
    super(field ? `${field}: ${detail}` : detail);
    this.name = 'RuleError';
  }

  /** The same error with `extras` added to its own. */
  with(extras: ErrorExtras): RuleError {
    return new RuleError(this.kind, this.field, this.detail, { ...this.extras, ...extras });
  }
}

// How a client's value is quoted back in a message (the address formats quote the same way).
export { quote };

/** The request itself is wrong. */
export function invalid(field: string, detail: string): RuleError {
  return new RuleError('invalid', field, detail);
}

/** The request refers to a rule that does not exist. */
export function notFound(field: string, detail: string, extras?: ErrorExtras): RuleError {
  return new RuleError('not-found', field, detail, extras);
}

/** The request would make a second rule with a unique key. */
export function alreadyExists(field: string, detail: string, extras?: ErrorExtras): RuleError {
  return new RuleError('already-exists', field, detail, extras);
}

/** Optimistic concurrency failed (the caller's view is stale). */
export function aborted(field: string, detail: string): RuleError {
  return new RuleError('aborted', field, detail);
}

/** A configured limit would be exceeded; `limit` is the flag that sets it. */
export function exhausted(field: string | undefined, detail: string, limit?: string): RuleError {
  return new RuleError('exhausted', field, detail, limit ? { limit } : {});
}

/** A rule reference (id or name) that names no rule; `field` is the request's. */
export function unknownRule(field: string, ref: string): RuleError {
  return notFound(field, `no rule with id or name ${quote(ref)}`, { reason: 'RULE_NOT_FOUND', resource: { type: RULE_RESOURCE, name: ref } });
}

/**
 * The error of a request with several violations: the first one's kind and message (what a client
 * shows on one line), with every violation in its extras and `reason`.
 */
export function violationsError(violations: readonly RuleError[], reason: string): RuleError {
  const [first] = violations;
  return first.with({ reason, violations: violations.map((v) => ({ field: v.field ?? '', description: v.detail })) });
}

/** The default reason of each kind (what ErrorInfo.reason says when the error names none). */
export const DEFAULT_REASONS: Record<RuleErrorKind, string> = {
  invalid: 'INVALID_REQUEST',
  'not-found': 'NOT_FOUND',
  'already-exists': 'RULE_EXISTS',
  aborted: 'STALE_GENERATION',
  exhausted: 'LIMIT_REACHED',
};

/** The reason of `error`: its own, else its kind's default. */
export function reasonOf(error: RuleError): string {
  return error.extras.reason ?? DEFAULT_REASONS[error.kind];
}
