/**
 * docs/reference/grpcurl.md has an example for every RPC of proto/mcr/v1, and each example's request
 * body is exactly a valid request of that RPC in the proto3 JSON mapping (no misspelt or unknown
 * field: decoding and encoding it again gives the same JSON, defaults aside).
 */
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';

import * as rules from '../../gen/mcr/v1/rules';
import * as stats from '../../gen/mcr/v1/stats';
import * as system from '../../gen/mcr/v1/system';
import * as trace from '../../gen/mcr/v1/trace';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const DOC = path.join(REPO_ROOT, 'docs', 'reference', 'grpcurl.md');

interface MessageCodec {
  fromJSON(json: unknown): unknown;
  toJSON(message: unknown): unknown;
}
const MESSAGES = { ...rules, ...stats, ...system, ...trace } as unknown as Record<string, MessageCodec>;

/** "mcr.v1.RuleService/CreateRule" → "CreateRuleRequest", from the .proto files. */
function requestTypes(): Map<string, string> {
  const types = new Map<string, string>();
  const dir = path.join(REPO_ROOT, 'proto', 'mcr', 'v1');
  for (const file of fs.readdirSync(dir)) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const service of text.matchAll(/service (\w+) \{([\s\S]*?)\n\}/g)) {
      for (const rpc of service[2].matchAll(/rpc (\w+)\((\w+)\)/g)) types.set(`mcr.v1.${service[1]}/${rpc[1]}`, rpc[2]);
    }
  }
  return types;
}

/** `value` without the entries proto3 JSON leaves out (empty strings, zeros, false, empty lists). */
function withoutDefaults(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDefaults);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === '' || v === 0 || v === false || (Array.isArray(v) && v.length === 0)) continue;
    out[key] = withoutDefaults(v);
  }
  return out;
}

describe('docs: grpcurl examples', () => {
  const examples = [...fs.readFileSync(DOC, 'utf8').matchAll(/^mcr -d '(.*)' (mcr\.v1\.\w+\/\w+)$/gm)].map((m) => ({ body: m[1], method: m[2] }));
  const types = requestTypes();

  it('has an example for every RPC of mcr.v1', () => {
    expect(types.size, 'RPCs found in the protos').to.be.greaterThan(15);
    expect([...new Set(examples.map((e) => e.method))].sort()).to.deep.equal([...types.keys()].sort());
  });

  it('gives each RPC a request body that is exactly a valid request', () => {
    for (const { body, method } of examples) {
      const codec = MESSAGES[types.get(method)!];
      expect(codec, `${method}: request type ${types.get(method)}`).to.not.equal(undefined);
      const json = JSON.parse(body) as unknown;
      expect(codec.toJSON(codec.fromJSON(json)), method).to.deep.equal(withoutDefaults(json));
    }
  });
});
