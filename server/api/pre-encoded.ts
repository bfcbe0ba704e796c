/**
 * A response a handler encoded itself (e.g. from parts it keeps encoded between calls): every mcr
 * method's responseSerialize passes its bytes through unchanged and encodes anything else as before.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';

export class PreEncoded {
  constructor(readonly bytes: Buffer) {}
}

/** `definition` with each method's responseSerialize taking a PreEncoded as it is. */
export function acceptPreEncoded(definition: ServiceDefinition): ServiceDefinition {
  const accepting: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(definition)) {
    const serialize = method.responseSerialize;
    accepting[name] = { ...method, responseSerialize: (value: unknown): Buffer => (value instanceof PreEncoded ? value.bytes : serialize(value)) };
  }
  return accepting;
}
