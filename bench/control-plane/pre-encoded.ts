/**
 * ApplyRules with its request encoded before the clock starts, on a channel of its own: the round
 * trip without the client's encoding of the request (the transfer, mcrd's part and the decoding of
 * the answer), measured beside the call through the client library, which encodes the request
 * inside the call as any client does (decision 0046). Both are shown; the target is judged on the
 * call through the client library.
 */
import * as grpc from '@grpc/grpc-js';

import { encodeApplyRulesRequest } from '../../clients/lib/apply-rules-encoding';
import { PROTOCOL_HEADER, PROTOCOL_MAJOR } from '../../clients/lib/version';
import { MAX_RESPONSE_BYTES } from '../../server/api/message-limits';
import { ApplyRulesRequest, ApplyRulesResponse, DeepPartial } from '../../gen/mcr/v1/rules';

const APPLY_RULES = '/mcr.v1.RuleService/ApplyRules';

/** The bytes of `request` as the client library sends them, encoded by the client library's own encoder. */
export function encodeApplyRules(request: DeepPartial<ApplyRulesRequest>): Buffer {
  return encodeApplyRulesRequest(request);
}

export class PreEncodedApply {
  private readonly client: grpc.Client;

  constructor(socket: string) {
    this.client = new grpc.Client(`unix:${socket}`, grpc.credentials.createInsecure(), { 'grpc.enable_retries': 0, 'grpc.max_receive_message_length': MAX_RESPONSE_BYTES });
  }

  /** ApplyRules of the request encoded as `bytes` (encodeApplyRules). */
  async call(bytes: Buffer, timeoutMs: number): Promise<ApplyRulesResponse> {
    return ApplyRulesResponse.decode(await this.raw(bytes, timeoutMs));
  }

  /** The same, answered with the response's bytes (not decoded). */
  raw(bytes: Buffer, timeoutMs: number): Promise<Buffer> {
    const metadata = new grpc.Metadata();
    metadata.set(PROTOCOL_HEADER, String(PROTOCOL_MAJOR));
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        APPLY_RULES,
        (body: Buffer) => body,
        (body: Buffer) => body,
        bytes,
        metadata,
        { deadline: Date.now() + timeoutMs },
        (err, response) => (err ? reject(err) : resolve(response!)),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
