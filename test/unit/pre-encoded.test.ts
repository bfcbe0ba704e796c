/**
 * Two-piece pre-encoded responses (server/api/pre-encoded.ts) through a real grpc-js server: they are
 * joined into one buffer that the next response reuses, which holds only because grpc-js copies what
 * the serializer returns before it returns. Many written at once, queued behind a slow reader, must
 * all arrive intact.
 */
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { acceptPreEncoded, PreEncoded } from '../../server/api/pre-encoded';

const METHOD = '/test.PreEncoded/Stream';
const COUNT = 40;
/** Large enough to be written in many HTTP/2 frames and to fill the stream's window. */
const SIZE = 256 * 1024;

/** Message i: SIZE bytes of i (its first piece), then 16 bytes of 255 - i. */
function message(i: number): PreEncoded {
  return new PreEncoded(Buffer.alloc(SIZE, i), new Uint8Array(16).fill(255 - i));
}

describe('pre-encoded responses through grpc-js', () => {
  let dir: string;
  let server: grpc.Server;
  let client: grpc.Client;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-pre-encoded-'));
    const socket = path.join(dir, 's.sock');
    server = new grpc.Server();
    const definition = acceptPreEncoded({
      Stream: {
        path: METHOD,
        requestStream: false,
        responseStream: true,
        requestSerialize: (v: Buffer) => v,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: () => {
          throw new Error('only pre-encoded responses here');
        },
        responseDeserialize: (b: Buffer) => b,
      },
    });
    server.addService(definition, {
      Stream: (call: grpc.ServerWritableStream<Buffer, PreEncoded>) => {
        for (let i = 0; i < COUNT; i++) call.write(message(i));
        call.end();
      },
    });
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    client = new grpc.Client(`unix:${socket}`, grpc.credentials.createInsecure());
  });

  after(() => {
    client.close();
    server.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('arrive intact, each its own bytes, although joined in one reused buffer', async () => {
    const stream = client.makeServerStreamRequest(METHOD, (v: Buffer) => v, (b: Buffer) => b, Buffer.alloc(0));
    const received: Buffer[] = [];
    for await (const chunk of stream) {
      received.push(chunk as Buffer);
      // A slow reader: the server's writes queue up before they are serialized.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(received).to.have.length(COUNT);
    received.forEach((bytes, i) => {
      const expected = message(i);
      expect(bytes.equals(Buffer.concat([expected.bytes, expected.tail!])), `message ${i}`).to.equal(true);
    });
  });
});
