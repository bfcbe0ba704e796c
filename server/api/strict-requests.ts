/**
 * Request bodies decoded strictly, and refused with INVALID_ARGUMENT when malformed (decision 0020).
 *
 * grpc-js calls a method's requestDeserialize before any handler, and answers INTERNAL "Error
 * deserializing request" when it throws. So each mcr.v1 method is registered with a deserializer
 * that cannot throw: it checks the bytes against the method's input message (wire-check.ts, driven
 * by the compiler's descriptors), then runs the generated decoder; a body either refuses is decoded
 * into a MalformedRequest instead, which refuseMalformed (a CallCheck, after the token check) turns
 * into the call's status.
 */
import { Metadata, ServiceDefinition, status } from '@grpc/grpc-js';
import { DescMessage, Registry } from '@bufbuild/protobuf';

import { APPLY_RULES_PATH, ApplyRulesReader } from './apply-request';
import { ApiError } from './errors';
import type { KnownRules } from './known-rules';
import { checkWire } from './wire-check';

/** What a malformed body decodes to: the refusal its call is answered with. */
export class MalformedRequest {
  constructor(
    readonly error: ApiError,
    /** The request field at fault ("rule.name"), or '' when the fault is in the body's framing. */
    readonly path: string,
  ) {}
}

/** The input message of the method at `methodPath` ("/mcr.v1.RuleService/CreateRule"). */
function inputOf(schemas: Registry, methodPath: string): DescMessage {
  const [, serviceName, methodName] = methodPath.split('/');
  const method = schemas.getService(serviceName)?.methods.find((m) => m.name === methodName);
  if (!method) throw new Error(`${methodPath} is not in the descriptor set: it is older than gen/ (npm run build writes both)`);
  return method.input;
}

/**
 * The refusal of a body that is not a valid `typeName`: "request body is not a valid
 * mcr.v1.CreateRuleRequest: rule.name: is not valid UTF-8 (...)", the field path after the type.
 */
function malformed(typeName: string, fieldPath: string, detail: string): MalformedRequest {
  const message = `request body is not a valid ${typeName}: ${fieldPath ? `${fieldPath}: ` : ''}${detail}`;
  const extras = { reason: 'MALFORMED_REQUEST', violations: [{ field: fieldPath, description: detail }] };
  return new MalformedRequest(new ApiError(status.INVALID_ARGUMENT, undefined, message, extras), fieldPath);
}

/**
 * `definition` with each method's requestDeserialize checking the body first, and never throwing.
 * With `knownRules`, an ApplyRules body's rules that are stored rules as they are, or whose bytes the
 * last ApplyRules body had, are recognized by their bytes, and neither walked nor decoded again
 * (apply-request.ts).
 */
export function strictDefinition(definition: ServiceDefinition, schemas: Registry, knownRules?: KnownRules): ServiceDefinition {
  const strict: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(definition)) {
    const input = inputOf(schemas, method.path);
    const decode = method.requestDeserialize;
    const reader = method.path === APPLY_RULES_PATH && knownRules ? new ApplyRulesReader(knownRules) : undefined;
    strict[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        const body = reader?.begin(bytes);
        const problem = checkWire(input, bytes, body?.vouch);
        if (problem) return malformed(input.typeName, problem.path, problem.detail);
        try {
          if (!body) return decode(bytes);
          const request = body.decode();
          reader!.done(body, request);
          return request;
        } catch (err) {
          // Bytes the check passed but the generated decoder refused: still the client's bytes.
          return malformed(input.typeName, '', err instanceof Error ? err.message : String(err));
        }
      },
    };
  }
  return strict;
}

/** A CallCheck: a call whose body was malformed is refused with what was wrong with it. */
export function refuseMalformed(_path: string, _metadata: Metadata, request: unknown): ApiError | null {
  return request instanceof MalformedRequest ? request.error : null;
}
