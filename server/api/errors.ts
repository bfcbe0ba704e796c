/**
 * Errors that answer an API call with a specific gRPC status. The message names the offending field
 * path first ("rule.outputs[1].port: must be 1-65535") so a client can point at what to fix.
 */
import { ServiceError, status } from '@grpc/grpc-js';

/**
 * Longest status message sent. A client's value quoted in full could make the trailers exceed what
 * HTTP/2 delivers (about 64 KB after compression): the call, and the connection with it, would hang.
 */
export const MAX_DETAILS_LENGTH = 1024;
/** Longest part of a client's value quoted back in a message. */
const MAX_QUOTED_LENGTH = 64;

/** `value` as a JSON string for an error message, shortened when long: "abc..." (70000 characters). */
export function quote(value: string): string {
  if (value.length <= MAX_QUOTED_LENGTH) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, MAX_QUOTED_LENGTH))}... (${value.length} characters)`;
}

/** `text` cut to MAX_DETAILS_LENGTH, saying how much was left out. */
function capped(text: string): string {
  if (text.length <= MAX_DETAILS_LENGTH) return text;
  return `${text.slice(0, MAX_DETAILS_LENGTH)}... (${text.length - MAX_DETAILS_LENGTH} more characters)`;
}

export class ApiError extends Error {
  constructor(
    readonly code: status,
    /** Path of the request field at fault (e.g. `rule.input.group`), when there is one. */
    readonly field: string | undefined,
    /** What is wrong with it, without the field path. */
    readonly detail: string,
  ) {
    super(field ? `${field}: ${detail}` : detail);
    this.name = 'ApiError';
  }

  /** The error as grpc-js sends it to the client. */
  toServiceError(): Partial<ServiceError> {
    const details = capped(this.message);
    return { code: this.code, details, message: details };
  }
}

/** INVALID_ARGUMENT: the request itself is wrong. */
export function invalid(field: string, detail: string): ApiError {
  return new ApiError(status.INVALID_ARGUMENT, field, detail);
}

/** NOT_FOUND: the request refers to something that does not exist. */
export function notFound(field: string, detail: string): ApiError {
  return new ApiError(status.NOT_FOUND, field, detail);
}

/** ALREADY_EXISTS: the request would create a second thing with a unique key. */
export function alreadyExists(field: string, detail: string): ApiError {
  return new ApiError(status.ALREADY_EXISTS, field, detail);
}

/** ABORTED: optimistic concurrency failed (the caller's view is stale). */
export function aborted(field: string, detail: string): ApiError {
  return new ApiError(status.ABORTED, field, detail);
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

/** RESOURCE_EXHAUSTED: a configured limit would be exceeded. */
export function exhausted(field: string, detail: string): ApiError {
  return new ApiError(status.RESOURCE_EXHAUSTED, field, detail);
}
