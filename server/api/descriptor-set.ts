/**
 * The compiler's descriptors of every service mcrd serves: the FileDescriptorSet `npm run build`
 * writes (scripts/build-descriptors.ts: buf's output for proto/ plus health's and reflection's files),
 * kept as the exact bytes buf produced for each file, an index of what each file declares (for server
 * reflection), and a registry of its messages (for strict request decoding).
 *
 * The set is sliced at the wire level (field 1, length-delimited), never decoded and re-encoded:
 * strict clients (grpcurl and buf curl in Go, grpcio in Python) check map entries, names and
 * dependencies, and what they check is what the compiler made. @bufbuild/protobuf decodes a copy only to
 * read the names.
 */
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { create, createFileRegistry, fromBinary, Registry } from '@bufbuild/protobuf';
import {
  DescriptorProto,
  EnumDescriptorProto,
  FieldDescriptorProto,
  FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from '@bufbuild/protobuf/wkt';
import fs from 'fs';
import path from 'path';

export const DESCRIPTORS_PATH = path.join('dist', 'descriptors', 'served.binpb');

export interface ServedFile {
  name: string;
  /** The FileDescriptorProto as buf encoded it. */
  bytes: Uint8Array;
  dependencies: string[];
}

/** An extension field: the message it extends and its number. */
export interface Extension {
  extendee: string;
  number: number;
  file: string;
}

/** Every FileDescriptorProto of a FileDescriptorSet, as the bytes it is encoded with there. */
export function sliceFileDescriptorSet(set: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(set);
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.LengthDelimited) files.push(reader.bytes());
    else reader.skip(wireType, fieldNo);
  }
  return files;
}

/** "a.b" + "C" -> "a.b.C"; "" + "C" -> "C". */
function qualify(scope: string, name: string): string {
  return scope ? `${scope}.${name}` : name;
}

/** A type reference as descriptors write it (".a.b.C") as a full name ("a.b.C"). */
function fullName(reference: string): string {
  return reference.startsWith('.') ? reference.slice(1) : reference;
}

export class DescriptorSet {
  private readonly files = new Map<string, ServedFile>();
  /** Full name of every symbol (service, method, message, field, oneof, enum, enum value, extension) -> its file. */
  private readonly symbols = new Map<string, string>();
  /** Full names of the messages, which are the types extension requests may name. */
  private readonly messages = new Set<string>();
  private readonly extensions: Extension[] = [];
  /** Full names of the services, in file order. */
  readonly services: string[] = [];
  /** Each file decoded, once. */
  private readonly decoded: FileDescriptorProto[] = [];
  private messageRegistry?: Registry;

  constructor(set: Uint8Array) {
    for (const bytes of sliceFileDescriptorSet(set)) {
      const file = fromBinary(FileDescriptorProtoSchema, bytes);
      // buf puts an import in each set that uses it; the first copy of a file is as good as any.
      if (this.files.has(file.name)) continue;
      this.files.set(file.name, { name: file.name, bytes, dependencies: file.dependency });
      this.decoded.push(file);
      const declare = (symbol: string) => this.symbols.set(symbol, file.name);
      const declareEnum = (e: EnumDescriptorProto, scope: string) => {
        declare(qualify(scope, e.name));
        // Enum values are siblings of their enum (C++ scoping), as descriptor.proto names them.
        for (const value of e.value) declare(qualify(scope, value.name));
      };
      const declareExtensions = (fields: FieldDescriptorProto[], scope: string) => {
        for (const field of fields) {
          declare(qualify(scope, field.name));
          this.extensions.push({ extendee: fullName(field.extendee), number: field.number, file: file.name });
        }
      };
      const declareMessages = (messages: DescriptorProto[], scope: string) => {
        for (const message of messages) {
          const name = qualify(scope, message.name);
          declare(name);
          this.messages.add(name);
          for (const field of message.field) declare(qualify(name, field.name));
          for (const oneof of message.oneofDecl) declare(qualify(name, oneof.name));
          for (const e of message.enumType) declareEnum(e, name);
          declareExtensions(message.extension, name);
          declareMessages(message.nestedType, name);
        }
      };
      declareMessages(file.messageType, file.package);
      for (const e of file.enumType) declareEnum(e, file.package);
      declareExtensions(file.extension, file.package);
      for (const service of file.service) {
        const name = qualify(file.package, service.name);
        declare(name);
        this.services.push(name);
        for (const method of service.method) declare(qualify(name, method.name));
      }
    }
  }

  /** Reads the set `npm run build` wrote, looking for dist/descriptors/ above `from`. */
  static load(from: string = __dirname): DescriptorSet {
    for (let dir = from; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, DESCRIPTORS_PATH);
      if (fs.existsSync(candidate)) return new DescriptorSet(fs.readFileSync(candidate));
      if (dir === path.dirname(dir)) throw new Error(`${DESCRIPTORS_PATH} not found above ${from}: run \`npm run build\` (it writes the descriptors reflection serves)`);
    }
  }

  /** Every message, enum and service of the set, resolved (built on first use). */
  registry(): Registry {
    this.messageRegistry ??= createFileRegistry(create(FileDescriptorSetSchema, { file: this.decoded }));
    return this.messageRegistry;
  }

  /** The file named `name` followed by every file it imports, transitively, each once; undefined if unknown. */
  fileWithDependencies(name: string): ServedFile[] | undefined {
    if (!this.files.has(name)) return undefined;
    const out: ServedFile[] = [];
    const seen = new Set<string>();
    const visit = (fileName: string) => {
      const file = this.files.get(fileName);
      if (file === undefined || seen.has(fileName)) return;
      seen.add(fileName);
      out.push(file);
      for (const dependency of file.dependencies) visit(dependency);
    };
    visit(name);
    return out;
  }

  /** The name of the file declaring the symbol (full name, a leading dot allowed), or undefined. */
  fileOfSymbol(symbol: string): string | undefined {
    return this.symbols.get(fullName(symbol));
  }

  /** The file declaring extension `number` of message `extendee`, or undefined. */
  fileOfExtension(extendee: string, number: number): string | undefined {
    return this.extensions.find((e) => e.extendee === fullName(extendee) && e.number === number)?.file;
  }

  /** The extension numbers of message `type` (none for most), or undefined when there is no such message. */
  extensionNumbers(type: string): number[] | undefined {
    if (!this.messages.has(fullName(type))) return undefined;
    return this.extensions.filter((e) => e.extendee === fullName(type)).map((e) => e.number);
  }

  fileNames(): string[] {
    return [...this.files.keys()];
  }
}
