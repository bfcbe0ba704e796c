import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { DeepPartial, Rule, RuleState } from '../../gen/mcr/v1/rules';
import { ApiError } from '../../server/api/errors';
import { deriveRuleId } from '../../server/rules/id';
import { RuleStore, StoreCorruptError } from '../../server/rules/store';
import { RuleLimits } from '../../server/rules/validate';

const LIMITS: RuleLimits = { maxRules: 5, maxOutputsPerRule: 4 };
const T0 = 1_700_000_000_000_000_000n;
const T1 = T0 + 1_000_000_000n;

type Spec = DeepPartial<Rule>;

/** A valid definition capturing 239.1.1.<n>:5000 on eth0. */
function definition(n: number, spec: Spec = {}): Rule {
  return Rule.fromPartial({
    input: { interface: 'eth0', group: `239.1.1.${n}`, port: 5000 },
    outputs: [{ interface: 'eth1', address: `239.9.9.${n}`, port: 6000 }],
    ...spec,
  });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  return expect.fail('resolved');
}

async function apiRejection(promise: Promise<unknown>, code: status, field: string): Promise<ApiError> {
  const err = await rejection(promise);
  expect(err, String(err)).to.be.instanceOf(ApiError);
  const apiError = err as ApiError;
  expect(status[apiError.code], apiError.message).to.equal(status[code]);
  expect(apiError.field, apiError.message).to.equal(field);
  return apiError;
}

describe('rule store', () => {
  let dir: string;
  let file: string;
  const open = () => RuleStore.open(dir, LIMITS);
  const onDisk = () => JSON.parse(fs.readFileSync(file, 'utf8'));

  beforeEach(() => {
    dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-store-')), 'state');
    file = path.join(dir, 'rules.json');
  });

  afterEach(() => {
    const parent = path.dirname(dir);
    if (fs.existsSync(dir)) fs.chmodSync(dir, 0o700);
    fs.rmSync(parent, { recursive: true, force: true });
  });

  describe('open', () => {
    it('creates a missing state directory (0700) and starts empty without writing', async () => {
      const store = await open();
      expect(store.path).to.equal(file);
      expect(fs.statSync(dir).mode & 0o777).to.equal(0o700);
      expect(store.list()).to.deep.equal([]);
      expect(store.generation).to.equal(0n);
      expect(fs.existsSync(file)).to.equal(false);
    });

    it('removes a temporary file left by a crash and keeps the store', async () => {
      const first = await open();
      await first.create(definition(1), T0);
      fs.writeFileSync(`${file}.tmp`, '{"half": ');
      const store = await open();
      expect(fs.existsSync(`${file}.tmp`)).to.equal(false);
      expect(store.list().map((r) => r.input!.group)).to.deep.equal(['239.1.1.1']);
    });
  });

  describe('create', () => {
    it('derives the id from the match key and starts at generation 1', async () => {
      const store = await open();
      const rule = await store.create(definition(1, { name: 'cam1' }), T0);
      expect(rule.id).to.equal(deriveRuleId(rule.input!));
      expect(rule).to.include({ name: 'cam1', generation: 1n, createdUnixNanos: T0, updatedUnixNanos: T0 });
      expect(store.generation).to.equal(1n);
      expect(store.find(rule.id)).to.deep.equal(rule);
      expect(store.find('cam1')).to.deep.equal(rule);
      expect(store.find('nothing')).to.equal(undefined);
    });

    it('keeps an id the client chose and drops output-only fields', async () => {
      const store = await open();
      const rule = await store.create(
        definition(1, { id: 'studio-a', generation: 9n, status: { state: RuleState.RULE_STATE_ACTIVE, reason: '', worker: 1, lastPacketUnixNanos: 1n } }),
        T0,
      );
      expect(rule.id).to.equal('studio-a');
      expect(rule.generation).to.equal(1n);
      expect(rule.status).to.equal(undefined);
    });

    it('lists rules sorted by id, as copies', async () => {
      const store = await open();
      for (const id of ['c', 'a', 'b']) await store.create(definition(id.charCodeAt(0), { id }), T0);
      const listed = store.list();
      expect(listed.map((r) => r.id)).to.deep.equal(['a', 'b', 'c']);
      listed[0].outputs[0].port = 1;
      listed[0].input!.port = 1;
      const found = store.find('a')!;
      found.name = 'changed';
      expect(store.find('a')).to.deep.include({ name: '' });
      expect(store.list()[0].outputs[0].port).to.equal(6000);
      expect(store.list()[0].input!.port).to.equal(5000);
    });

    it('validates the definition itself', async () => {
      const store = await open();
      await apiRejection(store.create(definition(1, { outputs: [] }), T0), status.INVALID_ARGUMENT, 'rule.outputs');
    });

    it('refuses a second rule with the same match key, naming the rule that has it', async () => {
      const store = await open();
      const first = await store.create(definition(1, { name: 'cam1' }), T0);
      const err = await apiRejection(store.create(definition(1, { name: 'other', id: 'other' }), T0), status.ALREADY_EXISTS, 'rule.input');
      expect(err.message).to.contain(first.id).and.to.contain('cam1');
      // Same key with another source is another rule.
      await store.create(definition(1, { input: { interface: 'eth0', group: '239.1.1.1', port: 5000, source: '10.0.0.1' } }), T0);
    });

    it('refuses an id, a name or an id/name clash that exists', async () => {
      const store = await open();
      await store.create(definition(1, { id: 'one', name: 'cam1' }), T0);
      await apiRejection(store.create(definition(2, { id: 'one' }), T0), status.ALREADY_EXISTS, 'rule.id');
      await apiRejection(store.create(definition(2, { name: 'cam1' }), T0), status.ALREADY_EXISTS, 'rule.name');
      await apiRejection(store.create(definition(2, { name: 'one' }), T0), status.ALREADY_EXISTS, 'rule.name');
      await apiRejection(store.create(definition(2, { id: 'cam1' }), T0), status.ALREADY_EXISTS, 'rule.id');
      expect(store.list()).to.have.length(1);
      expect(store.generation).to.equal(1n);
    });

    it('refuses more than maxRules with RESOURCE_EXHAUSTED', async () => {
      const store = await open();
      for (let n = 1; n <= LIMITS.maxRules; n++) await store.create(definition(n), T0);
      await apiRejection(store.create(definition(99), T0), status.RESOURCE_EXHAUSTED, 'rule');
      expect(store.list()).to.have.length(LIMITS.maxRules);
    });
  });

  describe('update', () => {
    it('replaces the definition, keeps id and creation time, bumps the generation', async () => {
      const store = await open();
      const before = await store.create(definition(1, { name: 'cam1' }), T0);
      const result = await store.update('cam1', definition(7, { name: 'cam7' }), 1n, T1);
      expect(result.before).to.deep.equal(before);
      expect(result.after).to.deep.include({ id: before.id, name: 'cam7', generation: 2n, createdUnixNanos: T0, updatedUnixNanos: T1 });
      expect(result.after.input!.group).to.equal('239.1.1.7');
      expect(store.find(before.id)).to.deep.equal(result.after);
      expect(store.find('cam1')).to.equal(undefined);
      expect(store.find('cam7')!.id).to.equal(before.id);
      expect(store.generation).to.equal(2n);
      // The old match key is free again, but its derived id stays with the updated rule.
      const err = await apiRejection(store.create(definition(1), T1), status.ALREADY_EXISTS, 'rule.id');
      expect(err.message).to.contain('choose an id');
      await store.create(definition(1, { id: 'cam1-again' }), T1);
    });

    it('accepts the rule\'s own id, name and match key', async () => {
      const store = await open();
      const rule = await store.create(definition(1, { name: 'cam1' }), T0);
      const { after } = await store.update(rule.id, definition(1, { id: rule.id, name: 'cam1', outputs: [{ interface: 'eth2', address: '10.0.0.9', port: 7000 }] }), undefined, T1);
      expect(after.outputs[0].interface).to.equal('eth2');
    });

    it('answers NOT_FOUND, ABORTED, INVALID_ARGUMENT and ALREADY_EXISTS with the field at fault', async () => {
      const store = await open();
      const rule = await store.create(definition(1, { name: 'cam1' }), T0);
      await store.create(definition(2, { name: 'cam2' }), T0);
      await apiRejection(store.update('nope', definition(3), undefined, T1), status.NOT_FOUND, 'rule');
      const stale = await apiRejection(store.update('cam1', definition(3), 5n, T1), status.ABORTED, 'expected_generation');
      expect(stale.message).to.contain('5').and.to.contain('generation 1');
      await apiRejection(store.update('cam1', definition(3, { id: 'r-ffffffffffff' }), undefined, T1), status.INVALID_ARGUMENT, 'definition.id');
      await apiRejection(store.update('cam1', definition(2), undefined, T1), status.ALREADY_EXISTS, 'definition.input');
      await apiRejection(store.update('cam1', definition(3, { name: 'cam2' }), undefined, T1), status.ALREADY_EXISTS, 'definition.name');
      await apiRejection(store.update('cam1', definition(3, { outputs: [] }), undefined, T1), status.INVALID_ARGUMENT, 'definition.outputs');
      expect(store.find(rule.id)).to.deep.equal(rule);
      expect(store.generation).to.equal(2n);
    });
  });

  describe('delete', () => {
    it('removes the rule and returns it as it was', async () => {
      const store = await open();
      const rule = await store.create(definition(1, { name: 'cam1' }), T0);
      await apiRejection(store.delete('nope', undefined), status.NOT_FOUND, 'rule');
      await apiRejection(store.delete('cam1', 2n), status.ABORTED, 'expected_generation');
      expect(await store.delete('cam1', 1n)).to.deep.equal(rule);
      expect(store.find(rule.id)).to.equal(undefined);
      expect(store.list()).to.deep.equal([]);
      expect(store.generation).to.equal(2n);
    });
  });

  describe('persistence', () => {
    it('restores every rule and the generation on reopen', async () => {
      const store = await open();
      await store.create(definition(1, { name: 'cam1' }), T0);
      await store.create(definition(2, { id: 'two', outputs: [{ interface: 'wg0', address: '10.20.0.7', port: 6000, ttl: 64, dscp: 46 }] }), T0);
      await store.create(definition(3), T0);
      await store.update('cam1', definition(1, { name: 'cam1', outputs: [{ interface: 'eth1', address: '239.9.9.1', port: 6001, ttl: 1 }] }), undefined, T1);
      await store.delete(deriveRuleId(definition(3).input!), undefined);
      const reopened = await open();
      expect(reopened.list()).to.deep.equal(store.list());
      expect(reopened.generation).to.equal(5n);
      expect(reopened.find('two')!.outputs[0]).to.deep.equal({ interface: 'wg0', address: '10.20.0.7', port: 6000, ttl: 64, dscp: 46 });
      expect(reopened.find('cam1')!.outputs[0]).to.deep.equal({ interface: 'eth1', address: '239.9.9.1', port: 6001, ttl: 1, dscp: undefined });
    });

    it('writes the documented format with mode 0600', async () => {
      const store = await open();
      const rule = await store.create(definition(1, { name: 'cam1' }), T0);
      expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
      expect(onDisk()).to.deep.equal({
        format: 'mcr-rules',
        version: 1,
        generation: '1',
        rules: [
          {
            id: rule.id,
            name: 'cam1',
            input: { interface: 'eth0', group: '239.1.1.1', port: 5000 },
            outputs: [{ interface: 'eth1', address: '239.9.9.1', port: 6000 }],
            generation: '1',
            createdUnixNanos: T0.toString(),
            updatedUnixNanos: T0.toString(),
          },
        ],
      });
    });
  });

  describe('dry run', () => {
    it('runs every check and returns the would-be result without writing', async () => {
      const store = await open();
      const rule = await store.create(definition(1, { name: 'cam1' }), T0);
      const written = fs.readFileSync(file, 'utf8');

      const wouldBe = await store.create(definition(2, { name: 'cam2' }), T1, { dryRun: true });
      expect(wouldBe).to.deep.include({ id: deriveRuleId(wouldBe.input!), name: 'cam2', generation: 1n, createdUnixNanos: T1 });
      const { after } = await store.update('cam1', definition(3), 1n, T1, { dryRun: true });
      expect(after).to.deep.include({ id: rule.id, generation: 2n, updatedUnixNanos: T1 });
      await apiRejection(store.create(definition(1), T1, { dryRun: true }), status.ALREADY_EXISTS, 'rule.input');
      await apiRejection(store.update('cam1', definition(3), 7n, T1, { dryRun: true }), status.ABORTED, 'expected_generation');

      expect(fs.readFileSync(file, 'utf8')).to.equal(written);
      expect(store.list()).to.deep.equal([rule]);
      expect(store.generation).to.equal(1n);
      expect(store.find('cam2')).to.equal(undefined);
    });

    it('writes nothing into an empty state directory', async () => {
      const store = await open();
      await store.create(definition(1), T0, { dryRun: true });
      expect(fs.readdirSync(dir)).to.deep.equal([]);
    });
  });

  describe('corrupt files', () => {
    const valid = (rules: unknown[]) => ({ format: 'mcr-rules', version: 1, generation: '3', rules });
    const ruleJson = (n: number, extra: object = {}) => ({
      ...(Rule.toJSON({ ...definition(n), id: `rule-${n}`, generation: 1n }) as object),
      ...extra,
    });
    const cases: Array<[what: string, content: string, problem: RegExp]> = [
      ['an empty file', '', /not valid JSON/],
      ['a partial write', JSON.stringify(valid([ruleJson(1)])).slice(0, 60), /not valid JSON/],
      ['a JSON array', '[]', /not a JSON object/],
      ['another format', JSON.stringify({ ...valid([]), format: 'other' }), /format/],
      ['another version', JSON.stringify({ ...valid([]), version: 2 }), /version/],
      ['a numeric generation', JSON.stringify({ ...valid([]), generation: 3 }), /generation/],
      ['rules that are not an array', JSON.stringify({ ...valid([]), rules: {} }), /rules is not an array/],
      ['a rule that is not an object', JSON.stringify(valid([ruleJson(1), 'x'])), /rules\[1\] is not a JSON object/],
      ['an invalid rule', JSON.stringify(valid([ruleJson(1), ruleJson(2, { input: { interface: 'eth0', group: '239.1.1.2', port: 0 } })])), /rules\[1\]\.input\.port/],
      ['a rule without id', JSON.stringify(valid([ruleJson(1, { id: '' })])), /rules\[0\]\.id/],
      ['a rule without generation', JSON.stringify(valid([ruleJson(1, { generation: undefined })])), /rules\[0\]\.generation/],
      ['a garbled generation', JSON.stringify(valid([ruleJson(1, { generation: 'x' })])), /rules\[0\]/],
      ['a duplicate id', JSON.stringify(valid([ruleJson(1), ruleJson(2, { id: 'rule-1' })])), /rules\[1\]\.id/],
      ['a duplicate match key', JSON.stringify(valid([ruleJson(1), ruleJson(1, { id: 'rule-9' })])), /rules\[1\]\.input.*rule-1/],
      ['a duplicate name', JSON.stringify(valid([ruleJson(1, { name: 'x' }), ruleJson(2, { name: 'x' })])), /rules\[1\]\.name/],
      ['more rules than the limit', JSON.stringify(valid([1, 2, 3, 4, 5, 6].map((n) => ruleJson(n)))), /limit/],
    ];
    for (const [what, content, problem] of cases) {
      it(`refuses ${what} with StoreCorruptError and leaves the file alone`, async () => {
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(file, content);
        const err = await rejection(open());
        expect(err, String(err)).to.be.instanceOf(StoreCorruptError);
        expect((err as StoreCorruptError).path).to.equal(file);
        expect(err.message).to.contain(file);
        expect(err.message).to.match(problem);
        expect(fs.readFileSync(file, 'utf8')).to.equal(content);
      });
    }

    it('reads a valid file written by hand', async () => {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(file, JSON.stringify(valid([ruleJson(2), ruleJson(1)])));
      const store = await open();
      expect(store.list().map((r) => r.id)).to.deep.equal(['rule-1', 'rule-2']);
      expect(store.generation).to.equal(3n);
    });
  });

  describe('concurrency', () => {
    it('serializes mutations issued together: each sees the ones before it', async () => {
      const store = await open();
      const results = await Promise.allSettled([
        store.create(definition(1, { name: 'cam1' }), T0),
        store.update('cam1', definition(1, { name: 'cam1', outputs: [{ interface: 'eth1', address: '239.9.9.1', port: 6001 }] }), 1n, T1),
        store.create(definition(1, { name: 'again' }), T0),
        store.delete('cam1', 2n),
        store.create(definition(1, { name: 'again' }), T0),
      ]);
      expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect(store.list().map((r) => r.name)).to.deep.equal(['again']);
      expect(store.generation).to.equal(4n);
      expect(onDisk().generation).to.equal('4');
    });

    it('lets exactly one of many racing creates of one match key win', async () => {
      const store = await open();
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.create(definition(1, { name: `n${i}` }), T0)));
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      for (const result of results) {
        if (result.status === 'rejected') expect((result.reason as ApiError).code, String(result.reason)).to.equal(status.ALREADY_EXISTS);
      }
      expect((await open()).list()).to.have.length(1);
    });
  });

  describe('a failed write', () => {
    it('rejects and leaves memory and disk unchanged; the store works again once writable', async () => {
      const store = await open();
      const rule = await store.create(definition(1, { name: 'cam1' }), T0);
      const written = fs.readFileSync(file, 'utf8');
      fs.mkdirSync(`${file}.tmp`); // the temporary file cannot be created: every write fails

      for (const attempt of [
        store.create(definition(2), T1),
        store.update('cam1', definition(3), undefined, T1),
        store.delete('cam1', undefined),
      ]) {
        const err = await rejection(attempt);
        expect(err).not.to.be.instanceOf(ApiError);
        expect((err as NodeJS.ErrnoException).code).to.equal('EISDIR');
      }
      expect(store.list()).to.deep.equal([rule]);
      expect(store.generation).to.equal(1n);
      expect(fs.readFileSync(file, 'utf8')).to.equal(written);

      fs.rmdirSync(`${file}.tmp`);
      await store.create(definition(2), T1);
      expect((await open()).list()).to.have.length(2);
    });
  });
});
