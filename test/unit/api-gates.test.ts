/**
 * The API's gates, which `npm test` and the pre-commit hook run: `buf lint` (STANDARD) is clean, and
 * `buf breaking` finds no change against the recorded baseline of the last released API
 * (proto/baseline/mcr-v1.binpb). The gate is shown to catch breaks: copies of the protos with a field
 * renamed, a field removed or an RPC removed fail it, and an added field passes. All offline: buf
 * ships the well-known types and the baseline is a file in the repository.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const BUF = path.join(REPO_ROOT, 'node_modules', '.bin', 'buf');
const BASELINE = path.join(REPO_ROOT, 'proto', 'baseline', 'mcr-v1.binpb');

function buf(args: string[], cwd = REPO_ROOT): { code: number | null; output: string } {
  const result = spawnSync(BUF, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw result.error;
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

/** A copy of buf.yaml and proto/mcr in a temporary directory, with `edit` applied to one file. */
function copyWith(file: string, edit: (text: string) => string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-api-gate-'));
  fs.copyFileSync(path.join(REPO_ROOT, 'buf.yaml'), path.join(dir, 'buf.yaml'));
  fs.cpSync(path.join(REPO_ROOT, 'proto', 'mcr'), path.join(dir, 'proto', 'mcr'), { recursive: true });
  const target = path.join(dir, 'proto', 'mcr', 'v1', file);
  const before = fs.readFileSync(target, 'utf8');
  const after = edit(before);
  expect(after, `the edit of ${file} changes it`).to.not.equal(before);
  fs.writeFileSync(target, after);
  return dir;
}

describe('API gates: buf lint and buf breaking', function () {
  this.timeout(120_000);
  const copies: string[] = [];
  const breaking = (dir: string) => buf(['breaking', '--against', BASELINE], dir);
  const copy = (file: string, edit: (text: string) => string) => {
    const dir = copyWith(file, edit);
    copies.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of copies) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('buf lint (STANDARD) is clean', () => {
    const { code, output } = buf(['lint']);
    expect(output).to.equal('');
    expect(code).to.equal(0);
  });

  it('the baseline is a small image of every mcr.v1 file', () => {
    const bytes = fs.readFileSync(BASELINE);
    expect(bytes.length, 'bytes in the committed baseline').to.be.below(64 * 1024);
    const names = fromBinary(FileDescriptorSetSchema, bytes).file.map((f) => f.name);
    const protos = fs.readdirSync(path.join(REPO_ROOT, 'proto', 'mcr', 'v1')).filter((f) => f.endsWith('.proto'));
    expect(names).to.include.members(protos.map((f) => `mcr/v1/${f}`));
  });

  it('the working tree breaks nothing against the baseline', () => {
    const { code, output } = breaking(REPO_ROOT);
    expect(output).to.equal('');
    expect(code).to.equal(0);
  });

  it('passes an added field', () => {
    const dir = copy('trace.proto', (text) => text.replace(/(message DisableTraceRequest \{\n)/, '$1  string comment = 2;\n'));
    expect(breaking(dir)).to.deep.equal({ code: 0, output: '' });
  });

  it('fails a renamed field', () => {
    const dir = copy('trace.proto', (text) => text.replace(/(message DisableTraceRequest \{\n(?:\s*\/\/.*\n)*)  string rule = 1;/, '$1  string rule_ref = 1;'));
    const { code, output } = breaking(dir);
    expect(code).to.not.equal(0);
    expect(output).to.match(/Field "1" with name "rule_ref" on message "DisableTraceRequest" changed option "json_name"|Field "1" on message "DisableTraceRequest" changed name from "rule" to "rule_ref"/);
  });

  it('fails a removed field', () => {
    const dir = copy('rules.proto', (text) => text.replace(/\n\s*bool validate_only = 2;/, ''));
    const { code, output } = breaking(dir);
    expect(code).to.not.equal(0);
    expect(output).to.match(/Previously present field "2" with name "validate_only" on message "CreateRuleRequest" was deleted/);
  });

  it('fails a removed RPC', () => {
    const dir = copy('system.proto', (text) => text.replace(/\n\s*rpc GetLogLevels\(GetLogLevelsRequest\) returns \(GetLogLevelsResponse\);/, ''));
    const { code, output } = breaking(dir);
    expect(code).to.not.equal(0);
    expect(output).to.match(/Previously present RPC "GetLogLevels" on service "SystemService" was deleted/);
  });
});
