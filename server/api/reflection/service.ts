/**
 * gRPC server reflection, grpc.reflection.v1 and v1alpha (ServerReflectionInfo, a bidi stream: one
 * answer per request, in order), answered from the compiler's descriptors (descriptor-set.ts).
 *
 * A file answer carries the file asked for and every file it imports, transitively, each as the bytes
 * buf wrote. Unknown files, symbols, extensions and types get an error_response with NOT_FOUND; a
 * request that does not decode or asks nothing gets INVALID_ARGUMENT, and the stream carries on.
 */
import { Server, ServerDuplexStream, ServiceDefinition, status } from '@grpc/grpc-js';

import { DescriptorSet } from '../descriptor-set';
import { decodeRequest, encodeResponse, ReflectionAnswer, ReflectionRequest } from './messages';

export const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'] as const;

function notFound(message: string): ReflectionAnswer {
  return { kind: 'error', code: status.NOT_FOUND, message };
}

export function answer(descriptors: DescriptorSet, request: ReflectionRequest): ReflectionAnswer {
  const files = (name: string | undefined, what: string): ReflectionAnswer => {
    const found = name === undefined ? undefined : descriptors.fileWithDependencies(name);
    return found === undefined ? notFound(what) : { kind: 'files', files: found.map((f) => f.bytes) };
  };
  const question = request.question;
  switch (question.kind) {
    case 'listServices':
      return { kind: 'services', names: descriptors.services };
    case 'fileByFilename':
      return files(question.name, `file not found: ${question.name}`);
    case 'fileContainingSymbol':
      return files(descriptors.fileOfSymbol(question.symbol), `symbol not found: ${question.symbol}`);
    case 'fileContainingExtension':
      return files(
        descriptors.fileOfExtension(question.containingType, question.number),
        `extension not found: ${question.number} of ${question.containingType}`,
      );
    case 'allExtensionNumbersOfType': {
      const numbers = descriptors.extensionNumbers(question.type);
      return numbers === undefined ? notFound(`type not found: ${question.type}`) : { kind: 'extensionNumbers', baseTypeName: question.type, numbers };
    }
    case 'none':
      return { kind: 'error', code: status.INVALID_ARGUMENT, message: 'the request asks nothing (no message_request field set)' };
    case 'malformed':
      return { kind: 'error', code: status.INVALID_ARGUMENT, message: `the request is not a valid ServerReflectionRequest: ${question.reason}` };
  }
}

function definition(service: string): ServiceDefinition {
  const identity = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    ServerReflectionInfo: {
      path: `/${service}/ServerReflectionInfo`,
      requestStream: true,
      responseStream: true,
      requestSerialize: (request: ReflectionRequest) => identity(request.raw),
      requestDeserialize: (bytes: Buffer) => decodeRequest(bytes),
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  };
}

/** Adds both reflection services to `server`, answering from `descriptors`. */
export function addReflection(server: Server, descriptors: DescriptorSet): void {
  const serve = (call: ServerDuplexStream<ReflectionRequest, Uint8Array>) => {
    call.on('data', (request: ReflectionRequest) => {
      // A client that asks without reading waits for its answers to drain: memory stays bounded.
      if (!call.write(encodeResponse(request, answer(descriptors, request)))) {
        call.pause();
        call.once('drain', () => call.resume());
      }
    });
    call.on('end', () => call.end());
    // A client that goes away mid-stream is its own business, not an error of mcrd's.
    call.on('error', () => undefined);
  };
  for (const service of REFLECTION_SERVICES) server.addService(definition(service), { ServerReflectionInfo: serve });
}
