/**
 * Runs a check before every method of a service: a refused call is answered with the check's error
 * (unary: the callback; server stream: the stream's error) and never reaches the handler.
 */
import { handleServerStreamingCall, handleUnaryCall, Metadata, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';

import { ApiError } from './errors';

/** Why a call of `path` with `metadata` and `request` (as decoded) is refused, or null to let it through. */
export type CallCheck = (path: string, metadata: Metadata, request: unknown) => ApiError | null;

export function checkedImplementation(definition: ServiceDefinition, implementation: UntypedServiceImplementation, check: CallCheck): UntypedServiceImplementation {
  const checked: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const handler = implementation[name];
    if (method.requestStream) throw new Error(`${method.path}: client streaming calls are not checked`);
    if (method.responseStream) {
      const stream = handler as handleServerStreamingCall<unknown, unknown>;
      checked[name] = ((call) => {
        const refusal = check(method.path, call.metadata, call.request);
        if (refusal) call.emit('error', refusal.toServiceError());
        else stream(call);
      }) as handleServerStreamingCall<unknown, unknown>;
    } else {
      const unary = handler as handleUnaryCall<unknown, unknown>;
      checked[name] = ((call, callback) => {
        const refusal = check(method.path, call.metadata, call.request);
        if (refusal) callback(refusal.toServiceError());
        else unary(call, callback);
      }) as handleUnaryCall<unknown, unknown>;
    }
  }
  return checked;
}
