/**
 * google.rpc's status.proto and error_details.proto (the types of the error details mcrd sends in
 * `grpc-status-details-bin`, docs/decisions/0021), from the npm package google-proto-files. Both
 * `npm run gen` (scripts/generate.ts: ts-proto code to encode them) and scripts/build-descriptors.ts
 * (reflection serves them) copy them into a scratch tree under their canonical names, since a
 * descriptor's name is its path below the buf input.
 */
import fs from 'fs';
import path from 'path';

/** The google.rpc files: served name, source in node_modules. */
export function googleRpcProtos(root: string): Array<{ name: string; source: string }> {
  const base = path.dirname(require.resolve('google-proto-files/package.json', { paths: [root] }));
  return ['google/rpc/status.proto', 'google/rpc/error_details.proto'].map((name) => ({ name, source: path.join(base, name) }));
}

/** Copies each file to `scratch` under its name. */
export function stage(scratch: string, files: Array<{ name: string; source: string }>): void {
  for (const { name, source } of files) {
    fs.mkdirSync(path.dirname(path.join(scratch, name)), { recursive: true });
    fs.copyFileSync(source, path.join(scratch, name));
  }
}
