/**
 * Errors of mcr calls: McrCallError (a grpc-js ServiceError that also knows where and what was
 * called), errorDetails (the google.rpc.Status mcrd sends in the `grpc-status-details-bin` trailer)
 * and formatGrpcError, which turns any error into a line a person can act on (and one more line per
 * further violation of the request).
 */
import { Metadata, ServiceError, status } from '@grpc/grpc-js';

import { BadRequest, ErrorInfo, PreconditionFailure, QuotaFailure, ResourceInfo } from '../../gen/google/rpc/error_details';
import { Status } from '../../gen/google/rpc/status';

/** What was being called when an error happened. */
export interface CallContext {
  /** gRPC target, e.g. "unix:/run/mcr/mcr.sock". */
  target: string;
  /** RPC name, e.g. "CreateRule". */
  rpc: string;
  /** The deadline the call had, in milliseconds (0: none, as for a watch stream). */
  timeoutMs: number;
}

/** The failure of one call to mcrd. Every McrClient promise rejects with this. */
export class McrCallError extends Error implements ServiceError {
  readonly code: status;
  readonly details: string;
  readonly metadata: Metadata;
  readonly target: string;
  readonly rpc: string;
  readonly timeoutMs: number;
  /** True when no connection to mcrd could be made: the request never reached it. */
  readonly connectFailure: boolean;

  /** `connectFailure` is detected from the grpc-js error unless the caller knows better. */
  constructor(error: { code: status; details: string; metadata?: Metadata }, context: CallContext, connectFailure?: boolean) {
    super(`${status[error.code] ?? error.code}: ${error.details}`);
    this.name = 'McrCallError';
    this.code = error.code;
    this.details = error.details;
    this.metadata = error.metadata ?? new Metadata();
    this.target = context.target;
    this.rpc = context.rpc;
    this.timeoutMs = context.timeoutMs;
    this.connectFailure = connectFailure ?? reportsNoConnection(error);
  }
}

/** The shape of a gRPC error, whether or not it came through McrClient. */
function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as ServiceError).code === 'number' && typeof (err as ServiceError).details === 'string';
}

/**
 * Whether `err` says the client never got a connection (as opposed to an answer from mcrd). grpc-js
 * reports that as UNAVAILABLE "No connection established. Last error: ..." when the connect attempt
 * failed, and as DEADLINE_EXCEEDED "... Waiting for LB pick" when the deadline passed while connecting.
 */
export function isConnectFailure(err: unknown): boolean {
  if (err instanceof McrCallError) return err.connectFailure;
  return isServiceError(err) && reportsNoConnection(err);
}

function reportsNoConnection(err: { code: status; details: string }): boolean {
  if (err.code === status.UNAVAILABLE) return err.details.includes('No connection established');
  if (err.code === status.DEADLINE_EXCEEDED) return err.details.includes('Waiting for LB pick');
  return false;
}

/** The errno code of the failed connect in a grpc-js connect failure ("ENOENT"), if it names one. */
function connectErrno(details: string): string | undefined {
  return /\bconnect (E[A-Z]+)\b/.exec(details)?.[1];
}

/** Why the connect failed, in words, for the part of the message in parentheses. */
function connectCause(err: ServiceError): string | undefined {
  const errno = connectErrno(err.details);
  if (errno === 'ENOENT') return 'no such socket';
  if (errno === 'ECONNREFUSED') return 'connection refused';
  if (errno !== undefined) return errno;
  if (err.code === status.DEADLINE_EXCEEDED && err instanceof McrCallError) return `no connection within ${err.timeoutMs} ms`;
  return undefined;
}

function connectFailureMessage(err: ServiceError, hint: string | undefined): string {
  const target = err instanceof McrCallError ? err.target : undefined;
  if (connectErrno(err.details) === 'EACCES') {
    return (
      `permission denied on mcrd's socket${target ? ` ${target}` : ''}: it admits only its owner and group ` +
      `(mode 0660); run as root or as a member of the socket's group`
    );
  }
  const cause = connectCause(err);
  return `cannot reach mcrd${target ? ` at ${target}` : ''}${cause ? ` (${cause})` : ''}: is mcrd running?${hint ? ` (${hint})` : ''}`;
}

/** The trailer mcrd sends an error's google.rpc.Status in. */
const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

/** The details of an error from mcrd, decoded (each undefined when the status does not carry it). */
export interface ErrorDetails {
  errorInfo?: ErrorInfo;
  badRequest?: BadRequest;
  resourceInfo?: ResourceInfo;
  preconditionFailure?: PreconditionFailure;
  quotaFailure?: QuotaFailure;
}

const DETAIL_TYPES = {
  'google.rpc.ErrorInfo': ['errorInfo', ErrorInfo],
  'google.rpc.BadRequest': ['badRequest', BadRequest],
  'google.rpc.ResourceInfo': ['resourceInfo', ResourceInfo],
  'google.rpc.PreconditionFailure': ['preconditionFailure', PreconditionFailure],
  'google.rpc.QuotaFailure': ['quotaFailure', QuotaFailure],
} as const;

/** The details in `err`'s `grpc-status-details-bin` trailer; {} when there are none or they do not decode. */
export function errorDetails(err: unknown): ErrorDetails {
  if (!isServiceError(err) || !err.metadata) return {};
  const [bytes] = err.metadata.get(STATUS_DETAILS_KEY);
  if (!Buffer.isBuffer(bytes)) return {};
  const details: Record<string, unknown> = {};
  try {
    for (const any of Status.decode(bytes).details) {
      const known = DETAIL_TYPES[any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1) as keyof typeof DETAIL_TYPES];
      if (known && details[known[0]] === undefined) details[known[0]] = known[1].decode(any.value);
    }
  } catch {
    return {};
  }
  return details as ErrorDetails;
}

/** "  field: description" for each violation after the first (the first is the message itself). */
function furtherViolations(err: ServiceError): string[] {
  const violations = errorDetails(err).badRequest?.fieldViolations ?? [];
  return violations.slice(1).map((v) => `  ${v.field ? `${v.field}: ` : ''}${v.description}`);
}

/** "INVALID_ARGUMENT" -> "invalid argument". */
function statusWords(code: status): string {
  const name = status[code];
  return name === undefined ? `status ${code}` : name.toLowerCase().replace(/_/g, ' ');
}

export interface FormatOptions {
  /** Appended in parentheses when mcrd could not be reached, e.g. "set --socket or MCR_SOCKET". */
  hint?: string;
}

/**
 * One line describing `err`: "invalid argument: rule.outputs[1].port: must be 1-65535" for an answer
 * from mcrd; "cannot reach mcrd at unix:/run/mcr/mcr.sock (no such socket): is mcrd running?" when
 * there was no connection, and an explanation of the socket's permissions for EACCES. When the
 * request had several violations (BadRequest in the details), one more line, indented, per further
 * violation.
 */
export function formatGrpcError(err: unknown, options: FormatOptions = {}): string {
  if (!isServiceError(err)) return err instanceof Error ? err.message : String(err);
  if (isConnectFailure(err)) return connectFailureMessage(err, options.hint);
  if (err.code === status.DEADLINE_EXCEEDED && err instanceof McrCallError) {
    return `deadline exceeded: mcrd did not answer ${err.rpc} within ${err.timeoutMs} ms`;
  }
  const words = statusWords(err.code);
  return [err.details ? `${words}: ${err.details}` : words, ...furtherViolations(err)].join('\n');
}
