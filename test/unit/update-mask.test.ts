/**
 * UpdateRule's update_mask: which paths are taken and how they merge into the stored rule (the other
 * fields keep their values; an absent or empty mask replaces the whole definition), and the precise
 * INVALID_ARGUMENT for a path it does not take.
 */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { IpProtocol, OversizePolicy, Rule, TtlPolicy } from '../../gen/mcr/v1/rules';
import { ApiError, toApiError } from '../../server/api/errors';
import { RuleError } from '../../server/rules/errors';
import { RuleStore } from '../../server/rules/store';
import { applyUpdateMask, checkUpdateMask } from '../../server/rules/update-mask';

const T0 = 1_700_000_000_000_000_000n;

const STORED = Rule.fromPartial({
  id: 'r-000000000001',
  name: 'cam1',
  input: { interface: 'eth0', group: '239.1.1.1', port: 5000, source: '10.0.0.1' },
  outputs: [
    { interface: 'eth1', address: '239.9.9.1', port: 6000, ttl: 4 },
    { interface: 'eth2', address: '10.20.0.7', port: 6001 },
  ],
  generation: 3n,
});

function refusal(paths: string[]): ApiError {
  try {
    checkUpdateMask(paths);
  } catch (err) {
    expect(err).to.be.instanceOf(RuleError);
    return toApiError(err) as ApiError;
  }
  return expect.fail(`${JSON.stringify(paths)} accepted`);
}

describe('update_mask', () => {
  describe('checkUpdateMask', () => {
    it('takes the documented paths; no paths or "*" mean a whole replacement', () => {
      expect(checkUpdateMask(undefined)).to.equal(undefined);
      expect(checkUpdateMask([])).to.equal(undefined);
      expect(checkUpdateMask(['*'])).to.equal(undefined);
      expect(checkUpdateMask(['outputs', '*'])).to.equal(undefined);
      const all = ['name', 'input', 'input.interface', 'input.group', 'input.port', 'input.source', 'input.vlan', 'input.protocol', 'outputs'];
      expect(checkUpdateMask(all)).to.deep.equal(all);
    });

    it('refuses any other path with INVALID_ARGUMENT naming update_mask.paths[i]', () => {
      const cases: Array<[string[], string, string]> = [
        [['foo'], 'update_mask.paths[0]', 'unknown field "foo"'],
        [['name', 'input.bar'], 'update_mask.paths[1]', 'unknown field "input.bar"'],
        [['outputs', ''], 'update_mask.paths[1]', 'unknown field ""'],
        [['Name'], 'update_mask.paths[0]', 'unknown field "Name"'],
        [['id'], 'update_mask.paths[0]', `"id" cannot be changed: a rule's id never changes`],
        [['status.state'], 'update_mask.paths[0]', '"status.state" is output only'],
        [['generation'], 'update_mask.paths[0]', '"generation" is output only'],
        [['updated_unix_nanos'], 'update_mask.paths[0]', '"updated_unix_nanos" is output only'],
        [['outputs.ttl'], 'update_mask.paths[0]', '"outputs.ttl": outputs is a list, which a mask can only replace whole'],
      ];
      for (const [paths, field, start] of cases) {
        const err = refusal(paths);
        expect([status[err.code], err.field], err.message).to.deep.equal(['INVALID_ARGUMENT', field]);
        expect(err.message, JSON.stringify(paths)).to.satisfy((m: string) => m.startsWith(`${field}: ${start}`));
      }
    });
  });

  describe('applyUpdateMask', () => {
    it('takes only the masked fields of the definition', () => {
      const outputs = [{ interface: 'eth1', address: '239.9.9.1', port: 6000, ttl: 9, dscp: undefined, ttlPolicy: TtlPolicy.TTL_POLICY_FIXED, preserveTos: true, oversize: OversizePolicy.OVERSIZE_POLICY_DROP, source: '10.0.0.5' }];
      const merged = applyUpdateMask(STORED, Rule.fromPartial({ name: 'ignored', outputs }), ['outputs']);
      expect(merged.outputs).to.deep.equal(outputs);
      expect([merged.id, merged.name, merged.input]).to.deep.equal([STORED.id, STORED.name, STORED.input]);
    });

    it('merges input sub-fields and clears a masked field the definition lacks', () => {
      const merged = applyUpdateMask(STORED, Rule.fromPartial({ input: { port: 5002 } }), ['input.port', 'name']);
      expect(merged.input).to.deep.equal({ ...STORED.input, port: 5002 });
      expect(merged.name).to.equal('');
      expect(merged.outputs).to.deep.equal(STORED.outputs);
      const noSource = applyUpdateMask(STORED, undefined, ['input.source']);
      expect(noSource.input).to.deep.equal({ ...STORED.input, source: '' });
      expect(STORED.input!.source, 'the stored rule is not modified').to.equal('10.0.0.1');
      const tagged = applyUpdateMask(STORED, Rule.fromPartial({ input: { vlan: 100 } }), ['input.vlan']);
      expect(tagged.input).to.deep.equal({ ...STORED.input, vlan: 100 });
      expect(applyUpdateMask(tagged, undefined, ['input.vlan']).input!.vlan, 'a masked VLAN the definition lacks: none').to.equal(undefined);
      const esp = applyUpdateMask(STORED, Rule.fromPartial({ input: { protocol: IpProtocol.IP_PROTOCOL_ESP } }), ['input.protocol', 'input.port']);
      expect(esp.input).to.deep.equal({ ...STORED.input, protocol: IpProtocol.IP_PROTOCOL_ESP, port: 0 });
      expect(applyUpdateMask(esp, undefined, ['input.protocol']).input!.protocol, 'a masked protocol the definition lacks: UDP').to.equal(0);
    });
  });

  describe('RuleStore.update with a mask', () => {
    let dir: string;
    let store: RuleStore;
    beforeEach(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-mask-'));
      store = await RuleStore.open(path.join(dir, 'state'), { maxRules: 5, maxOutputsPerRule: 4 });
      await store.create(Rule.fromPartial({ ...STORED, id: '', generation: 0n }), T0);
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("changes one output's TTL without restating the input or the name", async () => {
      const outputs = [{ ...STORED.outputs[0], ttl: 12 }, STORED.outputs[1]];
      const { before, after } = await store.update('cam1', Rule.fromPartial({ outputs }), undefined, T0 + 1n, { mask: ['outputs'] });
      expect(after.outputs.map((o) => o.ttl)).to.deep.equal([12, undefined]);
      expect([after.id, after.name, after.input]).to.deep.equal([before.id, 'cam1', before.input]);
      expect(after.generation).to.equal(before.generation + 1n);
      expect(store.find('cam1')!.outputs[0].ttl).to.equal(12);
    });

    it('validates the merged rule, naming the definition field', async () => {
      const err = (await store.update('cam1', Rule.fromPartial({ input: { port: 0 } }), undefined, T0 + 1n, { mask: ['input.port'] }).catch((e) => toApiError(e))) as ApiError;
      expect([status[err.code], err.field]).to.deep.equal(['INVALID_ARGUMENT', 'definition.input.port']);
      const gone = (await store.update('nope', undefined, undefined, T0 + 1n, { mask: ['name'] }).catch((e) => toApiError(e))) as ApiError;
      expect(status[gone.code]).to.equal('NOT_FOUND');
    });
  });
});
