/** RuleStore.apply: one journal record per real change, none for a no-op or a dry run, all or nothing, ABORTED. */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { DeepPartial, Rule } from '../../gen/mcr/v1/rules';
import { ApiError, toApiError } from '../../server/api/errors';
import { RuleError } from '../../server/rules/errors';
import { decodeJournal } from '../../server/rules/journal';
import { JOURNAL_FILE_NAME, RuleStore } from '../../server/rules/store';
import { RuleLimits } from '../../server/rules/validate';

const LIMITS: RuleLimits = { maxRules: 8, maxOutputsPerRule: 4 };
const T0 = 1_700_000_000_000_000_000n;

function def(n: number, spec: DeepPartial<Rule> = {}): Rule {
  return Rule.fromPartial({
    name: `cam${n}`,
    input: { interface: 'eth0', group: `239.1.1.${n}`, port: 5000 },
    outputs: [{ interface: 'eth1', address: `239.9.9.${n}`, port: 6000 }],
    ...spec,
  });
}

async function refusal(promise: Promise<unknown>, code: status, field: string): Promise<ApiError> {
  const err = await promise.then(
    () => expect.fail('the apply was not refused'),
    (e: unknown) => e,
  );
  expect(err, String(err)).to.be.instanceOf(RuleError);
  const error = toApiError(err) as ApiError;
  expect(status[error.code], String(err)).to.equal(status[code]);
  expect(error.field).to.equal(field);
  return error;
}

describe('rule store apply', () => {
  let dir: string;
  let store: RuleStore;
  const journalFile = () => path.join(dir, 'state', JOURNAL_FILE_NAME);
  const stat = () => fs.statSync(journalFile());
  /** The journal's records, parsed. */
  const records = () => decodeJournal(fs.readFileSync(journalFile())).records.map((r) => JSON.parse(r) as { generation: string; put: unknown[]; remove: string[] });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-apply-'));
    store = await RuleStore.open(path.join(dir, 'state'), LIMITS);
  });

  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('journals the whole set as one record and bumps the generation once', async () => {
    const applied = await store.apply([def(1), def(2), def(3)], { replace: false }, T0);
    expect(applied.added.map((r) => r.name)).to.deep.equal(['cam1', 'cam2', 'cam3']);
    expect(applied.generation).to.equal(1n);
    expect(store.generation).to.equal(1n);
    expect(records().map((r) => [r.generation, r.put.length, r.remove])).to.deep.equal([['1', 3, []]]);
  });

  it('applying the same set again writes nothing and keeps the generation', async () => {
    await store.apply([def(1), def(2)], { replace: true }, T0);
    const before = stat();
    const again = await store.apply([def(1), def(2)], { replace: true }, T0 + 1n);
    expect(again.unchanged.map((r) => r.name)).to.deep.equal(['cam1', 'cam2']);
    expect([again.added, again.changed, again.removed]).to.deep.equal([[], [], []]);
    expect(again.generation).to.equal(1n);
    expect(store.generation).to.equal(1n);
    expect(stat().mtimeMs).to.equal(before.mtimeMs);
    expect(stat().size).to.equal(before.size);
    expect(records()).to.have.length(1);
  });

  it('a dry run reports exactly what the real apply then does, and changes nothing', async () => {
    await store.apply([def(1), def(2), def(3)], { replace: true }, T0);
    const desired = [def(1), def(2, { outputs: [{ interface: 'eth2', address: '239.9.9.2', port: 6000 }] }), def(4)];
    const dry = await store.apply(desired, { replace: true }, T0 + 5n, { dryRun: true });
    expect(dry.generation).to.equal(1n);
    expect(store.find('cam3')).to.not.equal(undefined);
    expect(store.find('cam4')).to.equal(undefined);
    const real = await store.apply(desired, { replace: true }, T0 + 5n);
    expect({ ...dry, generation: 0n }).to.deep.equal({ ...real, generation: 0n });
    expect(real.generation).to.equal(2n);
    expect(real.added.map((r) => r.name)).to.deep.equal(['cam4']);
    expect(real.changed.map((r) => r.name)).to.deep.equal(['cam2']);
    expect(real.removed.map((r) => r.name)).to.deep.equal(['cam3']);
    expect(real.unchanged.map((r) => r.name)).to.deep.equal(['cam1']);
  });

  it('refuses a stale expected generation with ABORTED and applies a current one', async () => {
    await store.apply([def(1)], { replace: false }, T0);
    await refusal(store.apply([def(2)], { replace: false, expectedGeneration: 0n }, T0), status.ABORTED, 'expected_generation');
    expect(store.find('cam2')).to.equal(undefined);
    const applied = await store.apply([def(2)], { replace: false, expectedGeneration: 1n }, T0);
    expect(applied.generation).to.equal(2n);
  });

  it('is all or nothing: one invalid rule and nothing is applied', async () => {
    await store.apply([def(1)], { replace: false }, T0);
    const before = fs.readFileSync(journalFile(), 'utf8');
    await refusal(
      store.apply([def(2), def(3, { outputs: [{ interface: 'eth1', address: '239.9.9.3', port: 70000 }] })], { replace: true }, T0),
      status.INVALID_ARGUMENT,
      'rules[1].outputs[0].port',
    );
    expect(fs.readFileSync(journalFile(), 'utf8')).to.equal(before);
    expect(store.list().map((r) => r.name)).to.deep.equal(['cam1']);
  });

  it('a changed rule keeps its id and creation time; a reopened store has the result', async () => {
    const [first] = (await store.apply([def(1)], { replace: false }, T0)).added;
    const [changed] = (await store.apply([def(1, { input: { interface: 'eth0', group: '239.1.1.99', port: 5000 } })], { replace: false }, T0 + 9n)).changed;
    expect(changed).to.include({ id: first.id, generation: 2n, createdUnixNanos: T0, updatedUnixNanos: T0 + 9n });
    const reopened = await RuleStore.open(path.join(dir, 'state'), LIMITS);
    expect(reopened.find('cam1')).to.deep.equal(changed);
    expect(reopened.generation).to.equal(2n);
    await reopened.close();
  });

  describe('planned from the last apply (the same rule objects sent again, decision 0046)', () => {
    const names = (rules: readonly Rule[]) => rules.map((r) => r.name);
    const set = () => [def(1), def(2), def(3)];

    it('sees every change made between two applies: replace removes a rule created since, brings back one deleted or changed since', async () => {
      const rules = set();
      await store.apply(rules, { replace: true }, T0);
      await store.create(def(4), T0 + 1n);
      const again = await store.apply(rules, { replace: true }, T0 + 2n);
      expect(names(again.removed)).to.deep.equal(['cam4']);
      expect(names(again.unchanged)).to.deep.equal(['cam1', 'cam2', 'cam3']);
      await store.delete('cam2', undefined);
      expect(names((await store.apply(rules, { replace: true }, T0 + 3n)).added)).to.deep.equal(['cam2']);
      await store.update('cam3', def(3, { outputs: [{ interface: 'eth1', address: '239.9.9.33', port: 6000 }] }), undefined, T0 + 4n);
      const back = await store.apply(rules, { replace: true }, T0 + 5n);
      expect(names(back.changed)).to.deep.equal(['cam3']);
      expect(back.changed[0].outputs[0].address).to.equal('239.9.9.3');
      expect(store.list().map((r) => r.generation)).to.deep.equal(store.list().map((r) => (r.name === 'cam3' ? 3n : 1n)));
    });

    it('a dry run is not what the next apply starts from: the same set applied for real is made', async () => {
      const rules = set();
      await store.apply(rules, { replace: true }, T0);
      const changed = rules.slice();
      changed[1] = def(2, { outputs: [{ interface: 'eth1', address: '239.9.9.22', port: 6000 }] });
      const dry = await store.apply(changed, { replace: true }, T0 + 1n, { dryRun: true });
      expect(names(dry.changed)).to.deep.equal(['cam2']);
      const real = await store.apply(changed, { replace: true }, T0 + 2n);
      expect(names(real.changed)).to.deep.equal(['cam2']);
      expect(store.find('cam2')!.outputs[0].address).to.equal('239.9.9.22');
      expect(store.find('cam2')!.generation).to.equal(2n);
    });

    it('an apply whose write failed is not what the next apply starts from: the same set is made again', async () => {
      const rules = set();
      await store.apply(rules, { replace: true }, T0);
      const changed = rules.slice();
      changed[0] = def(1, { outputs: [{ interface: 'eth1', address: '239.9.9.11', port: 6000 }] });
      const handle = await fs.promises.open(path.join(dir, 'probe'), 'w');
      const prototype = Object.getPrototypeOf(handle) as { datasync: () => Promise<void> };
      await handle.close();
      const original = prototype.datasync;
      prototype.datasync = () => Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      try {
        const failed = await store.apply(changed, { replace: true }, T0 + 1n).then(
          () => undefined,
          (err: NodeJS.ErrnoException) => err.code,
        );
        expect(failed).to.equal('EIO');
      } finally {
        prototype.datasync = original;
      }
      expect(store.find('cam1')!.outputs[0].address).to.equal('239.9.9.1');
      const again = await store.apply(changed, { replace: true }, T0 + 2n);
      expect(names(again.changed)).to.deep.equal(['cam1']);
      expect(store.find('cam1')!.outputs[0].address).to.equal('239.9.9.11');
    });

    it('answers with the stored rules themselves, each at its own generation', async () => {
      const rules = set();
      await store.apply(rules, { replace: true }, T0);
      const changed = rules.slice();
      changed[2] = def(3, { outputs: [{ interface: 'eth1', address: '239.9.9.33', port: 6000 }] });
      const applied = await store.apply(changed, { replace: true }, T0 + 1n);
      expect(names(applied.changed)).to.deep.equal(['cam3']);
      expect(applied.changed[0]).to.include({ generation: 2n, createdUnixNanos: T0, updatedUnixNanos: T0 + 1n });
      applied.unchanged.forEach((rule) => expect(rule).to.deep.equal(store.find(rule.id)));
      const back = await store.apply(rules, { replace: true }, T0 + 2n);
      expect(back.changed[0]).to.include({ name: 'cam3', generation: 3n });
      expect(back.unchanged.map((r) => r.generation)).to.deep.equal([1n, 1n]);
      const reopened = await RuleStore.open(path.join(dir, 'state'), LIMITS);
      expect(reopened.list()).to.deep.equal(store.list());
      await reopened.close();
    });
  });
});
