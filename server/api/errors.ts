/**
 * Errors that answer an API call with a specific gRPC status. The message names the offending field
 * path first ("rule.outputs[1].port: must be 1-65535") so a client can point at what to fix.
 *
 * Every status also carries a google.rpc.Status in the `grpc-status-details-bin` trailer
 * (docs/decisions/0021): an ErrorInfo with a stable reason, and by status a BadRequest (every
 * violation), ResourceInfo, PreconditionFailure or QuotaFailure (see statusDetails).
 */
import { Metadata, ServiceError, status } from '@grpc/grpc-js';

import { Any } from '../../gen/google/protobuf/any';
import { BadRequest, BadRequest_FieldViolation, ErrorInfo, PreconditionFailure, QuotaFailure, ResourceInfo } from '../../gen/google/rpc/error_details';
import { Status } from '../../gen/google/rpc/status';
import { ErrorExtras, quote, reasonOf, RULE_RESOURCE, RuleError, RuleErrorKind, Violation } from '../rules/errors';

export { quote, RULE_RESOURCE };
export type { ErrorExtras, Violation };

/**
 * Longest status message sent. A client's value quoted in full could make the trailers exceed what
 * HTTP/2 delivers (about 64 KB after compression): the call, and the connection with it, would hang.
 */
export const MAX_DETAILS_LENGTH = 1024;
/** `text` cut to MAX_DETAILS_LENGTH, saying how much was left out. */
function capped(text: string): string {
  if (text.length <= MAX_DETAILS_LENGTH) return text;
  return `${text.slice(0, MAX_DETAILS_LENGTH)}... (${text.length - MAX_DETAILS_LENGTH} more characters)`;
}

/** The trailer holding the google.rpc.Status of an error. */
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';
/** ErrorInfo.domain of every mcrd error. */
export const ERROR_DOMAIN = 'mcr.dev';

/** ErrorInfo.reason of a status when the error names none. */
const DEFAULT_REASONS: Partial<Record<status, string>> = {
  [status.INVALID_ARGUMENT]: 'INVALID_REQUEST',
  [status.NOT_FOUND]: 'NOT_FOUND',
  [status.ALREADY_EXISTS]: 'RULE_EXISTS',
  [status.ABORTED]: 'STALE_GENERATION',
  [status.RESOURCE_EXHAUSTED]: 'LIMIT_REACHED',
  [status.UNAVAILABLE]: 'SHUTTING_DOWN',
  [status.FAILED_PRECONDITION]: 'PROTOCOL_MISMATCH',
  [status.UNAUTHENTICATED]: 'UNAUTHENTICATED',
  [status.PERMISSION_DENIED]: 'READ_ONLY_TOKEN',
  [status.INTERNAL]: 'INTERNAL',
};

/** Longest field path or description in a detail; a value quoted in full could be any length. */
const MAX_DETAIL_TEXT = 256;

function short(text: string): string {
  return text.length <= MAX_DETAIL_TEXT ? text : `${text.slice(0, MAX_DETAIL_TEXT)}... (${text.length - MAX_DETAIL_TEXT} more characters)`;
}

function pack(typeName: string, value: Uint8Array): Any {
  return { typeUrl: `type.googleapis.com/${typeName}`, value: Buffer.from(value) };
}

export class ApiError extends Error {
  constructor(
    readonly code: status,
    /** Path of the request field at fault (e.g. `rule.input.group`), when there is one. */
    readonly field: string | undefined,
    /** What is wrong with it, without the field path. */
    readonly detail: string,
    /** What its details say beyond the defaults. */
    readonly extras: ErrorExtras = {},
  ) {
    super(field ? `${field}: ${detail}` : detail);
    this.name = 'ApiError';
  }

  /** The same error with `extras` added to its own. */
  with(extras: ErrorExtras): ApiError {
    return new ApiError(this.code, this.field, this.detail, { ...this.extras, ...extras });
  }

  /** ErrorInfo.reason of this error. */
  get reason(): string {
    return this.extras.reason ?? DEFAULT_REASONS[this.code] ?? status[this.code] ?? 'UNKNOWN';
  }

  /** The error as grpc-js sends it to the client: the message, and the details in the trailer. */
  toServiceError(): Partial<ServiceError> {
    const details = capped(this.message);
    const metadata = new Metadata();
    metadata.set(STATUS_DETAILS_KEY, Buffer.from(Status.encode(statusDetails(this, details)).finish()));
    return { code: this.code, details, message: details, metadata };
  }
}

/**
 * The google.rpc.Status of `error` (its message `message`): ErrorInfo always (reason, domain
 * mcr.dev); BadRequest for INVALID_ARGUMENT and ALREADY_EXISTS (the field at fault) or when the
 * error lists violations; ResourceInfo when it
 * names a resource; PreconditionFailure for ABORTED; QuotaFailure for RESOURCE_EXHAUSTED. Bounded
 * like the message: each text at most MAX_DETAIL_TEXT characters, the BadRequest at most
 * MAX_DETAILS_LENGTH bytes (see cappedViolations), so the trailer stays a few KiB.
 */
export function statusDetails(error: ApiError, message: string = capped(error.message)): Status {
  const details: Any[] = [];
  details.push(pack('google.rpc.ErrorInfo', ErrorInfo.encode({ reason: error.reason, domain: ERROR_DOMAIN, metadata: {} }).finish()));
  const own = error.field !== undefined ? [{ field: error.field, description: error.detail }] : [];
  // An ALREADY_EXISTS names the field holding the clashing id, name or match key too (BadRequest).
  const violations = error.extras.violations ?? (error.code === status.INVALID_ARGUMENT || error.code === status.ALREADY_EXISTS ? own : []);
  if (error.extras.resource) {
    const { type, name } = error.extras.resource;
    details.push(pack('google.rpc.ResourceInfo', ResourceInfo.encode({ resourceType: type, resourceName: short(name), owner: '', description: short(error.detail) }).finish()));
  }
  if (error.code === status.ABORTED) {
    const violation = { type: 'GENERATION', subject: error.field ?? '', description: short(error.detail) };
    details.push(pack('google.rpc.PreconditionFailure', PreconditionFailure.encode({ violations: [violation] }).finish()));
  }
  if (error.code === status.RESOURCE_EXHAUSTED) {
    const violation = {
      subject: error.extras.limit ?? error.field ?? '',
      description: short(error.detail),
      apiService: '',
      quotaMetric: '',
      quotaId: '',
      quotaDimensions: {},
      quotaValue: 0n,
      futureQuotaValue: undefined,
    };
    details.push(pack('google.rpc.QuotaFailure', QuotaFailure.encode({ violations: [violation] }).finish()));
  }
  if (violations.length > 0) details.push(pack('google.rpc.BadRequest', BadRequest.encode({ fieldViolations: cappedViolations(violations) }).finish()));
  return { code: error.code, message, details };
}

/** Room kept for the last entry of a cut list ("... (N more violations)"). */
const SUMMARY_ROOM = 48;

/**
 * `violations` as FieldViolations, texts shortened, as many as fit in MAX_DETAILS_LENGTH bytes of
 * BadRequest; when some do not, a last entry (no field) says how many were left out.
 */
function cappedViolations(violations: readonly Violation[]): BadRequest_FieldViolation[] {
  const kept: BadRequest_FieldViolation[] = [];
  let size = 0;
  for (const [i, v] of violations.entries()) {
    const entry = { field: short(v.field), description: short(v.description), reason: '', localizedMessage: undefined };
    const entrySize = BadRequest_FieldViolation.encode(entry).finish().length + 3; // tag, length
    const room = i === violations.length - 1 ? MAX_DETAILS_LENGTH : MAX_DETAILS_LENGTH - SUMMARY_ROOM;
    if (kept.length > 0 && size + entrySize > room) {
      kept.push({ field: '', description: `... (${violations.length - i} more violations)`, reason: '', localizedMessage: undefined });
      break;
    }
    kept.push(entry);
    size += entrySize;
  }
  return kept;
}

/**
 * The error of a request with several violations: the first one's status and message (what a
 * client shows on one line), with every violation in its details and `reason`.
 */
export function violationsError(violations: readonly ApiError[], reason: string): ApiError {
  const [first] = violations;
  return first.with({ reason, violations: violations.map((v) => ({ field: v.field ?? '', description: v.detail })) });
}

/** INVALID_ARGUMENT: the request itself is wrong. */
export function invalid(field: string, detail: string): ApiError {
  return new ApiError(status.INVALID_ARGUMENT, field, detail);
}

/** NOT_FOUND: the request refers to something that does not exist. */
export function notFound(field: string, detail: string, extras?: ErrorExtras): ApiError {
  return new ApiError(status.NOT_FOUND, field, detail, extras);
}

/** ALREADY_EXISTS: the request would create a second thing with a unique key. */
export function alreadyExists(field: string, detail: string, extras?: ErrorExtras): ApiError {
  return new ApiError(status.ALREADY_EXISTS, field, detail, extras);
}

/** ABORTED: optimistic concurrency failed (the caller's view is stale). */
export function aborted(field: string, detail: string): ApiError {
  return new ApiError(status.ABORTED, field, detail);
}

/** The status of each kind of rules-domain error. */
const DOMAIN_STATUS: Record<RuleErrorKind, status> = {
  invalid: status.INVALID_ARGUMENT,
  'not-found': status.NOT_FOUND,
  'already-exists': status.ALREADY_EXISTS,
  aborted: status.ABORTED,
  exhausted: status.RESOURCE_EXHAUSTED,
};

/**
 * A rules-domain error as the API answers it: its kind's status, the same message, its reason and
 * extras as details (statusDetails). Anything else is returned as it is.
 */
export function toApiError<T>(err: T): ApiError | T {
  if (!(err instanceof RuleError)) return err;
  return new ApiError(DOMAIN_STATUS[err.kind], err.field, err.detail, { ...err.extras, reason: reasonOf(err) });
}

/**
 * What every call and stream is answered with once mcrd is shutting down (UNAVAILABLE). mcrctl
 * recognizes this message to tell a watch that "mcrd shut down" from other failures.
 */
export const SHUTTING_DOWN = 'mcrd is shutting down';

/** UNAVAILABLE: mcrd is shutting down (see SHUTTING_DOWN). */
export function shuttingDown(): ApiError {
  return new ApiError(status.UNAVAILABLE, undefined, SHUTTING_DOWN);
}

/** RESOURCE_EXHAUSTED: a configured limit would be exceeded; `limit` is the flag that sets it. */
export function exhausted(field: string, detail: string, limit?: string): ApiError {
  return new ApiError(status.RESOURCE_EXHAUSTED, field, detail, limit ? { limit } : {});
}
