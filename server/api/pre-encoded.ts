/**
 * A response a handler encoded itself (e.g. from parts it keeps encoded between calls): every mcr
 * method's responseSerialize passes its bytes through unchanged and encodes anything else as before.
 *
 * A response may also be two pieces, `bytes` then `tail` (e.g. a WatchStats update: its rules' field,
 * kept from one update to the next, then the fields of this update): they are joined when the
 * response is serialized, into one buffer kept for it. grpc-js copies what a serializer returns into
 * a buffer of its own, framed, before it returns (BaseServerInterceptingCall.serializeMessage; checked
 * by test/unit/pre-encoded.test.ts), so no message of megabytes is allocated twice: every such buffer
 * is external memory, whose turnover brings V8's full collections of the whole heap
 * (docs/decisions/0053).
 */
import type { ServiceDefinition } from '@grpc/grpc-js';

export class PreEncoded {
  constructor(
    readonly bytes: Buffer,
    /** More bytes of the same message, after `bytes`. */
    readonly tail?: Uint8Array,
  ) {}
}

/** Where two-piece responses are joined; reused, grown as needed (at most a message's size limit). */
let joinBuffer = Buffer.alloc(0);

/** `value`'s bytes, valid until the next call (see the file comment: grpc-js copies them at once). */
function serialized(value: PreEncoded): Buffer {
  const { bytes, tail } = value;
  if (!tail || tail.length === 0) return bytes;
  const size = bytes.length + tail.length;
  if (joinBuffer.length < size) joinBuffer = Buffer.allocUnsafe(size);
  joinBuffer.set(bytes, 0);
  joinBuffer.set(tail, bytes.length);
  return joinBuffer.subarray(0, size);
}

/** `definition` with each method's responseSerialize taking a PreEncoded as it is. */
export function acceptPreEncoded(definition: ServiceDefinition): ServiceDefinition {
  const accepting: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(definition)) {
    const serialize = method.responseSerialize;
    accepting[name] = { ...method, responseSerialize: (value: unknown): Buffer => (value instanceof PreEncoded ? serialized(value) : serialize(value)) };
  }
  return accepting;
}
