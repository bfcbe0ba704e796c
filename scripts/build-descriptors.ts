/**
 * Writes the descriptors server reflection serves (run by `npm run build`, after tsc; not committed):
 *
 *   dist/descriptors/served.binpb     a FileDescriptorSet: every file of proto/ with its imports, then
 *                                     grpc/health/v1/health.proto, grpc/reflection/v1/reflection.proto
 *                                     and grpc/reflection/v1alpha/reflection.proto, then
 *                                     google/rpc/status.proto and google/rpc/error_details.proto
 *                                     (the error details' types, scripts/google-rpc-protos.ts)
 *
 *   node -r ts-node/register/transpile-only scripts/build-descriptors.ts [ROOT]
 *
 * Each file is what `buf build --as-file-descriptor-set` made, with source info (so clients show the
 * comments), byte for byte: the two sets buf writes are concatenated, which is the encoding of one set
 * holding both lists of files (a repeated field may come in any number of pieces). Health's and
 * reflection's files come from their npm packages, copied into a scratch tree under the names their
 * packages declare (grpc-health-check ships health.proto as health/v1/health.proto), since a
 * descriptor's name is its path below the buf input.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { DESCRIPTORS_PATH } from '../server/api/descriptor-set';
import { googleRpcProtos, stage } from './google-rpc-protos';

const ROOT = path.resolve(process.argv[2] ?? path.join(__dirname, '..'));

/** The standard services' .proto files: served name, source in node_modules. */
function standardProtos(): Array<{ name: string; source: string }> {
  const reflectionRoot = path.join(path.dirname(require.resolve('@grpc/reflection/package.json', { paths: [ROOT] })), 'build', 'proto');
  const healthRoot = path.join(path.dirname(require.resolve('grpc-health-check/package.json', { paths: [ROOT] })), 'proto');
  return [
    { name: 'grpc/health/v1/health.proto', source: path.join(healthRoot, 'health', 'v1', 'health.proto') },
    { name: 'grpc/reflection/v1/reflection.proto', source: path.join(reflectionRoot, 'grpc', 'reflection', 'v1', 'reflection.proto') },
    { name: 'grpc/reflection/v1alpha/reflection.proto', source: path.join(reflectionRoot, 'grpc', 'reflection', 'v1alpha', 'reflection.proto') },
  ];
}

/** `buf build INPUT` as a FileDescriptorSet (imports and source info included, buf's own fields left out). */
function bufBuild(input: string): Buffer {
  const buf = path.join(ROOT, 'node_modules', '.bin', 'buf');
  return execFileSync(buf, ['build', input, '--as-file-descriptor-set', '-o', '-'], { cwd: ROOT, maxBuffer: 64 << 20 });
}

function main(): void {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-descriptors-'));
  try {
    stage(scratch, [...standardProtos(), ...googleRpcProtos(ROOT)]);
    const set = Buffer.concat([bufBuild('proto'), bufBuild(scratch)]);
    const out = path.join(ROOT, DESCRIPTORS_PATH);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, set);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

if (require.main === module) main();
