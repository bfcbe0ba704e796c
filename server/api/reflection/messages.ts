/**
 * ServerReflectionRequest and ServerReflectionResponse on the wire, written by hand from
 * grpc/reflection/v1/reflection.proto (v1alpha's messages have the same fields and numbers). Six small
 * messages do not justify generated code and a second code generator run; the field numbers are the
 * ones below.
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

/** ServerReflectionRequest fields. */
const REQUEST = { host: 1, fileByFilename: 3, fileContainingSymbol: 4, fileContainingExtension: 5, allExtensionNumbersOfType: 6, listServices: 7 } as const;
/** ExtensionRequest fields. */
const EXTENSION_REQUEST = { containingType: 1, extensionNumber: 2 } as const;
/** ServerReflectionResponse fields. */
const RESPONSE = { validHost: 1, originalRequest: 2, fileDescriptorResponse: 4, allExtensionNumbersResponse: 5, listServicesResponse: 6, errorResponse: 7 } as const;

/** The one question a request asks (the oneof message_request), or why it could not be read. */
export type ReflectionQuestion =
  | { kind: 'fileByFilename'; name: string }
  | { kind: 'fileContainingSymbol'; symbol: string }
  | { kind: 'fileContainingExtension'; containingType: string; number: number }
  | { kind: 'allExtensionNumbersOfType'; type: string }
  | { kind: 'listServices' }
  | { kind: 'none' }
  | { kind: 'malformed'; reason: string };

export interface ReflectionRequest {
  host: string;
  question: ReflectionQuestion;
  /** The request as received, echoed in original_request. */
  raw: Uint8Array;
}

export type ReflectionAnswer =
  | { kind: 'files'; files: Uint8Array[] }
  | { kind: 'extensionNumbers'; baseTypeName: string; numbers: number[] }
  | { kind: 'services'; names: string[] }
  | { kind: 'error'; code: number; message: string };

function decodeExtensionRequest(bytes: Uint8Array): ReflectionQuestion {
  const reader = new BinaryReader(bytes);
  let containingType = '';
  let number = 0;
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === EXTENSION_REQUEST.containingType && wireType === WireType.LengthDelimited) containingType = reader.string(true);
    else if (fieldNo === EXTENSION_REQUEST.extensionNumber && wireType === WireType.Varint) number = reader.int32();
    else reader.skip(wireType, fieldNo);
  }
  return { kind: 'fileContainingExtension', containingType, number };
}

/** Reads a ServerReflectionRequest; never throws (a body that does not decode is a 'malformed' question). */
export function decodeRequest(raw: Uint8Array): ReflectionRequest {
  const reader = new BinaryReader(raw);
  let host = '';
  let question: ReflectionQuestion = { kind: 'none' };
  try {
    while (reader.pos < reader.len) {
      const [fieldNo, wireType] = reader.tag();
      if (wireType !== WireType.LengthDelimited) {
        reader.skip(wireType, fieldNo);
        continue;
      }
      // Last one wins, as for any oneof on the wire.
      switch (fieldNo) {
        case REQUEST.host: host = reader.string(true); break;
        case REQUEST.fileByFilename: question = { kind: 'fileByFilename', name: reader.string(true) }; break;
        case REQUEST.fileContainingSymbol: question = { kind: 'fileContainingSymbol', symbol: reader.string(true) }; break;
        case REQUEST.fileContainingExtension: question = decodeExtensionRequest(reader.bytes()); break;
        case REQUEST.allExtensionNumbersOfType: question = { kind: 'allExtensionNumbersOfType', type: reader.string(true) }; break;
        case REQUEST.listServices: reader.string(true); question = { kind: 'listServices' }; break;
        default: reader.skip(wireType, fieldNo);
      }
    }
  } catch (err) {
    question = { kind: 'malformed', reason: err instanceof Error ? err.message : String(err) };
  }
  return { host, question, raw };
}

/** A ServerReflectionResponse answering `request`. */
export function encodeResponse(request: ReflectionRequest, answer: ReflectionAnswer): Uint8Array {
  const writer = new BinaryWriter();
  if (request.host !== '') writer.tag(RESPONSE.validHost, WireType.LengthDelimited).string(request.host);
  writer.tag(RESPONSE.originalRequest, WireType.LengthDelimited).bytes(request.raw);
  switch (answer.kind) {
    case 'files':
      writer.tag(RESPONSE.fileDescriptorResponse, WireType.LengthDelimited).fork();
      for (const file of answer.files) writer.tag(1, WireType.LengthDelimited).bytes(file);
      writer.join();
      break;
    case 'extensionNumbers':
      writer.tag(RESPONSE.allExtensionNumbersResponse, WireType.LengthDelimited).fork();
      writer.tag(1, WireType.LengthDelimited).string(answer.baseTypeName);
      for (const number of answer.numbers) writer.tag(2, WireType.Varint).int32(number);
      writer.join();
      break;
    case 'services':
      writer.tag(RESPONSE.listServicesResponse, WireType.LengthDelimited).fork();
      for (const name of answer.names) writer.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(name).join();
      writer.join();
      break;
    case 'error':
      writer.tag(RESPONSE.errorResponse, WireType.LengthDelimited).fork();
      writer.tag(1, WireType.Varint).int32(answer.code);
      writer.tag(2, WireType.LengthDelimited).string(answer.message);
      writer.join();
      break;
  }
  return writer.finish();
}
