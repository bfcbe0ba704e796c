/**
 * The API for orchestration tools: ListInterfaces (what mcr sees, and which rules use each interface,
 * including interfaces rules name that do not exist) and WatchEvents (interface changes, rule status
 * changes, rule changes, worker exits and starts), with every detail field checked against the
 * namespace's own view (sysfs), and a kinds filter that delivers only what was asked for.
 */
import { expect } from 'chai';

import { RuleState } from '../../gen/mcr/v1/rules';
import { Event, EventKind, Interface } from '../../gen/mcr/v1/system';
import { useRelay } from '../support/fixture';
import { ipIn, linkAttribute, linkNumber, setLink } from '../support/links';
import { NET } from '../support/netns';
import { waitFor } from '../support/poll';
import { waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { EventStream, kindName, SystemEvents, waitUntilSubscribed } from '../support/system-events';

const WORKERS = 2;
const MISSING = 'gone0';
const TEMPORARY = 'tmp0';
const TEMPORARY_PEER = 'tmp0-peer';
const CHANGED_MTU = 1400;

/** What ListInterfaces must say of an interface that exists, read from the relay namespace itself. */
async function kernelView(ns: string, ifname: string, address: string): Promise<Partial<Interface>> {
  return {
    name: ifname,
    index: await linkNumber(ns, ifname, 'ifindex'),
    exists: true,
    up: true,
    running: true,
    mtu: await linkNumber(ns, ifname, 'mtu'),
    mac: await linkAttribute(ns, ifname, 'address'),
    addresses: [{ address, prefixLength: 24 }],
  };
}

function named(list: Interface[], name: string): Interface {
  const found = list.find((i) => i.name === name);
  if (!found) throw new Error(`ListInterfaces has no ${name}: ${list.map((i) => i.name).join(', ')}`);
  return found;
}

const isKind = (kind: EventKind) => (e: Event) => e.kind === kind;

describe('e2e: interfaces: ListInterfaces and WatchEvents', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: WORKERS });
  let api: SystemEvents | null = null;
  /** A stream of every kind, open for the whole file. */
  let all: EventStream | null = null;

  /** Adds and deletes a veth in the relay: INTERFACE_CHANGED, then INTERFACE_REMOVED. */
  async function addAndRemoveLink(): Promise<void> {
    await ipIn(relay.topology.ns.relay, ['link', 'add', TEMPORARY, 'type', 'veth', 'peer', 'name', TEMPORARY_PEER]);
    await ipIn(relay.topology.ns.relay, ['link', 'del', TEMPORARY]);
  }

  before(async function () {
    api = new SystemEvents(relay.mcrd.socketPath);
    all = api.watch();
    await waitUntilSubscribed([all], addAndRemoveLink);
  });
  after(() => api?.close());

  it('ListInterfaces lists in0, out1 and out2 with their details and rules, and a missing interface a rule names', async function () {
    const { client, topology } = relay;
    const both = await client.createRule({
      name: 'both-outputs',
      input: { interface: NET.relayIn.ifname, group: '239.11.0.1', port: 5020 },
      outputs: [
        { interface: NET.relayOut1.ifname, address: '239.9.11.1', port: 6020 },
        { interface: NET.relayOut2.ifname, address: '239.9.11.2', port: 6021 },
      ],
    });
    const waiting = await client.createRule({
      name: 'on-missing',
      input: { interface: MISSING, group: '239.11.0.2', port: 5021 },
      outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.11.3', port: 6022 }],
    });
    try {
      await waitForRuleState(client, both.id);
      await waitForRuleState(client, waiting.id, RuleState.RULE_STATE_WAITING_FOR_INTERFACE);
      const list = await api!.listInterfaces();
      const ns = topology.ns.relay;

      expect(named(list, NET.relayIn.ifname), 'in0').to.deep.include({
        ...(await kernelView(ns, NET.relayIn.ifname, NET.relayIn.address)),
        inputRules: [both.id],
        outputRules: [],
      });
      expect(named(list, NET.relayOut1.ifname), 'out1').to.deep.include({
        ...(await kernelView(ns, NET.relayOut1.ifname, NET.relayOut1.address)),
        inputRules: [],
      });
      expect(named(list, NET.relayOut1.ifname).outputRules, 'rules with an output on out1').to.have.members([both.id, waiting.id]);
      expect(named(list, NET.relayOut2.ifname), 'out2').to.deep.include({
        ...(await kernelView(ns, NET.relayOut2.ifname, NET.relayOut2.address)),
        inputRules: [],
        outputRules: [both.id],
      });
      expect(named(list, NET.relayIn.ifname).mac, 'mac format').to.match(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      expect(named(list, MISSING), 'the missing interface').to.deep.equal({
        name: MISSING,
        index: 0,
        exists: false,
        up: false,
        running: false,
        mtu: 0,
        mac: '',
        addresses: [],
        inputRules: [waiting.id],
        outputRules: [],
      });
    } finally {
      await client.deleteRule(both.id);
      await client.deleteRule(waiting.id);
    }
  });

  it('WatchEvents: INTERFACE_CHANGED and INTERFACE_REMOVED for link changes', async function () {
    const { client, topology } = relay;
    const ns = topology.ns.relay;
    const rule = await client.createRule({
      name: 'uses-out2',
      input: { interface: NET.relayIn.ifname, group: '239.11.0.3', port: 5022 },
      outputs: [{ interface: NET.relayOut2.ifname, address: '239.9.11.4', port: 6023 }],
    });
    const originalMtu = await linkNumber(ns, NET.relayOut2.ifname, 'mtu');
    try {
      await waitForRuleState(client, rule.id);
      let since = all!.mark();
      await ipIn(ns, ['link', 'set', NET.relayOut2.ifname, 'mtu', String(CHANGED_MTU)]);
      const changed = await all!.waitFor(`INTERFACE_CHANGED for ${NET.relayOut2.ifname} with mtu ${CHANGED_MTU}`, (e) => e.kind === EventKind.EVENT_KIND_INTERFACE_CHANGED && e.interface?.name === NET.relayOut2.ifname && e.interface.mtu === CHANGED_MTU, { since });
      expect(changed.interface, 'the changed interface').to.deep.include({
        index: await linkNumber(ns, NET.relayOut2.ifname, 'ifindex'),
        exists: true,
        up: true,
        running: true,
        mac: await linkAttribute(ns, NET.relayOut2.ifname, 'address'),
        addresses: [{ address: NET.relayOut2.address, prefixLength: 24 }],
        outputRules: [rule.id],
      });
      expect(changed.message, 'message').to.include(NET.relayOut2.ifname);
      expect(Number(changed.unixNanos / 1_000_000n), 'event time (unix ms)').to.be.closeTo(Date.now(), 5000);

      // An interface that comes and goes.
      since = all!.mark();
      await ipIn(ns, ['link', 'add', TEMPORARY, 'type', 'veth', 'peer', 'name', TEMPORARY_PEER]);
      const index = await linkNumber(ns, TEMPORARY, 'ifindex');
      const appeared = await all!.waitFor(`INTERFACE_CHANGED for new ${TEMPORARY}`, (e) => e.kind === EventKind.EVENT_KIND_INTERFACE_CHANGED && e.interface?.name === TEMPORARY, { since });
      expect(appeared.interface, `${TEMPORARY} appearing`).to.deep.include({ index, exists: true, up: false, running: false });
      await ipIn(ns, ['link', 'del', TEMPORARY]);
      const removed = await all!.waitFor(`INTERFACE_REMOVED for ${TEMPORARY}`, (e) => e.kind === EventKind.EVENT_KIND_INTERFACE_REMOVED && e.interface?.name === TEMPORARY, { since });
      expect(removed.interface, `${TEMPORARY} removed`).to.deep.include({ index: 0, exists: false });
    } finally {
      await ipIn(ns, ['link', 'set', NET.relayOut2.ifname, 'mtu', String(originalMtu)]);
      await client.deleteRule(rule.id);
    }
  });

  it('WatchEvents: RULE_STATUS_CHANGED for the rule whose input went down and came back', async function () {
    const { client, topology } = relay;
    const rule = await client.createRule({
      name: 'input-watched',
      input: { interface: NET.relayIn.ifname, group: '239.11.0.4', port: 5023 },
      outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.11.5', port: 6024 }],
    });
    try {
      const active = await waitForRuleState(client, rule.id);
      const since = all!.mark();
      await setLink(topology.ns.relay, NET.relayIn.ifname, 'down');
      const down = await all!.waitFor(`RULE_STATUS_CHANGED to INTERFACE_DOWN for ${rule.id}`, (e) => e.kind === EventKind.EVENT_KIND_RULE_STATUS_CHANGED && e.rule?.ruleId === rule.id, { since });
      expect(down.rule?.status, 'status in the event').to.deep.include({ state: RuleState.RULE_STATE_INTERFACE_DOWN, worker: active.status!.worker });
      expect(down.rule?.status?.reason, 'reason in the event').to.include(NET.relayIn.ifname);
      expect(down.rule?.change, 'change (only for RULE_CHANGED)').to.equal('');
      expect(down.message, 'message').to.include(rule.id);
      const inputDown = await all!.waitFor(`INTERFACE_CHANGED for ${NET.relayIn.ifname} down`, (e) => e.kind === EventKind.EVENT_KIND_INTERFACE_CHANGED && e.interface?.name === NET.relayIn.ifname && !e.interface.up, { since });
      expect(inputDown.interface?.inputRules, 'rules on the input').to.include(rule.id);

      const upSince = all!.mark();
      await setLink(topology.ns.relay, NET.relayIn.ifname, 'up');
      const up = await all!.waitFor(`RULE_STATUS_CHANGED to ACTIVE for ${rule.id}`, (e) => e.kind === EventKind.EVENT_KIND_RULE_STATUS_CHANGED && e.rule?.ruleId === rule.id && e.rule.status?.state === RuleState.RULE_STATE_ACTIVE, { since: upSince });
      expect(up.rule?.status?.reason, 'reason once active again').to.equal('');
    } finally {
      await setLink(topology.ns.relay, NET.relayIn.ifname, 'up');
      await client.deleteRule(rule.id);
    }
  });

  it('WatchEvents: RULE_CHANGED for a created, updated and deleted rule', async function () {
    const { client } = relay;
    const since = all!.mark();
    const spec = {
      name: 'announced',
      input: { interface: NET.relayIn.ifname, group: '239.11.0.5', port: 5024 },
      outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.11.6', port: 6025 }],
    };
    const rule = await client.createRule(spec);
    await client.updateRule(rule.id, { ...spec, outputs: [{ ...spec.outputs[0], port: 6026 }] });
    await client.deleteRule(rule.id);
    const ofRule = (e: Event) => e.kind === EventKind.EVENT_KIND_RULE_CHANGED && e.rule?.ruleId === rule.id;
    const deleted = await all!.waitFor(`RULE_CHANGED deleted for ${rule.id}`, (e) => ofRule(e) && e.rule!.change === 'deleted', { since });
    const changes = all!.matching(ofRule, since);
    expect(changes.map((e) => e.rule!.change), 'RULE_CHANGED events of the rule, in order').to.deep.equal(['created', 'updated', 'deleted']);
    for (const event of changes) expect(event.message, 'message').to.include(rule.id).and.include(event.rule!.change);
    expect(deleted.rule?.status, 'no status in RULE_CHANGED').to.equal(undefined);
  });

  it('WatchEvents: WORKER_EXITED and WORKER_STARTED when a worker is killed', async function () {
    const { client } = relay;
    const workers = await waitForWorkersInSync(client, WORKERS);
    const victim = workers[0];
    const since = all!.mark();
    process.kill(victim.pid, 'SIGKILL');
    const exited = await all!.waitFor(`WORKER_EXITED for worker ${victim.index}`, isKind(EventKind.EVENT_KIND_WORKER_EXITED), { since });
    expect(exited.worker, 'exited worker').to.deep.equal({ index: victim.index, pid: victim.pid, reason: 'signal SIGKILL' });
    const started = await all!.waitFor(`WORKER_STARTED for worker ${victim.index}`, isKind(EventKind.EVENT_KIND_WORKER_STARTED), { since });
    const replaced = await waitFor(
      `worker ${victim.index} running again`,
      async () => (await client.listWorkers()).find((w) => w.index === victim.index)!,
      (w) => w.pid !== victim.pid && w.pid !== 0,
    );
    expect(started.worker, 'started worker').to.deep.include({ index: victim.index, pid: replaced.pid });
    expect(started.worker?.pid, 'new pid').to.not.equal(victim.pid);
    expect(all!.events.indexOf(exited), 'exit announced before the start').to.be.below(all!.events.indexOf(started));
    await waitForWorkersInSync(client, WORKERS);
  });

  it('a kinds filter delivers only the kinds asked for', async function () {
    const { client, topology } = relay;
    const only = [EventKind.EVENT_KIND_INTERFACE_REMOVED, EventKind.EVENT_KIND_RULE_CHANGED];
    const filtered = api!.watch(only);
    const everything = api!.watch();
    await waitUntilSubscribed([filtered, everything], addAndRemoveLink);
    const since = everything.mark();
    const filteredSince = filtered.mark();

    // Events of every kind but the worker ones: rule changes, rule status changes, interface changes.
    const rule = await client.createRule({
      name: 'filtered',
      input: { interface: NET.relayIn.ifname, group: '239.11.0.6', port: 5025 },
      outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.11.7', port: 6027 }],
    });
    await waitForRuleState(client, rule.id);
    await setLink(topology.ns.relay, NET.relayIn.ifname, 'down');
    await waitForRuleState(client, rule.id, RuleState.RULE_STATE_INTERFACE_DOWN);
    await setLink(topology.ns.relay, NET.relayIn.ifname, 'up');
    await waitForRuleState(client, rule.id);
    await client.deleteRule(rule.id);
    await addAndRemoveLink();
    // The last event both streams want: once each has it, each has everything before it.
    const last = (e: Event) => e.kind === EventKind.EVENT_KIND_INTERFACE_REMOVED && e.interface?.name === TEMPORARY;
    await everything.waitFor('the last INTERFACE_REMOVED (every kind)', last, { since });
    await filtered.waitFor('the last INTERFACE_REMOVED (filtered)', last, { since: filteredSince });

    const seen = (stream: EventStream, from: number) => stream.events.slice(from).map((e) => `${kindName(e.kind)}: ${e.message}`);
    const everyKind = new Set(everything.events.slice(since).map((e) => kindName(e.kind)));
    expect([...everyKind].sort(), 'kinds on the unfiltered stream').to.include.members(['INTERFACE_CHANGED', 'INTERFACE_REMOVED', 'RULE_CHANGED', 'RULE_STATUS_CHANGED']);
    const wanted = everything.events.slice(since).filter((e) => only.includes(e.kind));
    expect(seen(filtered, filteredSince), 'the filtered stream: exactly the unfiltered stream\'s events of its kinds').to.deep.equal(
      wanted.map((e) => `${kindName(e.kind)}: ${e.message}`),
    );
    expect(filtered.droppedEvents, 'events dropped (filtered)').to.equal(0n);
    expect(everything.droppedEvents, 'events dropped (unfiltered)').to.equal(0n);
    filtered.close();
    everything.close();
  });
});
