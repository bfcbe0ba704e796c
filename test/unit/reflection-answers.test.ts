/**
 * What server reflection answers, from the descriptors `npm run build` writes (dist/descriptors/):
 * symbols of every kind resolve to their file (followed by its imports), and what is unknown or
 * unreadable gets an error_response with NOT_FOUND or INVALID_ARGUMENT instead of an answer.
 * test/e2e/reflection-clients.test.ts drives the same service with real clients.
 */
import { status } from '@grpc/grpc-js';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { expect } from 'chai';

import { DescriptorSet } from '../../server/api/descriptor-set';
import { decodeRequest, ReflectionAnswer } from '../../server/api/reflection/messages';
import { answer } from '../../server/api/reflection/service';

const descriptors = DescriptorSet.load();

/** A ServerReflectionRequest with one string field set. */
function ask(fieldNo: number, value: string): ReflectionAnswer {
  return answer(descriptors, decodeRequest(new BinaryWriter().tag(fieldNo, WireType.LengthDelimited).string(value).finish()));
}

function fileNames(reply: ReflectionAnswer): string[] {
  if (reply.kind !== 'files') throw new Error(`expected files, got ${JSON.stringify(reply)}`);
  return reply.files.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

const FILE_BY_FILENAME = 3;
const FILE_CONTAINING_SYMBOL = 4;
const ALL_EXTENSION_NUMBERS_OF_TYPE = 6;
const LIST_SERVICES = 7;

describe('server reflection answers', function () {
  it('lists every mcr.v1 service, health and both reflection versions', function () {
    expect(ask(LIST_SERVICES, '')).to.deep.equal({
      kind: 'services',
      names: ['mcr.v1.RuleService', 'mcr.v1.StatsService', 'mcr.v1.SystemService', 'mcr.v1.TraceService', 'grpc.health.v1.Health',
        'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'],
    });
  });

  it('finds the file of a service, a method, a nested map entry, an enum value and a field, the file first, then its imports', function () {
    expect(fileNames(ask(FILE_CONTAINING_SYMBOL, 'mcr.v1.SystemService'))).to.deep.equal(['mcr/v1/system.proto', ...fileNames(ask(FILE_BY_FILENAME, 'mcr/v1/system.proto')).slice(1)]);
    expect(fileNames(ask(FILE_CONTAINING_SYMBOL, 'mcr.v1.RuleService.CreateRule'))[0]).to.equal('mcr/v1/rules.proto');
    expect(fileNames(ask(FILE_CONTAINING_SYMBOL, 'mcr.v1.GetLogLevelsResponse.LevelsEntry'))[0]).to.equal('mcr/v1/system.proto');
    expect(fileNames(ask(FILE_CONTAINING_SYMBOL, 'mcr.v1.WORKER_STATE_RUNNING'))[0]).to.equal('mcr/v1/system.proto');
    expect(fileNames(ask(FILE_CONTAINING_SYMBOL, '.grpc.health.v1.HealthListResponse.statuses'))[0]).to.equal('grpc/health/v1/health.proto');
    expect(fileNames(ask(FILE_BY_FILENAME, 'mcr/v1/system.proto')), 'system.proto imports rules.proto').to.include('mcr/v1/rules.proto');
  });

  it('answers NOT_FOUND for an unknown file, symbol, extension or type; no extension numbers for a message without any', function () {
    expect(ask(FILE_BY_FILENAME, 'mcr/v1/nothing.proto')).to.deep.equal({ kind: 'error', code: status.NOT_FOUND, message: 'file not found: mcr/v1/nothing.proto' });
    expect(ask(FILE_CONTAINING_SYMBOL, 'mcr.v1.Nothing')).to.include({ kind: 'error', code: status.NOT_FOUND });
    const extension = new BinaryWriter().tag(5, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string('mcr.v1.Rule').tag(2, WireType.Varint).int32(100).join().finish();
    expect(answer(descriptors, decodeRequest(extension))).to.deep.equal({ kind: 'error', code: status.NOT_FOUND, message: 'extension not found: 100 of mcr.v1.Rule' });
    expect(ask(ALL_EXTENSION_NUMBERS_OF_TYPE, 'mcr.v1.Rule')).to.deep.equal({ kind: 'extensionNumbers', baseTypeName: 'mcr.v1.Rule', numbers: [] });
    expect(ask(ALL_EXTENSION_NUMBERS_OF_TYPE, 'mcr.v1.Nothing')).to.include({ kind: 'error', code: status.NOT_FOUND });
  });

  it('answers INVALID_ARGUMENT to a request that asks nothing or does not decode', function () {
    expect(answer(descriptors, decodeRequest(new Uint8Array(0)))).to.include({ kind: 'error', code: status.INVALID_ARGUMENT });
    const truncated = Uint8Array.from([FILE_CONTAINING_SYMBOL << 3 | WireType.LengthDelimited, 50, 0x61]);
    expect(answer(descriptors, decodeRequest(truncated))).to.include({ kind: 'error', code: status.INVALID_ARGUMENT });
  });
});
