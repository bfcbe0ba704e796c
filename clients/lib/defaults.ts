/**
 * Defaults of the client library that mcrctl's command line also shows. Kept apart from client.ts so
 * that reading them does not load grpc-js (mcrctl parses its command line before it needs a client).
 */

/** Deadline of each call unless ConnectOptions.timeoutMs or CallOptions.timeoutMs says otherwise. */
export const DEFAULT_TIMEOUT_MS = 5000;

/**
 * The largest message the client accepts (grpc.max_receive_message_length): what mcrd sends at most
 * (its MAX_RESPONSE_BYTES, gRPC's default), every page of a list included.
 */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
