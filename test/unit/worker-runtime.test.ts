/**
 * The worker's side of rule changes, in-process on the real data plane (sockets on loopback, no
 * traffic): a change in pieces, the incremental ruleset hash the heartbeat reports, a refused piece
 * changing nothing, a full resend dropping what it did not name, and senders and outputs handed over
 * all or none, the ruleset hash describing each output by its sender's interface, TTL and TOS.
 * Also how the supervisor cuts a change into pieces.
 */
import { expect } from 'chai';
import fs from 'fs';

import { native, type DataplaneRule } from '../../native';
import { pieces } from '../../server/forwarding/worker-sync';
import { canonicalOutput, CanonicalRule, EgressDescription, HeartbeatReply, rulesetHash, WorkerEvent, WorkerReply, WorkerRequest } from '../../workers/protocol';
import { TRACE_BACKLOG_BYTES, WorkerRuntime } from '../../workers/runtime';
import { requireRoot } from '../support/fixture';

const ACCEPT_ALL: Array<[number, number, number, number]> = [[0x06, 0, 0, 0x40000]];

type Body = WorkerRequest extends infer R ? (R extends unknown ? Omit<R, 'seq'> : never) : never;

describe('worker runtime: rule changes', () => {
  const addon = native();
  let runtime: WorkerRuntime;
  let seq = 0;
  const events: WorkerEvent[] = [];
  const send = (body: Body, fds: number[] = []): WorkerReply => runtime.handle({ ...body, seq: ++seq } as WorkerRequest, fds);
  const ok = (body: Body, fds: number[] = []): WorkerReply => {
    const reply = send(body, fds);
    expect(reply, JSON.stringify(reply)).to.include({ ok: true });
    return reply;
  };
  const heartbeat = (): HeartbeatReply => ok({ type: 'heartbeat' }) as HeartbeatReply;
  const egress = (port: number): EgressDescription => ({ interface: 'lo', address: '127.0.0.1', port, ttl: 64, tos: 0, keepTos: 0, decrementTtl: false, dontFragment: false });
  const openEgress = (): number => addon.openEgressSocket({ ifname: 'lo', ifindex: 1, ttl: 64, tos: 0, dontFragment: false, sndbuf: 65536 });
  /** Output `handle` through sender 1 (lo, TTL 64, TOS 0) to port 7000 + handle. */
  const output = (handle: number, sender = 1) => ({ handle, sender, address: '127.0.0.1', port: 7000 + handle });
  const rule = (id: string, port: number, outputs: number[]): DataplaneRule => ({ id, input: 1, group: '239.7.7.7', port, source: '', outputs });
  const canonical = (r: DataplaneRule): CanonicalRule => ({
    id: r.id,
    input: 'lo',
    group: r.group,
    port: r.port,
    source: r.source,
    outputs: r.outputs.map((h) => canonicalOutput(egress(7000 + h))),
  });

  before(() => requireRoot());
  beforeEach(() => {
    runtime = new WorkerRuntime(addon, (event) => events.push(event));
    ok({ type: 'hello', index: 0, core: -1, batch: 8, logLevel: 'error' });
    ok({ type: 'addInput', handle: 1, interface: 'lo' }, [addon.openPacketSocket({ ifindex: 1, rcvbuf: 65536, filter: ACCEPT_ALL })]);
    ok({ type: 'addSenders', senders: [{ handle: 1, interface: 'lo', ttl: 64, tos: 0, keepTos: 0, decrementTtl: false, dontFragment: false, mtu: 0 }] }, [openEgress()]);
    ok({ type: 'addOutputs', outputs: [10, 11, 12].map((h) => output(h)) });
  });
  afterEach(() => runtime.close());

  it('applies a change in pieces and reports the hash of the whole table', () => {
    const a = rule('a', 5000, [10, 11]);
    const b = rule('b', 5001, [12]);
    ok({ type: 'updateRules', upserts: [a], removes: [] });
    expect(heartbeat()).to.include({ rules: 1, hash: rulesetHash([canonical(a)]) });
    ok({ type: 'updateRules', upserts: [b], removes: [], hash: rulesetHash([canonical(a), canonical(b)]) });
    expect(heartbeat()).to.include({ rules: 2, hash: rulesetHash([canonical(b), canonical(a)]) });

    const a2 = { ...a, outputs: [11] };
    ok({ type: 'updateRules', upserts: [a2], removes: ['b', 'not-installed'], hash: rulesetHash([canonical(a2)]) });
    expect(heartbeat()).to.include({ rules: 1, hash: rulesetHash([canonical(a2)]) });
  });

  it('refuses a piece whose hash differs and changes nothing', () => {
    const a = rule('a', 5000, [10]);
    ok({ type: 'updateRules', upserts: [a], removes: [], hash: rulesetHash([canonical(a)]) });
    const reply = send({ type: 'updateRules', upserts: [rule('b', 5001, [11])], removes: [], hash: rulesetHash([canonical(a)]) });
    expect(reply).to.include({ ok: false });
    expect((reply as { error: string }).error).to.match(/rule set hash mismatch/);
    expect(heartbeat()).to.include({ rules: 1, hash: rulesetHash([canonical(a)]) });
    // A table the data plane refuses (two rules with one match key) changes nothing either.
    expect(send({ type: 'updateRules', upserts: [rule('c', 5000, [11])], removes: [] })).to.include({ ok: false });
    expect(heartbeat()).to.include({ rules: 1, hash: rulesetHash([canonical(a)]) });
  });

  it('a full resend removes every rule it did not name', () => {
    const [a, b, c] = [rule('a', 5000, [10]), rule('b', 5001, [11]), rule('c', 5002, [12])];
    ok({ type: 'updateRules', upserts: [a, b, c], removes: [], hash: rulesetHash([a, b, c].map(canonical)) });
    ok({ type: 'updateRules', upserts: [a], removes: [], resend: 'first' });
    ok({ type: 'updateRules', upserts: [c], removes: [], resend: 'middle' });
    expect(heartbeat().rules, 'nothing removed before the last piece').to.equal(3);
    ok({ type: 'updateRules', upserts: [], removes: [], resend: 'last', hash: rulesetHash([a, c].map(canonical)) });
    expect(heartbeat()).to.include({ rules: 2, hash: rulesetHash([a, c].map(canonical)) });
    expect(send({ type: 'updateRules', upserts: [], removes: [], resend: 'last' }), 'a last piece without a first').to.include({ ok: false });
  });

  it('takes a message of senders all or none', () => {
    const pipe = fs.openSync('/dev/null', 'r'); // not a UDP socket: the second sender is refused
    const fds = [openEgress(), pipe, openEgress()];
    const senders = [2, 3, 4].map((handle) => ({ handle, interface: 'lo', mtu: 65536, ttl: 64, tos: 0, keepTos: 0, decrementTtl: false, dontFragment: false }));
    const reply = send({ type: 'addSenders', senders }, fds);
    expect(reply).to.include({ ok: false });
    for (const fd of fds) expect(() => fs.fstatSync(fd), `fd ${fd} closed`).to.throw();
    // None of them was kept: no output can name one, and each handle can be added afresh.
    expect(send({ type: 'addOutputs', outputs: [output(20, 2)] })).to.deep.include({ ok: false, error: 'outputs[0] (handle 20): unknown sender handle 2' });
    ok({ type: 'addSenders', senders: [senders[0]] }, [openEgress()]);
    ok({ type: 'addOutputs', outputs: [output(20, 2)] });
  });

  it('takes a message of outputs all or none, naming the output refused and why', () => {
    const refused = (outputs: Array<ReturnType<typeof output>>, error: RegExp) => {
      const reply = send({ type: 'addOutputs', outputs });
      expect(reply).to.include({ ok: false });
      expect((reply as { error: string }).error).to.match(error);
      // None of them was kept: a rule cannot name any.
      expect(send({ type: 'updateRules', upserts: [rule('a', 5000, [20])], removes: [] })).to.include({ ok: false });
    };
    refused([output(20), output(21, 9)], /^outputs\[1\] \(handle 21\): unknown sender handle 9$/);
    refused([output(20), output(10)], /^outputs\[1\] \(handle 10\): output handle 10 is already in use$/);
    refused([output(20), { ...output(21), address: '127.0.0' }], /^outputs\[1\] \(handle 21\): address must be an IPv4 address/);
    refused([output(20), { ...output(21), port: 0 }], /^outputs\[1\] \(handle 21\): output 21: a UDP sender needs a port 1-65535$/);
    refused([output(20), { ...output(21), port: 65536 }], /^outputs\[1\] \(handle 21\): port/);
    expect(send({ type: 'addOutputs', outputs: [output(20)] }, [openEgress()]), 'outputs carry no fd').to.include({ ok: false });
    ok({ type: 'addOutputs', outputs: [output(20), output(21)] });
  });

  it('hashes an output as its sender\'s interface, TTL and TOS with its destination', () => {
    ok({ type: 'addSenders', senders: [{ handle: 2, interface: 'lo', ttl: 9, tos: 0xb8, keepTos: 0, decrementTtl: false, dontFragment: false, mtu: 0 }] }, [addon.openEgressSocket({ ifname: 'lo', ifindex: 1, ttl: 9, tos: 0xb8, dontFragment: false, sndbuf: 65536 })]);
    ok({ type: 'addOutputs', outputs: [output(20, 2)] });
    const a = rule('a', 5000, [10, 20]);
    const described: CanonicalRule = { ...canonical(rule('a', 5000, [10])), outputs: [egress(7010), { interface: 'lo', address: '127.0.0.1', port: 7020, ttl: 9, tos: 0xb8, keepTos: 0, decrementTtl: false, dontFragment: false, mtu: 0 }].map(canonicalOutput) };
    ok({ type: 'updateRules', upserts: [a], removes: [], hash: rulesetHash([described]) });
    // Removing the outputs, then the sender, leaves a rule naming them refused.
    ok({ type: 'updateRules', upserts: [], removes: ['a'], hash: rulesetHash([]) });
    ok({ type: 'removeOutputs', handles: [20] });
    ok({ type: 'removeSenders', handles: [2] });
    expect(send({ type: 'removeSenders', handles: [2] })).to.include({ ok: false });
    expect(send({ type: 'addOutputs', outputs: [output(20, 2)] })).to.include({ ok: false });
  });
});

describe('worker runtime: the channel to the supervisor is bounded', () => {
  before(() => requireRoot());

  it('drops trace batches while the channel backlog is over its bound, counts them and reports them as lost', () => {
    const addon = native();
    const events: WorkerEvent[] = [];
    let backlog = 0;
    const runtime = new WorkerRuntime(addon, (event) => events.push(event), () => backlog);
    const hello = runtime.handle({ type: 'hello', seq: 1, index: 0, core: -1, batch: 8, logLevel: 'error' }, []);
    expect(hello).to.include({ ok: true });
    const record = { ruleId: 'r', timestampNs: 1n, input: 1, source: '10.0.0.1', sourcePort: 1, destination: '239.1.1.1', destinationPort: 2, ipLength: 40, ttl: 1, tos: 0, sends: [], timeInMcrNs: 0, frameLength: 60, frame: Buffer.alloc(60) };
    const deliver = (count: number, lost: number) => (runtime as unknown as { forwardTraces(r: unknown[], l: number): void }).forwardTraces(Array(count).fill(record), lost);
    const heartbeat = () => runtime.handle({ type: 'heartbeat', seq: 2 }, []) as HeartbeatReply;
    try {
      deliver(3, 0);
      expect(events.filter((e) => e.type === 'trace')).to.have.length(1);
      backlog = TRACE_BACKLOG_BYTES + 1; // mcrd stopped reading
      deliver(5, 2);
      deliver(4, 0);
      expect(events.filter((e) => e.type === 'trace'), 'nothing more queued').to.have.length(1);
      expect(heartbeat().channelDropped).to.equal(9);
      backlog = 0;
      deliver(1, 1);
      const last = events.filter((e) => e.type === 'trace').pop() as { records: unknown[]; lost: number };
      expect(last.records).to.have.length(1);
      expect(last.lost, 'dropped here, lost in the data plane, and the new batch\'s own').to.equal(9 + 2 + 1);
      expect(heartbeat().channelDropped).to.equal(9);
    } finally {
      runtime.close();
    }
  });
});

describe('rule change pieces', () => {
  it('bounds every piece by weight and keeps the order', () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    const cut = pieces(items, (i) => (i === 4 ? 7 : 2), 6);
    expect(cut).to.deep.equal([[0, 1, 2], [3], [4], [5, 6, 7], [8, 9]]);
    expect(pieces([], () => 1, 6)).to.deep.equal([]);
  });
});
