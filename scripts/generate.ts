/**
 * `npm run gen`: gen/ from proto/ (buf generate, buf.gen.yaml), then from google.rpc's status.proto and
 * error_details.proto (scripts/google-rpc-protos.ts), staged in a scratch tree under their canonical
 * names so the generated code lands in gen/google/rpc/.
 *
 *   node -r ts-node/register/transpile-only scripts/generate.ts
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { googleRpcProtos, stage } from './google-rpc-protos';

const ROOT = path.resolve(__dirname, '..');

function main(): void {
  const buf = path.join(ROOT, 'node_modules', '.bin', 'buf');
  fs.rmSync(path.join(ROOT, 'gen'), { recursive: true, force: true });
  execFileSync(buf, ['generate'], { cwd: ROOT, stdio: 'inherit' });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-gen-'));
  try {
    stage(scratch, googleRpcProtos(ROOT));
    execFileSync(buf, ['generate', scratch, '--template', 'buf.gen.yaml'], { cwd: ROOT, stdio: 'inherit' });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

if (require.main === module) main();
