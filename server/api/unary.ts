/**
 * Adapts an async handler to grpc-js: ApiError becomes its status, anything else INTERNAL (logged),
 * and every call is refused with UNAVAILABLE once the daemon is shutting down.
 */
import { handleUnaryCall, sendUnaryData, ServerUnaryCall, status } from '@grpc/grpc-js';

import { logger } from '../log';
import { ApiError, shuttingDown, toApiError } from './errors';

const log = logger('api');

export interface CallGate {
  /** Set when the daemon is shutting down. */
  closing: boolean;
}

export function unary<Req, Res>(gate: CallGate, name: string, handler: (request: Req) => Promise<Res> | Res): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    if (gate.closing) {
      callback(shuttingDown().toServiceError());
      return;
    }
    Promise.resolve()
      .then(() => handler(call.request))
      .then(
        (response) => callback(null, response),
        (thrown: unknown) => {
          // The rules domain's errors are answered as their status (toApiError).
          const err = toApiError(thrown);
          if (err instanceof ApiError) {
            log.debug('request refused', { rpc: name, code: status[err.code], message: err.message });
            callback(err.toServiceError());
            return;
          }
          const error = err instanceof Error ? err : new Error(String(err));
          log.error('request failed', { rpc: name, error: error.stack });
          // Capped like every other status message (an exception may quote a client's value).
          callback(new ApiError(status.INTERNAL, undefined, `${name} failed: ${error.message}`).toServiceError());
        },
      );
  };
}
