import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { DeepPartial, OversizePolicy, Rule, RuleState, TtlPolicy } from '../../gen/mcr/v1/rules';
import { ApiError, toApiError } from '../../server/api/errors';
import { RuleError } from '../../server/rules/errors';
import { deriveRuleId } from '../../server/rules/id';
import { decodeJournal, encodeFrame } from '../../server/rules/journal';
import { JOURNAL_FILE_NAME, RuleStore, StoreCorruptError, StoreTuning } from '../../server/rules/store';
import { encodeStore, encodeStoreInSlices } from '../../server/rules/store-file';
import { RuleLimits } from '../../server/rules/validate';
import { gate, stillPending } from '../support/gate';

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

/** A compaction held before it writes its snapshot (StoreTuning.beforeSnapshot) until released. */
function heldCompaction(): { tuning: StoreTuning; started: Promise<void>; release: () => void; fail: (err: Error) => void; count: () => number } {
  const held = gate();
  return { tuning: { compactMinBytes: 1, beforeSnapshot: held.wait }, started: held.entered, release: held.open, fail: held.fail, count: held.entries };
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
  expect(err, String(err)).to.be.instanceOf(RuleError);
  const apiError = toApiError(err) as ApiError;
  expect(status[apiError.code], apiError.message).to.equal(status[code]);
  expect(apiError.field, apiError.message).to.equal(field);
  return apiError;
}

describe('rule store', () => {
  let dir: string;
  let file: string;
  let journal: string;
  let opened: RuleStore[] = [];
  const open = async (tuning?: StoreTuning) => {
    const store = await RuleStore.open(dir, LIMITS, tuning);
    opened.push(store);
    return store;
  };
  const onDisk = () => JSON.parse(fs.readFileSync(file, 'utf8'));
  /** The journal's records, parsed. */
  const records = () => decodeJournal(fs.readFileSync(journal)).records.map((r) => JSON.parse(r) as { generation: string; put: unknown[]; remove: string[] });

  beforeEach(() => {
    dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-store-')), 'state');
    file = path.join(dir, 'rules.json');
    journal = path.join(dir, JOURNAL_FILE_NAME);
  });

  afterEach(async () => {
    await Promise.allSettled(opened.map((store) => store.close()));
    opened = [];
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

    it('validates the definition itself, before planning: a refusal does not wait for the changes being written', async () => {
      const store = await open();
      await apiRejection(store.create(definition(1, { outputs: [] }), T0), status.INVALID_ARGUMENT, 'rule.outputs');
      await apiRejection(store.create(undefined, T0), status.INVALID_ARGUMENT, 'rule');
      const written = store.create(definition(2), T0);
      const refused = store.create(definition(3, { outputs: [] }), T0);
      const first = await Promise.race([written.then(() => 'written'), refused.then(() => 'accepted', () => 'refused')]);
      expect(first).to.equal('refused');
      await written;
      await apiRejection(refused, status.INVALID_ARGUMENT, 'rule.outputs');
    });

    it('resolves to the stored rule itself (read only), which later changes replace rather than alter', async () => {
      const store = await open();
      const rule = await store.create(definition(1, { name: 'cam1' }), T0);
      expect(rule).to.equal(store.asStored(rule.id));
      const asCreated = structuredClone(rule);
      await store.update('cam1', definition(1, { name: 'cam1', outputs: [{ interface: 'eth2', address: '10.0.0.9', port: 7000 }] }), undefined, T1);
      expect(rule).to.deep.equal(asCreated);
      const updated = store.asStored(rule.id);
      expect(await store.delete('cam1', undefined)).to.equal(updated);
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
      const policies = { ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, preserveTos: false, oversize: OversizePolicy.OVERSIZE_POLICY_DROP, source: '10.20.0.1' };
      await store.create(definition(2, { id: 'two', outputs: [{ interface: 'wg0', address: '10.20.0.7', port: 6000, dscp: 46, ...policies }] }), T0);
      await store.create(definition(3), T0);
      await store.update('cam1', definition(1, { name: 'cam1', outputs: [{ interface: 'eth1', address: '239.9.9.1', port: 6001, ttl: 1 }] }), undefined, T1);
      await store.delete(deriveRuleId(definition(3).input!), undefined);
      const reopened = await open();
      expect(reopened.list()).to.deep.equal(store.list());
      expect(reopened.generation).to.equal(5n);
      expect(reopened.find('two')!.outputs[0]).to.deep.equal({ interface: 'wg0', address: '10.20.0.7', port: 6000, ttl: undefined, dscp: 46, ...policies });
      expect(reopened.find('cam1')!.outputs[0]).to.deep.equal({
        interface: 'eth1',
        address: '239.9.9.1',
        port: 6001,
        ttl: 1,
        dscp: undefined,
        ttlPolicy: TtlPolicy.TTL_POLICY_UNSPECIFIED,
        preserveTos: undefined,
        oversize: OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED,
        source: '',
      });
    });

    it('journals each change as a record (mode 0600); a compaction writes the documented snapshot', async () => {
      const store = await open({ compactMinBytes: 1 });
      const rule = await store.create(definition(1, { name: 'cam1' }), T0);
      // The first change outgrew the (empty) snapshot: it is in a snapshot now, the journal is empty.
      await store.close();
      expect(fs.statSync(journal).mode & 0o777).to.equal(0o600);
      expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
      expect(fs.statSync(journal).size).to.equal(0);
      expect(fs.readFileSync(file, 'utf8').split('\n')).to.have.length(4); // head, one rule a line, end, ''
      expect(onDisk()).to.deep.equal({
        format: 'mcr-rules',
        version: 2,
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

    it('writes a change as one journal record and no snapshot while the journal is small', async () => {
      const store = await open();
      const rule = await store.create(definition(1, { name: 'cam1' }), T0);
      await store.delete(rule.id, undefined);
      expect(fs.existsSync(file)).to.equal(false);
      expect(records().map((r) => [r.generation, r.put.length, r.remove])).to.deep.equal([
        ['1', 1, []],
        ['2', 0, [rule.id]],
      ]);
    });

    it('compacts once the journal outgrows the snapshot, and reads back the same', async () => {
      const store = await open({ compactMinBytes: 2000 });
      for (let round = 0; round < 30; round++) {
        const rule = await store.create(definition(20 + round, { name: `cam${round}` }), T0);
        if (round % 10 !== 9) await store.delete(rule.id, undefined);
      }
      await store.close();
      expect(fs.statSync(journal).size, 'journal bytes').to.be.below(4000);
      expect(onDisk().generation).to.not.equal('0');
      const reopened = await open();
      expect(reopened.list()).to.deep.equal(store.list());
      expect(reopened.generation).to.equal(store.generation);
    });
  });

  describe('the journal after a crash', () => {
    async function storeWithTwoRules(): Promise<RuleStore> {
      const store = await open();
      await store.create(definition(1, { name: 'cam1' }), T0);
      await store.create(definition(2, { name: 'cam2' }), T0);
      await store.close();
      return store;
    }

    it('cuts off a torn last frame (a crash in the middle of a write) and goes on after it', async () => {
      await storeWithTwoRules();
      const good = fs.readFileSync(journal);
      const torn = encodeFrame([JSON.stringify({ generation: '3', put: [], remove: ['x'] })]);
      for (const cut of [3, torn.length - 5, torn.length - 1]) {
        fs.writeFileSync(journal, Buffer.concat([good, torn.subarray(0, cut)]));
        const store = await open();
        expect(store.list().map((r) => r.name)).to.deep.equal(['cam1', 'cam2']);
        expect(fs.readFileSync(journal).equals(good), `journal cut back after ${cut} bytes of a torn frame`).to.equal(true);
        await store.create(definition(3), T1);
        await store.close();
        expect((await open()).list()).to.have.length(3);
        fs.writeFileSync(journal, good);
      }
    });

    it('cuts off a whole last frame whose checksum does not match', async () => {
      await storeWithTwoRules();
      const good = fs.readFileSync(journal);
      const frame = encodeFrame([JSON.stringify({ generation: '3', put: [], remove: ['x'] })]);
      frame[frame.length - 3] ^= 0x20;
      fs.writeFileSync(journal, Buffer.concat([good, frame]));
      expect((await open()).list()).to.have.length(2);
      expect(fs.statSync(journal).size).to.equal(good.length);
    });

    it('refuses a damaged frame with frames after it (StoreCorruptError), and leaves the files alone', async () => {
      await storeWithTwoRules();
      const damaged = fs.readFileSync(journal);
      damaged[damaged.indexOf('cam1')] = 'C'.charCodeAt(0);
      fs.writeFileSync(journal, damaged);
      const err = await rejection(open());
      expect(err, String(err)).to.be.instanceOf(StoreCorruptError);
      expect(err.message).to.contain(journal).and.to.contain('checksum does not match');
      expect(fs.readFileSync(journal).equals(damaged)).to.equal(true);
    });

    it('refuses records that skip a generation or do not fit the store', async () => {
      await storeWithTwoRules();
      const good = fs.readFileSync(journal);
      for (const [record, problem] of [
        [{ generation: '4', put: [], remove: [] }, /generation 4, but the store is at 2/],
        [{ generation: '3', put: [], remove: ['nothing'] }, /removes rule nothing/],
        [{ generation: '3', put: [{ ...(Rule.toJSON({ ...definition(1), id: 'other', generation: 1n }) as object) }], remove: [] }, /already captures/],
      ] as const) {
        fs.writeFileSync(journal, Buffer.concat([good, encodeFrame([JSON.stringify(record)])]));
        const err = await rejection(open());
        expect(err, String(err)).to.be.instanceOf(StoreCorruptError);
        expect(err.message).to.match(problem);
      }
    });

    it('skips records the snapshot has (a crash after the snapshot was written, before the journal was emptied)', async () => {
      await storeWithTwoRules();
      const records = fs.readFileSync(journal);
      const compacting = await open({ compactMinBytes: 1 });
      await compacting.create(definition(3), T1);
      await compacting.close();
      expect(fs.statSync(journal).size).to.equal(0);
      fs.writeFileSync(journal, records); // generations 1 and 2, which the snapshot (at 3) has
      const store = await open();
      expect(store.list()).to.have.length(3);
      expect(store.generation).to.equal(3n);
      await store.create(definition(4), T1);
      await store.close();
      expect((await open()).list()).to.have.length(4);
    });
  });

  describe('compaction beside the journal', () => {
    it('acknowledges changes while the snapshot is written, then keeps only the records after its generation', async () => {
      const compaction = heldCompaction();
      const store = await open(compaction.tuning);
      const first = await store.create(definition(1, { name: 'cam1' }), T0); // outgrows the empty snapshot
      await compaction.started;
      // The snapshot (of generation 1) is not written yet, and changes are made and acknowledged.
      await store.create(definition(2), T0);
      await Promise.all([store.create(definition(3), T0), store.delete('cam1', 1n)]);
      expect(fs.existsSync(file)).to.equal(false);
      expect(store.generation).to.equal(4n);
      expect(records().map((r) => r.generation)).to.deep.equal(['1', '2', '3', '4']);
      compaction.release();
      await store.close();
      expect(compaction.count(), 'compactions (one at a time)').to.equal(1);
      // The snapshot holds generation 1, byte for byte what encodeStore makes; the journal the rest.
      expect(fs.readFileSync(file, 'utf8')).to.equal(encodeStore({ generation: 1n, rules: [first] }));
      expect(records().map((r) => r.generation)).to.deep.equal(['2', '3', '4']);
      expect(fs.existsSync(`${journal}.tmp`)).to.equal(false);
      const reopened = await open();
      expect(reopened.list()).to.deep.equal(store.list());
      expect(reopened.generation).to.equal(4n);
    });

    it('snapshots every change of the frame it was asked in, and none after', async () => {
      const store = await open({ compactMinBytes: 1 });
      // One frame of four: the first record's commit asks for the compaction, the others are on disk already.
      await Promise.all([1, 2, 3, 4].map((n) => store.create(definition(n), T0)));
      await store.create(definition(5), T1); // then one more
      await store.close();
      const generation = BigInt(onDisk().generation as string);
      expect(Number(generation), 'the snapshot of the first frame').to.be.at.least(4);
      expect(onDisk().rules).to.have.length(Number(generation));
      expect(records().map((r) => BigInt(r.generation))).to.deep.equal(generation === 4n ? [5n] : []);
      const reopened = await open();
      expect(reopened.list()).to.deep.equal(store.list());
      expect(reopened.generation).to.equal(5n);
    });

    it('close() waits for a compaction under way', async () => {
      const compaction = heldCompaction();
      const store = await open(compaction.tuning);
      await store.create(definition(1), T0);
      await compaction.started;
      const closing = store.close();
      expect(await stillPending(closing), 'close() while the compaction is held').to.equal(true);
      compaction.release();
      await closing;
      expect(onDisk().generation).to.equal('1');
      expect(fs.statSync(journal).size).to.equal(0);
    });

    it('a snapshot that cannot be written changes nothing; the journal goes on', async () => {
      const compaction = heldCompaction();
      const store = await open(compaction.tuning);
      await store.create(definition(1), T0);
      await compaction.started;
      await store.create(definition(2), T0);
      compaction.fail(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
      await store.create(definition(3), T0);
      await store.close();
      expect(fs.existsSync(file)).to.equal(false);
      expect(records().map((r) => r.generation)).to.deep.equal(['1', '2', '3']);
      expect((await open()).generation).to.equal(3n);
    });

    it('a journal tail that cannot be written leaves the whole journal, appended to and read correctly', async () => {
      const original = fs.promises.rename;
      fs.promises.rename = (from, to) =>
        String(to) === journal ? Promise.reject(Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' })) : original(from, to);
      let store: RuleStore;
      try {
        store = await open({ compactMinBytes: 1 });
        await store.create(definition(1), T0);
        await store.create(definition(2), T0);
        await store.close();
      } finally {
        fs.promises.rename = original;
      }
      expect(onDisk().generation).to.equal('1');
      expect(records().map((r) => r.generation)).to.deep.equal(['1', '2']);
      expect(fs.existsSync(`${journal}.tmp`)).to.equal(false);
      const reopened = await open();
      expect(reopened.list()).to.deep.equal(store.list());
      expect(reopened.generation).to.equal(2n);
    });

    describe('a crash during a compaction leaves a store that opens as it was', () => {
      /**
       * Makes generations 1-3 with a compaction of generation 1 held, and returns the files as a
       * crash at each moment of it would leave them.
       */
      async function compactionStages(): Promise<{ rules: Rule[]; stages: Array<[what: string, snapshot: string | undefined, journal: Buffer, temporary?: Buffer]> }> {
        const compaction = heldCompaction();
        const store = await open(compaction.tuning);
        await store.create(definition(1, { name: 'cam1' }), T0);
        await compaction.started;
        await store.create(definition(2), T0);
        await store.update('cam1', definition(1, { name: 'cam1', outputs: [{ interface: 'eth2', address: '239.9.9.1', port: 6001 }] }), 1n, T1);
        const whole = fs.readFileSync(journal);
        compaction.release();
        await store.close();
        const snapshot = fs.readFileSync(file, 'utf8');
        const tail = fs.readFileSync(journal);
        expect(tail.length).to.be.above(0).and.below(whole.length);
        return {
          rules: store.list(),
          stages: [
            ['before the snapshot: the old snapshot (none) and the whole journal', undefined, whole],
            ['after the snapshot, before the journal was replaced', snapshot, whole],
            ['after the snapshot, with the tail half written to its temporary file', snapshot, whole, tail.subarray(0, tail.length >> 1)],
            ['after the snapshot, with the tail written to its temporary file', snapshot, whole, tail],
            ['after the journal was replaced', snapshot, tail],
          ],
        };
      }

      it('at every stage', async () => {
        const { rules, stages } = await compactionStages();
        for (const [what, snapshot, journalBytes, temporary] of stages) {
          fs.rmSync(file, { force: true });
          if (snapshot !== undefined) fs.writeFileSync(file, snapshot);
          fs.writeFileSync(journal, journalBytes);
          if (temporary) fs.writeFileSync(`${journal}.tmp`, temporary);
          const store = await open();
          expect(store.list(), what).to.deep.equal(rules);
          expect(store.generation, what).to.equal(3n);
          expect(fs.existsSync(`${journal}.tmp`), `${what}: temporary removed`).to.equal(false);
          // And it goes on from there.
          await store.create(definition(4), T1);
          await store.close();
          expect((await open()).generation, what).to.equal(4n);
        }
      });
    });
  });

  describe('snapshot encoding', () => {
    const rules = Array.from({ length: 40 }, (_, n) => ({
      ...definition(n, { id: `rule-${String(n).padStart(2, '0')}`, name: n % 3 ? `cam${n}` : '' }),
      generation: BigInt(n + 1),
      createdUnixNanos: T0,
      updatedUnixNanos: T1,
      status: { state: RuleState.RULE_STATE_ACTIVE, reason: '', worker: 1, lastPacketUnixNanos: 1n },
    }));

    it('in slices, is byte for byte what encodeStore makes', async () => {
      for (const sliceChars of [1, 100, 1000, 1 << 20]) {
        for (const some of [rules, rules.slice(0, 1), []]) {
          expect(await encodeStoreInSlices({ generation: 7n, rules: some }, sliceChars), `${some.length} rules, slices of ${sliceChars}`).to.equal(
            encodeStore({ generation: 7n, rules: some }),
          );
        }
      }
    });

    it('lets the event loop run between slices', async () => {
      let turns = 0;
      const count = () => {
        turns++;
        if (turns < 1000) setImmediate(count);
      };
      setImmediate(count);
      await encodeStoreInSlices({ generation: 1n, rules }, 1 << 20); // one slice: no turn
      expect(turns).to.equal(0);
      await encodeStoreInSlices({ generation: 1n, rules }, 100); // a slice a rule
      expect(turns).to.be.at.least(rules.length - 1);
      turns = 1000;
    });
  });

  describe('dry run', () => {
    it('runs every check and returns the would-be result without writing', async () => {
      const store = await open();
      const rule = await store.create(definition(1, { name: 'cam1' }), T0);
      const written = fs.readFileSync(journal, 'utf8');

      const wouldBe = await store.create(definition(2, { name: 'cam2' }), T1, { dryRun: true });
      expect(wouldBe).to.deep.include({ id: deriveRuleId(wouldBe.input!), name: 'cam2', generation: 1n, createdUnixNanos: T1 });
      const { after } = await store.update('cam1', definition(3), 1n, T1, { dryRun: true });
      expect(after).to.deep.include({ id: rule.id, generation: 2n, updatedUnixNanos: T1 });
      await apiRejection(store.create(definition(1), T1, { dryRun: true }), status.ALREADY_EXISTS, 'rule.input');
      await apiRejection(store.update('cam1', definition(3), 7n, T1, { dryRun: true }), status.ABORTED, 'expected_generation');

      expect(fs.readFileSync(journal, 'utf8')).to.equal(written);
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
      ['another version', JSON.stringify({ ...valid([]), version: 3 }), /version/],
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

    it('reads a store of the format before the journal, and writes it again in the current one', async () => {
      fs.mkdirSync(dir, { recursive: true });
      const old = JSON.stringify(valid([ruleJson(1, { name: 'cam1' }), ruleJson(2)]), null, 2) + '\n';
      fs.writeFileSync(file, old, { mode: 0o600 });
      const store = await open();
      expect(store.list().map((r) => r.id)).to.deep.equal(['rule-1', 'rule-2']);
      expect(store.generation).to.equal(3n);
      expect(onDisk()).to.deep.equal({ ...JSON.parse(old), version: 2 });
      expect(fs.existsSync(journal)).to.equal(false);
      await store.update('cam1', definition(5, { name: 'cam1' }), undefined, T1);
      await store.close();
      const reopened = await open();
      expect(reopened.generation).to.equal(4n);
      expect(reopened.find('cam1')!.input!.group).to.equal('239.1.1.5');
    });

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
      expect(records().map((r) => r.generation)).to.deep.equal(['1', '2', '3', '4']);
    });

    it('lets exactly one of many racing creates of one match key win', async () => {
      const store = await open();
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.create(definition(1, { name: `n${i}` }), T0)));
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      for (const result of results) {
        if (result.status === 'rejected') expect((result.reason as RuleError).kind, String(result.reason)).to.equal('already-exists');
      }
      expect((await open()).list()).to.have.length(1);
    });
  });

  describe('group commit', () => {
    it('writes changes that arrive together with fewer syncs than changes, acknowledging each once durable, in order', async () => {
      const store = await open();
      const handle = await fs.promises.open(path.join(path.dirname(dir), 'probe'), 'w');
      const prototype = Object.getPrototypeOf(handle) as { datasync: () => Promise<void> };
      await handle.close();
      const original = prototype.datasync;
      let syncs = 0;
      prototype.datasync = function (this: unknown) {
        syncs++;
        return original.call(this);
      };
      const acknowledged: number[] = [];
      try {
        await Promise.all(
          [1, 2, 3, 4, 5].map((n) =>
            store.create(definition(n), T0).then(() => {
              acknowledged.push(n);
              // Acknowledged means durable: a store opened now has it.
              expect(decodeJournal(fs.readFileSync(journal)).records.length).to.be.at.least(n);
            }),
          ),
        );
      } finally {
        prototype.datasync = original;
      }
      expect(acknowledged).to.deep.equal([1, 2, 3, 4, 5]);
      expect(syncs, 'fdatasync calls for 5 changes').to.be.at.most(2);
      expect(records().map((r) => r.generation)).to.deep.equal(['1', '2', '3', '4', '5']);
    });
  });

  describe('a failed write', () => {
    it('rejects it and every change planned on top of it, leaves memory and disk unchanged, and works again', async () => {
      const store = await open();
      const rule = await store.create(definition(1, { name: 'cam1' }), T0);
      const written = fs.readFileSync(journal, 'utf8');
      const handle = await fs.promises.open(path.join(path.dirname(dir), 'probe'), 'w');
      const prototype = Object.getPrototypeOf(handle) as { datasync: () => Promise<void> };
      await handle.close();
      const original = prototype.datasync;
      prototype.datasync = () => Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      try {
        const attempts = [store.create(definition(2), T1), store.update('cam1', definition(3, { name: 'cam1' }), undefined, T1), store.delete('cam1', 2n)];
        for (const attempt of attempts) {
          const err = await rejection(attempt);
          expect(err).not.to.be.instanceOf(RuleError);
          expect((err as NodeJS.ErrnoException).code).to.equal('EIO');
        }
      } finally {
        prototype.datasync = original;
      }
      expect(store.list()).to.deep.equal([rule]);
      expect(store.generation).to.equal(1n);
      expect(fs.readFileSync(journal, 'utf8')).to.equal(written);

      await store.create(definition(2), T1);
      expect(store.generation).to.equal(2n);
      await store.close();
      expect((await open()).list()).to.have.length(2);
    });

    it('a change refused because of a pending one that then fails is planned again, and made', async () => {
      const store = await open();
      const handle = await fs.promises.open(path.join(path.dirname(dir), 'probe'), 'w');
      const prototype = Object.getPrototypeOf(handle) as { datasync: () => Promise<void> };
      await handle.close();
      const original = prototype.datasync;
      prototype.datasync = function (this: unknown) {
        prototype.datasync = original; // only the first sync fails
        return Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      };
      try {
        const first = store.create(definition(1, { name: 'cam1' }), T0);
        const second = store.create(definition(1, { name: 'cam1' }), T1); // ALREADY_EXISTS against the first, pending
        expect((await rejection(first)) as NodeJS.ErrnoException).to.include({ code: 'EIO' });
        expect(await second).to.include({ name: 'cam1', createdUnixNanos: T1 });
      } finally {
        prototype.datasync = original;
      }
      expect(store.generation).to.equal(1n);
    });
  });
});
