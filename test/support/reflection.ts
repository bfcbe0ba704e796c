/**
 * A client of gRPC server reflection (grpc.reflection.v1) for the end-to-end tests, built only from
 * the reflection proto that @grpc/reflection ships: no mcr proto file is involved, so what it learns
 * about mcr.v1 comes from the server alone, as it does for grpcurl.
 *
 * describeSymbol() does what `grpcurl describe` does: fetch the file declaring a symbol, then every
 * file it imports that the server did not send along, decode them all as FileDescriptorProtos and
 * link them into a registry in which the symbol's types resolve.
 *
 * grpc-js's reflection (@grpc/reflection) names field types relative to their scope ("RuleState",
 * not ".mcr.v1.RuleState"), which descriptor.proto allows ("C++-like scoping rules are used to find
 * the type") and grpcurl's linker resolves. The registry used here only takes fully-qualified names,
 * so they are qualified first, by those scoping rules.
 */
import { create, createFileRegistry, fromBinary, FileRegistry } from '@bufbuild/protobuf';
import { DescriptorProto, FileDescriptorProto, FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'path';

const REFLECTION_PROTO = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto', 'grpc', 'reflection', 'v1', 'reflection.proto');
const DEADLINE_MS = 10_000;

/** ServerReflectionRequest as proto-loader represents it (keepCase): one field of the oneof set. */
type ReflectionRequest = { list_services: string } | { file_containing_symbol: string } | { file_by_filename: string };

/** ServerReflectionResponse as proto-loader represents it (keepCase, oneofs: the set field is named). */
interface ReflectionResponse {
  message_response: 'list_services_response' | 'file_descriptor_response' | 'error_response' | string;
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

interface ReflectionStub extends grpc.Client {
  ServerReflectionInfo(options: grpc.CallOptions): grpc.ClientDuplexStream<ReflectionRequest, ReflectionResponse>;
}

function loadStubConstructor(): new (address: string, credentials: grpc.ChannelCredentials) => ReflectionStub {
  const definition = protoLoader.loadSync(REFLECTION_PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: new (address: string, credentials: grpc.ChannelCredentials) => ReflectionStub } } };
  };
  return loaded.grpc.reflection.v1.ServerReflection;
}

export class ReflectionClient {
  private readonly stub: ReflectionStub;

  constructor(socketPath: string) {
    this.stub = new (loadStubConstructor())(`unix:${socketPath}`, grpc.credentials.createInsecure());
  }

  /** Full names of every service the server offers. */
  async listServices(): Promise<string[]> {
    const response = await this.ask({ list_services: '' }, 'list_services_response');
    return response.list_services_response!.service.map((s) => s.name);
  }

  /** The serialized FileDescriptorProtos answering a file_containing_symbol request. */
  async fileContainingSymbol(symbol: string): Promise<Buffer[]> {
    return (await this.ask({ file_containing_symbol: symbol }, 'file_descriptor_response')).file_descriptor_response!.file_descriptor_proto;
  }

  /** The serialized FileDescriptorProtos answering a file_by_filename request. */
  async fileByFilename(name: string): Promise<Buffer[]> {
    return (await this.ask({ file_by_filename: name }, 'file_descriptor_response')).file_descriptor_response!.file_descriptor_proto;
  }

  /**
   * Decodes the file declaring `symbol` and, transitively, every file it imports, and links them.
   * Throws if a file does not decode, an import cannot be fetched, or the files do not link.
   */
  async describeSymbol(symbol: string): Promise<{ files: FileDescriptorProto[]; registry: FileRegistry }> {
    const files = new Map<string, FileDescriptorProto>();
    const add = (encoded: Buffer[]) => {
      for (const bytes of encoded) {
        const file = fromBinary(FileDescriptorProtoSchema, bytes);
        files.set(file.name, file);
      }
    };
    add(await this.fileContainingSymbol(symbol));
    for (let missing = missingImports(files); missing.length > 0; missing = missingImports(files)) {
      for (const name of missing) add(await this.fileByFilename(name));
      const still = missingImports(files).filter((name) => missing.includes(name));
      if (still.length > 0) throw new Error(`the server did not send the imported file(s) ${still.join(', ')}`);
    }
    qualifyTypeNames([...files.values()]);
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: [...files.values()] }));
    return { files: [...files.values()], registry };
  }

  close(): void {
    this.stub.close();
  }

  /** One request on its own stream; rejects on a gRPC error, an error_response or an unexpected answer. */
  private ask(request: ReflectionRequest, expected: string): Promise<ReflectionResponse> {
    return new Promise((resolve, reject) => {
      const call = this.stub.ServerReflectionInfo({ deadline: Date.now() + DEADLINE_MS });
      let answered = false;
      call.on('data', (response: ReflectionResponse) => {
        if (answered) return;
        answered = true;
        call.end();
        if (response.message_response === 'error_response') {
          const error = response.error_response!;
          reject(new Error(`reflection answered ${JSON.stringify(request)} with error ${error.error_code}: ${error.error_message}`));
        } else if (response.message_response !== expected) {
          reject(new Error(`reflection answered ${JSON.stringify(request)} with ${response.message_response}, expected ${expected}`));
        } else {
          resolve(response);
        }
      });
      call.on('error', (err) => {
        if (!answered) reject(err);
      });
      call.on('end', () => {
        if (!answered) reject(new Error(`reflection closed the stream without answering ${JSON.stringify(request)}`));
      });
      call.write(request);
    });
  }
}

/** Imports of the files in `files` that are not among them. */
function missingImports(files: Map<string, FileDescriptorProto>): string[] {
  const missing = new Set<string>();
  for (const file of files.values()) for (const dependency of file.dependency) if (!files.has(dependency)) missing.add(dependency);
  return [...missing];
}

/** "a.b.C" -> "a.b"; "C" -> "". */
function parentScope(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(0, dot);
}

function qualify(scope: string, name: string): string {
  return scope ? `${scope}.${name}` : name;
}

/** Calls `visit` for every message of `file`, nested ones included, with its full name (no leading dot). */
function forEachMessage(file: FileDescriptorProto, visit: (message: DescriptorProto, fullName: string) => void): void {
  const walk = (messages: DescriptorProto[], scope: string) => {
    for (const message of messages) {
      const fullName = qualify(scope, message.name);
      visit(message, fullName);
      walk(message.nestedType, fullName);
    }
  };
  walk(file.messageType, file.package);
}

/** Full names (no leading dot) of every message and enum the files define. */
function definedTypes(files: FileDescriptorProto[]): Set<string> {
  const types = new Set<string>();
  for (const file of files) {
    for (const e of file.enumType) types.add(qualify(file.package, e.name));
    forEachMessage(file, (message, fullName) => {
      types.add(fullName);
      for (const e of message.enumType) types.add(qualify(fullName, e.name));
    });
  }
  return types;
}

/**
 * Rewrites every relative type reference (fields, extensions, method types) as ".full.name", looking
 * it up from the innermost enclosing scope outwards. A reference that matches nothing is left as it
 * is, for the linker to reject by name.
 */
function qualifyTypeNames(files: FileDescriptorProto[]): void {
  const types = definedTypes(files);
  const resolve = (reference: string, scope: string): string => {
    if (reference === '' || reference.startsWith('.')) return reference;
    for (let s = scope; ; s = parentScope(s)) {
      const candidate = qualify(s, reference);
      if (types.has(candidate)) return `.${candidate}`;
      if (s === '') return reference;
    }
  };
  for (const file of files) {
    for (const extension of file.extension) {
      extension.typeName = resolve(extension.typeName, file.package);
      extension.extendee = resolve(extension.extendee, file.package);
    }
    forEachMessage(file, (message, fullName) => {
      for (const field of [...message.field, ...message.extension]) {
        field.typeName = resolve(field.typeName, fullName);
        field.extendee = resolve(field.extendee, fullName);
      }
    });
    for (const service of file.service) {
      const scope = qualify(file.package, service.name);
      for (const method of service.method) {
        method.inputType = resolve(method.inputType, scope);
        method.outputType = resolve(method.outputType, scope);
      }
    }
  }
}
