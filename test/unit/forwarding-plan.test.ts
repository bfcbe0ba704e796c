import { expect } from 'chai';

import { OversizePolicy, Rule, RuleState, TtlPolicy } from '../../gen/mcr/v1/rules';
import { ForwardingState, planForwarding, SenderSpec, WorkerPlan } from '../../server/forwarding/plan';
import type { InterfaceInfo } from '../../server/net/interfaces';
import { workerFor } from '../../server/rules/placement';

function rule(id: string, input: [string, string, number], outputs: Array<[string, string, number, number?]>, source = ''): Rule {
  return Rule.fromPartial({
    id,
    input: { interface: input[0], group: input[1], port: input[2], source },
    outputs: outputs.map(([iface, address, port, ttl]) => ({ interface: iface, address, port, ttl })),
  });
}

function lookup(...ifaces: Array<[string, number, boolean?]>) {
  const table = new Map<string, InterfaceInfo>(
    ifaces.map(([name, index, up]) => [name, { name, index, up: up ?? true, running: true, mtu: 1500, mac: '02:00:00:00:00:01', addresses: [] }]),
  );
  return { get: (name: string) => table.get(name) };
}

describe('forwarding plan', () => {
  it('places each rule on its hashed worker with its capture, egress and membership', () => {
    const rules = [
      rule('a', ['in0', '239.1.1.1', 5000], [['out1', '239.9.9.9', 6000]]),
      rule('b', ['in0', '239.1.1.2', 5002], [['out1', '10.3.0.2', 7000]]),
    ];
    const plan = planForwarding(rules, 2, lookup(['in0', 4], ['out1', 5]));
    for (const r of rules) {
      const w = workerFor(r.input!.group, r.input!.port, 2);
      const planned = plan.workers[w].rules.get(r.id)!;
      expect(planned, r.id).to.exist;
      expect([...plan.workers[w].captures.get('in0')!.targets.values()]).to.deep.include({ group: r.input!.group, port: r.input!.port, source: r.input!.source, vlan: 0 });
      expect(plan.statuses.get(r.id)).to.include({ state: RuleState.RULE_STATE_ACTIVE, worker: w });
    }
    expect([...plan.memberships.values()].map((m) => m.group).sort()).to.deep.equal(['239.1.1.1', '239.1.1.2']);
  });

  it('defaults TTL to 1 for multicast outputs and 64 for unicast, and DSCP into TOS', () => {
    const r = rule('a', ['in0', '239.1.1.1', 5000], [['out1', '239.9.9.9', 6000], ['out1', '10.3.0.2', 7000], ['out1', '239.9.9.8', 6000, 9]]);
    r.outputs[0].dscp = 46;
    const plan = planForwarding([r], 1, lookup(['in0', 4], ['out1', 5]));
    const egress = [...plan.workers[0].egress.values()];
    expect(egress.map((e) => [e.address, e.ttl, e.tos])).to.deep.equal([
      ['239.9.9.9', 1, 184],
      ['10.3.0.2', 64, 0],
      ['239.9.9.8', 9, 0],
    ]);
  });

  it('plans each output\'s TTL and TOS policy into its sender: preserved TOS by default, dscp over it, fixed, decrement', () => {
    const r = rule('a', ['in0', '239.1.1.1', 5000], [
      ['out1', '239.9.9.1', 6000],
      ['out1', '239.9.9.2', 6000],
      ['out1', '239.9.9.3', 6000],
      ['out1', '239.9.9.4', 6000],
      ['out1', '239.9.9.5', 6000],
    ]);
    r.outputs[1].dscp = 46;
    r.outputs[2].preserveTos = false;
    Object.assign(r.outputs[3], { preserveTos: false, dscp: 10 });
    r.outputs[4].ttlPolicy = TtlPolicy.TTL_POLICY_DECREMENT;
    const worker = planForwarding([r], 1, lookup(['in0', 4], ['out1', 5])).workers[0];
    expect([...worker.egress.values()].map((e) => [e.sender, e.ttl, e.tos, e.keepTos, e.decrementTtl])).to.deep.equal([
      ['out1#5/1500|ttl=1|tos=0&255', 1, 0, 0xff, false],
      ['out1#5/1500|ttl=1|tos=184&3', 1, 184, 0x03, false],
      ['out1#5/1500|ttl=1|tos=0', 1, 0, 0, false],
      ['out1#5/1500|ttl=1|tos=40', 1, 40, 0, false],
      ['out1#5/1500|ttl=1-dec|tos=0&255', 1, 0, 0xff, true],
    ]);
    // An output without the new fields keeps the identity (and counters) it had before them.
    expect(worker.rules.get('a')!.outputIdentities).to.deep.equal([
      'out1|239.9.9.1|6000||',
      'out1|239.9.9.2|6000||46',
      'out1|239.9.9.3|6000||||fixed-tos',
      'out1|239.9.9.4|6000||10||fixed-tos',
      'out1|239.9.9.5|6000|||dec|',
    ]);
  });

  it('plans an output that drops oversize datagrams into a sender of its own that does not fragment, with the interface MTU', () => {
    const r = rule('a', ['in0', '239.1.1.1', 5000], [['out1', '239.9.9.1', 6000], ['out1', '239.9.9.2', 6000], ['out1', '239.9.9.3', 6000]]);
    r.outputs[1].oversize = OversizePolicy.OVERSIZE_POLICY_DROP;
    r.outputs[2].oversize = OversizePolicy.OVERSIZE_POLICY_FRAGMENT;
    const worker = planForwarding([r], 1, lookup(['in0', 4], ['out1', 5])).workers[0];
    expect([...worker.egress.values()].map((e) => [e.sender, e.mtu, e.dontFragment])).to.deep.equal([
      ['out1#5/1500|ttl=1|tos=0&255', 1500, false],
      ['out1#5/1500|ttl=1|tos=0&255|df', 1500, true],
      ['out1#5/1500|ttl=1|tos=0&255', 1500, false],
    ]);
    // Fragmenting is the unset policy: the same identity (and counters) either way.
    expect(worker.rules.get('a')!.outputIdentities).to.deep.equal(['out1|239.9.9.1|6000||', 'out1|239.9.9.2|6000|||drop-oversize', 'out1|239.9.9.3|6000||']);
  });

  it('shares one egress socket between rules with the same output', () => {
    const rules = [
      rule('a', ['in0', '239.1.1.1', 5000], [['out1', '239.9.9.9', 6000]]),
      rule('b', ['in0', '239.1.1.1', 5001], [['out1', '239.9.9.9', 6000]]),
    ];
    const plan = planForwarding(rules, 1, lookup(['in0', 4], ['out1', 5]));
    expect(plan.workers[0].egress.size).to.equal(1);
    expect([...plan.workers[0].rules.values()][0].outputs).to.deep.equal([...plan.workers[0].rules.values()][1].outputs);
  });

  /** The senders a worker's outputs name, in order of first use (the sync opens one per key). */
  const sendersOf = (worker: WorkerPlan): SenderSpec[] => [
    ...new Map([...worker.egress.values()].map((e): [string, SenderSpec] => [e.sender, { key: e.sender, ifname: e.ifname, ifindex: e.ifindex, mtu: e.mtu, ttl: e.ttl, tos: e.tos, keepTos: e.keepTos, decrementTtl: e.decrementTtl, dontFragment: e.dontFragment, source: e.source, protocol: e.protocol }])).values(),
  ];

  it('plans one sender per output interface, TTL and TOS, shared by every destination with those', () => {
    const rules = [
      rule('a', ['in0', '239.1.1.1', 5000], [['out1', '239.9.9.9', 6000], ['out1', '239.9.9.8', 6000], ['out2', '239.9.9.9', 6000]]),
      rule('b', ['in0', '239.1.1.1', 5001], [['out1', '10.3.0.2', 7000, 1], ['out1', '10.3.0.3', 7000, 9]]),
    ];
    const worker = planForwarding(rules, 1, lookup(['in0', 4], ['out1', 5], ['out2', 6])).workers[0];
    expect(sendersOf(worker)).to.deep.equal([
      { key: 'out1#5/1500|ttl=1|tos=0&255', ifname: 'out1', ifindex: 5, ttl: 1, tos: 0, keepTos: 255, decrementTtl: false, dontFragment: false, mtu: 1500, source: '', protocol: 'udp' },
      { key: 'out2#6/1500|ttl=1|tos=0&255', ifname: 'out2', ifindex: 6, ttl: 1, tos: 0, keepTos: 255, decrementTtl: false, dontFragment: false, mtu: 1500, source: '', protocol: 'udp' },
      { key: 'out1#5/1500|ttl=9|tos=0&255', ifname: 'out1', ifindex: 5, ttl: 9, tos: 0, keepTos: 255, decrementTtl: false, dontFragment: false, mtu: 1500, source: '', protocol: 'udp' },
    ]);
    expect([...worker.egress.values()].map((e) => [e.sender, e.address, e.port])).to.deep.equal([
      ['out1#5/1500|ttl=1|tos=0&255', '239.9.9.9', 6000],
      ['out1#5/1500|ttl=1|tos=0&255', '239.9.9.8', 6000],
      ['out2#6/1500|ttl=1|tos=0&255', '239.9.9.9', 6000],
      ['out1#5/1500|ttl=1|tos=0&255', '10.3.0.2', 7000],
      ['out1#5/1500|ttl=9|tos=0&255', '10.3.0.3', 7000],
    ]);
  });

  it('keys an output by its sender and destination', () => {
    const r = rule('a', ['in0', '239.1.1.1', 5000], [['out1', '239.9.9.9', 6000], ['out1', '10.3.0.2', 7000, 9]]);
    r.outputs[1].dscp = 46;
    const worker = planForwarding([r], 1, lookup(['in0', 4], ['out1', 5])).workers[0];
    expect([...worker.egress.keys()]).to.deep.equal(['out1#5/1500|ttl=1|tos=0&255|239.9.9.9:6000', 'out1#5/1500|ttl=9|tos=184&3|10.3.0.2:7000']);
    expect(worker.rules.get('a')!.outputs).to.deep.equal([...worker.egress.keys()]);
    expect(worker.rules.get('a')!.outputIdentities).to.deep.equal(['out1|239.9.9.9|6000||', 'out1|10.3.0.2|7000|9|46']);
  });

  it('keeps an egress key while any output uses it, counting an output repeated in a rule as two users', () => {
    const state = new ForwardingState(1, lookup(['in0', 4], ['out1', 5]));
    const same: [string, string, number] = ['out1', '239.9.9.9', 6000];
    const key = 'out1#5/1500|ttl=1|tos=0&255|239.9.9.9:6000';
    state.set(rule('twice', ['in0', '239.1.1.1', 5000], [same, same]));
    state.set(rule('once', ['in0', '239.1.1.2', 5000], [same]));
    expect(state.workers[0].rules.get('twice')!.outputs).to.deep.equal([key, key]);
    state.take();
    state.remove('twice');
    expect([...state.workers[0].egress.keys()]).to.deep.equal([key]);
    expect([...state.take().workers[0].egressGone]).to.deep.equal([]);
    state.set(rule('twice', ['in0', '239.1.1.1', 5000], [same, same]));
    state.remove('once');
    expect([...state.workers[0].egress.keys()]).to.deep.equal([key]);
    state.remove('twice');
    expect(state.workers[0].egress.size).to.equal(0);
    expect([...state.take().workers[0].egressGone]).to.deep.equal([key]);
  });

  it('makes an output a new sender key once its interface changes index, in the same state', () => {
    const table = new Map([['in0', 4], ['out1', 5]]);
    const info = (name: string) => (table.has(name) ? { name, index: table.get(name)!, up: true, running: true, mtu: 1500, mac: '', addresses: [] } : undefined);
    const state = new ForwardingState(1, { get: info });
    const r = rule('a', ['in0', '239.1.1.1', 5000], [['out1', '239.9.9.9', 6000]]);
    state.set(r);
    expect(sendersOf(state.workers[0]).map((s) => s.key)).to.deep.equal(['out1#5/1500|ttl=1|tos=0&255']);
    table.set('out1', 9);
    state.set(r);
    expect(sendersOf(state.workers[0]).map((s) => s.key)).to.deep.equal(['out1#9/1500|ttl=1|tos=0&255']);
    expect([...state.workers[0].egress.keys()]).to.deep.equal(['out1#9/1500|ttl=1|tos=0&255|239.9.9.9:6000']);
  });

  it('binds an output with a source address to a sender of its own, when the interface has that address or none', () => {
    const info = (name: string, addresses: string[]) => ({ name, index: name === 'in0' ? 4 : name === 'out1' ? 5 : 6, up: true, running: true, mtu: 1500, mac: '', addresses });
    const table = new Map([['in0', info('in0', [])], ['out1', info('out1', ['10.3.0.1/24', '10.3.0.9/24'])], ['tun0', info('tun0', [])]]);
    const r = rule('a', ['in0', '239.1.1.1', 5000], [['out1', '10.3.0.2', 7000], ['out1', '10.3.0.2', 7001], ['tun0', '10.9.0.2', 7002], ['out1', '10.3.0.2', 7003]]);
    r.outputs[1].source = '10.3.0.9';
    r.outputs[2].source = '192.0.2.1'; // tun0 has no address: any source
    r.outputs[3].source = '10.3.0.10'; // not one of out1's
    const state = new ForwardingState(1, { get: (n: string) => table.get(n) });
    state.set(r);
    expect([...state.workers[0].egress.values()].map((e) => [e.sender, e.source])).to.deep.equal([
      ['out1#5/1500|ttl=64|tos=0&255', ''],
      ['out1#5/1500|ttl=64|tos=0&255|src=10.3.0.9', '10.3.0.9'],
      ['tun0#6/1500|ttl=64|tos=0&255|src=192.0.2.1', '192.0.2.1'],
    ]);
    expect(state.statuses.get('a')).to.include({ state: RuleState.RULE_STATE_ACTIVE, reason: 'outputs[3] source 10.3.0.10 is not an address of out1' });
    expect(state.workers[0].rules.get('a')!.outputIdentities[1]).to.equal('out1|10.3.0.2|7001|||from|10.3.0.9');
    // Every output unusable for its source alone: an error until the address is added.
    const only = rule('b', ['in0', '239.1.1.2', 5000], [['out1', '10.3.0.2', 7004]]);
    only.outputs[0].source = '10.3.0.10';
    state.set(only);
    expect(state.statuses.get('b')!.state).to.equal(RuleState.RULE_STATE_ERROR);
    table.set('out1', info('out1', ['10.3.0.1/24', '10.3.0.10/24']));
    state.set(only);
    expect(state.statuses.get('b')!.state).to.equal(RuleState.RULE_STATE_ACTIVE);
  });

  it('makes new sender keys once the interface MTU changes: the data plane counts fragments by its sender\'s MTU', () => {
    let mtu = 1500;
    const info = (name: string) => ({ name, index: name === 'in0' ? 4 : 5, up: true, running: true, mtu, mac: '', addresses: [] });
    const state = new ForwardingState(1, { get: info });
    const r = rule('a', ['in0', '239.1.1.1', 5000], [['out1', '239.9.9.9', 6000]]);
    state.set(r);
    mtu = 9000;
    state.set(r);
    expect(sendersOf(state.workers[0]).map((s) => [s.key, s.mtu])).to.deep.equal([['out1#5/9000|ttl=1|tos=0&255', 9000]]);
  });

  it('reports a missing input interface as waiting and installs nothing for it', () => {
    const plan = planForwarding([rule('a', ['nope0', '239.1.1.1', 5000], [['out1', '239.9.9.9', 6000]])], 1, lookup(['out1', 5]));
    expect(plan.statuses.get('a')!.state).to.equal(RuleState.RULE_STATE_WAITING_FOR_INTERFACE);
    expect(plan.statuses.get('a')!.reason).to.contain('nope0');
    expect(plan.workers[0].rules).to.be.empty;
    expect(plan.workers[0].captures.size).to.equal(0);
    expect(plan.memberships.size).to.equal(0);
  });

  it('forwards to the outputs that exist and names the missing ones', () => {
    const r = rule('a', ['in0', '239.1.1.1', 5000], [['gone0', '239.9.9.9', 6000], ['out1', '239.9.9.8', 6000]]);
    const plan = planForwarding([r], 1, lookup(['in0', 4], ['out1', 5]));
    const status = plan.statuses.get('a')!;
    expect(status.state).to.equal(RuleState.RULE_STATE_ACTIVE);
    expect(status.reason).to.contain('outputs[0]').and.contain('gone0');
    expect([...plan.workers[0].rules.values()][0].outputIndexes).to.deep.equal([1]);
  });

  it('waits when no output interface exists', () => {
    const plan = planForwarding([rule('a', ['in0', '239.1.1.1', 5000], [['gone0', '239.9.9.9', 6000]])], 1, lookup(['in0', 4]));
    expect(plan.statuses.get('a')!.state).to.equal(RuleState.RULE_STATE_WAITING_FOR_INTERFACE);
    expect(plan.workers[0].rules).to.be.empty;
  });

  it('uninstalls a rule whose input is set down (sockets and membership go) and reports it down', () => {
    const plan = planForwarding([rule('a', ['in0', '239.1.1.1', 5000], [['out1', '239.9.9.9', 6000]])], 1, lookup(['in0', 4, false], ['out1', 5]));
    expect(plan.statuses.get('a')!.state).to.equal(RuleState.RULE_STATE_INTERFACE_DOWN);
    expect(plan.statuses.get('a')!.reason).to.contain('in0 is down');
    expect(plan.workers[0].rules).to.be.empty;
    expect(plan.workers[0].captures.size).to.equal(0);
    expect(plan.memberships.size).to.equal(0);
  });

  it('keeps a rule whose input is up without carrier installed, reporting it down', () => {
    const noCarrier = { get: (n: string) => (n === 'in0' ? { name: 'in0', index: 4, up: true, running: false, mtu: 1500, mac: '', addresses: [] } : lookup(['out1', 5]).get(n)) };
    const plan = planForwarding([rule('a', ['in0', '239.1.1.1', 5000], [['out1', '239.9.9.9', 6000]])], 1, noCarrier);
    expect(plan.statuses.get('a')!.state).to.equal(RuleState.RULE_STATE_INTERFACE_DOWN);
    expect(plan.statuses.get('a')!.reason).to.contain('no carrier');
    expect(plan.workers[0].rules).to.have.length(1);
  });

  it('leaves out an output whose interface is down and says so, forwarding to the others', () => {
    const r = rule('a', ['in0', '239.1.1.1', 5000], [['out1', '239.9.9.9', 6000], ['out2', '239.9.9.8', 6000]]);
    const plan = planForwarding([r], 1, lookup(['in0', 4], ['out1', 5, false], ['out2', 6]));
    expect(plan.statuses.get('a')!.state).to.equal(RuleState.RULE_STATE_ACTIVE);
    expect(plan.statuses.get('a')!.reason).to.contain('outputs[0] interface out1 is down');
    expect([...plan.workers[0].rules.values()][0].outputIndexes).to.deep.equal([1]);
  });

  it('reports a rule whose every output interface is down as down', () => {
    const r = rule('a', ['in0', '239.1.1.1', 5000], [['out1', '239.9.9.9', 6000]]);
    const plan = planForwarding([r], 1, lookup(['in0', 4], ['out1', 5, false]));
    expect(plan.statuses.get('a')!.state).to.equal(RuleState.RULE_STATE_INTERFACE_DOWN);
    expect(plan.workers[0].rules).to.be.empty;
  });

  it('gives an output a new egress socket when its interface changes index, not when it changes address', () => {
    const r = rule('a', ['in0', '239.1.1.1', 5000], [['out1', '239.9.9.9', 6000]]);
    const keysWith = (index: number, addresses: string[]) => {
      const table = lookup(['in0', 4], ['out1', index]);
      const withAddresses = { get: (n: string) => (n === 'out1' ? { ...table.get(n)!, addresses } : table.get(n)) };
      const worker = planForwarding([r], 1, withAddresses).workers[0];
      return [sendersOf(worker)[0].key, [...worker.egress.keys()][0]];
    };
    const base = keysWith(5, ['10.3.0.1/24']);
    expect(keysWith(5, ['10.3.0.1/24'])).to.deep.equal(base);
    // Unconnected: the kernel picks the source address at each send.
    expect(keysWith(5, ['10.3.0.9/24'])).to.deep.equal(base);
    const moved = keysWith(9, ['10.3.0.1/24']);
    expect(moved[0]).to.not.equal(base[0]);
    expect(moved[1]).to.not.equal(base[1]);
  });
});
