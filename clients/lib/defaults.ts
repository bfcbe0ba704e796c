/**
 * Defaults of the client library that mcrctl's command line also shows. Kept apart from client.ts so
 * that reading them does not load grpc-js (mcrctl parses its command line before it needs a client).
 */

/** Deadline of each call unless ConnectOptions.timeoutMs or CallOptions.timeoutMs says otherwise. */
export const DEFAULT_TIMEOUT_MS = 5000;
