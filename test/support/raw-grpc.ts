/**
 * Unary and server-streaming gRPC calls with raw bytes in both directions: grpc-js's Client with
 * identity serializers, so a test can send a request no generated client would encode (malformed
 * protobuf, fields of the wrong type, oversized messages) and see the answer exactly as the server
 * gave it.
 */
import * as grpc from '@grpc/grpc-js';

export type RawOutcome = { ok: true; response: Buffer } | { ok: false; error: grpc.ServiceError };

/** A server stream's messages and, when it ended, its status. */
export interface RawStreamOutcome {
  messages: Buffer[];
  status: { code: grpc.status; details: string } | undefined;
}

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

  /**
   * Opens the server stream `path` with `request` as the message bytes; resolves with the messages
   * and the status it ended with, or, after `maxMessages` messages or `waitMs`, cancels it and
   * resolves with what came (status undefined: it was still open).
   */
  serverStream(path: string, request: Buffer, maxMessages: number, waitMs: number): Promise<RawStreamOutcome> {
    return new Promise((resolve) => {
      const messages: Buffer[] = [];
      const call = this.client.makeServerStreamRequest(path, identity, identity, request, new grpc.Metadata(), {});
      let settled = false;
      const settle = (ended: { code: grpc.status; details: string } | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ messages, status: ended });
        if (!ended) call.cancel();
      };
      const timer = setTimeout(() => settle(undefined), waitMs);
      call.on('data', (message: Buffer) => {
        messages.push(message);
        if (messages.length >= maxMessages) settle(undefined);
      });
      call.on('error', (err: grpc.ServiceError) => settle({ code: err.code, details: err.details }));
      call.on('status', (ended: grpc.StatusObject) => settle({ code: ended.code, details: ended.details }));
    });
  }

  close(): void {
    this.client.close();
  }
}
