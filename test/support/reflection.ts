/**
 * A client of gRPC server reflection (grpc.reflection.v1) for the end-to-end tests, built only from
 * the reflection proto that @grpc/reflection ships: no mcr proto file is involved, so what it learns
 * about mcr.v1 comes from the server alone, as it does for grpcurl.
 *
 * describeSymbol() does what `grpcurl describe` does: fetch the file declaring a symbol, then every
 * file it imports that the server did not send along, decode them all as FileDescriptorProtos and
 * link them into a registry in which the symbol's types resolve. The registry takes fully-qualified
 * type names only, as the compiler writes them: what the server sends is linked as it is.
 *
 * Both reflection versions: grpc.reflection.v1 (the default) and v1alpha, which older clients use.
 */
import { create, createFileRegistry, fromBinary, FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorProto, FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'path';

export type ReflectionVersion = 'v1' | 'v1alpha';

function reflectionProto(version: ReflectionVersion): string {
  return path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto', 'grpc', 'reflection', version, 'reflection.proto');
}
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

function loadStubConstructor(version: ReflectionVersion): new (address: string, credentials: grpc.ChannelCredentials) => ReflectionStub {
  const definition = protoLoader.loadSync(reflectionProto(version), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: Record<ReflectionVersion, { ServerReflection: new (address: string, credentials: grpc.ChannelCredentials) => ReflectionStub }> };
  };
  return loaded.grpc.reflection[version].ServerReflection;
}

export class ReflectionClient {
  private readonly stub: ReflectionStub;

  constructor(socketPath: string, version: ReflectionVersion = 'v1') {
    this.stub = new (loadStubConstructor(version))(`unix:${socketPath}`, grpc.credentials.createInsecure());
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
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: importsFirst(files) }));
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

/** The files ordered so that each comes after the files it imports (the order the registry links in). */
function importsFirst(files: Map<string, FileDescriptorProto>): FileDescriptorProto[] {
  const ordered: FileDescriptorProto[] = [];
  const done = new Set<string>();
  const visit = (file: FileDescriptorProto) => {
    if (done.has(file.name)) return;
    done.add(file.name);
    for (const dependency of file.dependency) {
      const imported = files.get(dependency);
      if (imported) visit(imported);
    }
    ordered.push(file);
  };
  for (const file of files.values()) visit(file);
  return ordered;
}
