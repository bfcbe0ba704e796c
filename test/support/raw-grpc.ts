/**
 * Unary gRPC calls with raw bytes in both directions: grpc-js's Client with identity serializers, so
 * a test can send a request no generated client would encode (malformed protobuf, fields of the wrong
 * type, oversized messages) and see the answer exactly as the server gave it.
 */
import * as grpc from '@grpc/grpc-js';

export type RawOutcome = { ok: true; response: Buffer } | { ok: false; error: grpc.ServiceError };

const identity = (bytes: Buffer): Buffer => bytes;

export class RawUnaryClient {
  private readonly client: grpc.Client;

  constructor(socketPath: string) {
    this.client = new grpc.Client(`unix:${socketPath}`, grpc.credentials.createInsecure());
  }

  /** Calls `path` ("/package.Service/Method") with `request` as the message bytes. */
  call(path: string, request: Buffer, deadlineMs = 10_000): Promise<RawOutcome> {
    return new Promise((resolve, reject) => {
      const options = { deadline: Date.now() + deadlineMs };
      this.client.makeUnaryRequest(path, identity, identity, request, new grpc.Metadata(), options, (err, response) => {
        if (!err) resolve({ ok: true, response: response ?? Buffer.alloc(0) });
        else if (typeof err.code === 'number') resolve({ ok: false, error: err });
        else reject(err);
      });
    });
  }

  close(): void {
    this.client.close();
  }
}
