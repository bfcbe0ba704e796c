/**
 * The typed client library for mcrd's gRPC API (package mcr.v1).
 *
 * ```ts
 * import { connect, formatGrpcError } from 'mcr/dist/clients/lib'; // or clients/lib from TypeScript
 *
 * const mcr = connect({ socket: '/run/mcr/mcr.sock', timeoutMs: 2000 });
 * try {
 *   const { rule } = await mcr.createRule({
 *     rule: {
 *       name: 'camera-1',
 *       input: { interface: 'eth0', group: '239.0.0.1', port: 5000 },
 *       outputs: [{ interface: 'eth1', address: '239.9.9.9', port: 6000, ttl: 4 }],
 *     },
 *   });
 *   // Optimistic concurrency: the update is refused (ABORTED) if someone changed the rule meanwhile.
 *   await mcr.updateRule({ rule: rule!.id, definition: { ...rule!, name: 'camera-1-main' }, expectedGeneration: rule!.generation });
 * } catch (err) {
 *   console.error(formatGrpcError(err)); // e.g. "invalid argument: rule.outputs[0].port: must be 1-65535"
 * } finally {
 *   mcr.close();
 * }
 * ```
 *
 * Every method takes the generated request type (fields may be omitted: they take their proto3
 * defaults) and resolves to the generated response type; uint64/int64 fields are bigints. Every call
 * has a deadline (ConnectOptions.timeoutMs, default 5000 ms, or CallOptions.timeoutMs) and is sent
 * once: nothing is retried. Failures reject with McrCallError, a grpc-js ServiceError that also
 * carries the target and RPC name and says whether mcrd was reachable at all (connectFailure).
 * Lists page (AIP-158): listRules, getStats, listTraces and listInterfaces return one page (send its
 * nextPageToken back as pageToken for the next); listAllRules, getAllStats, listAllTraces and
 * listAllInterfaces walk every page and return them as one response (walkPages for page by page).
 * Each call has its own deadline; no answer is larger than MAX_RESPONSE_BYTES.
 * The streams, watchStats, watchEvents and watchTraces, are async iterators without a deadline,
 * cancelled when the loop over them ends (see McrStream).
 */
export { connect, McrClient, DEFAULT_TIMEOUT_MS } from './client';
export type { CallOptions, ConnectOptions } from './client';
export { formatGrpcError, isConnectFailure, McrCallError } from './errors';
export type { CallContext, FormatOptions } from './errors';
export { MAX_RESPONSE_BYTES } from './defaults';
export { collectPages, collectStorePages, PageLoopError, WALK_PAGE_SIZE, walkPages } from './pages';
export type { PagedRequest, PagedResponse, StoreWalk } from './pages';
export { wholeStatsUpdates } from './stats-updates';
export { DEFAULT_STREAM_BUFFER } from './stream';
export type { McrStream, StreamOptions } from './stream';
export { DEFAULT_SOCKET, resolveTarget } from './target';
export type { TargetOptions } from './target';
export { CLIENT_VERSION, PROTOCOL_MAJOR } from './version';
