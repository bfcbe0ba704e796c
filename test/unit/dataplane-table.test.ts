/**
 * The data plane's sharded table against a plain model, in process on the real addon (sockets on
 * loopback, no traffic; root for the packet sockets): thousands of rules over every shard changed by
 * interleaved upserts (new rules, new outputs, keys moved and swapped, tracing toggled, unchanged
 * rules) and removes, some refused whole; after each change every route the packet path would find,
 * the output an ICMP error is charged to for every destination, the senders the table knows and the
 * rules the counters list (ids, order, outputs) are what the model says. Counters live in a counter
 * region, so a route's counter slots show that its counters stayed where they were.
 */
import { expect } from 'chai';

import { native, type Dataplane, type DataplaneRule, type RouteForTest } from '../../native';
import { requireRoot } from '../support/fixture';
import { SeededRandom } from '../support/seeded-random';
import { FIXED_SEND_POLICY, UNKNOWN_MTU } from '../support/send-policy';

const REJECT_ALL: Array<[number, number, number, number]> = [[0x06, 0, 0, 0]];
const OUTPUTS = 3000;
/** Sender 3 is an IPv6 one: every third output sends to an IPv6 destination through it. */
const SENDERS = [1, 2, 3];
const IPV6_SENDER = 3;
const INPUTS = [1, 2];
const GROUPS = 400;
const PORTS = [5000, 5001, 5002];
const SOURCES = ['', '10.1.0.1', '10.1.0.2'];
/** Every other group is an IPv6 one, with sources of its family (one the mapped form of an IPv4 source's bytes). */
const SOURCES6 = ['', 'fd00::10:1:0:1', '::a01:1'];
/** 0: a rule without a VLAN (untagged frames). */
const VLANS = [0, 0, 100, 200];


interface Key {
  input: number;
  group: string;
  port: number;
  source: string;
  vlan?: number;
}
const keyText = (k: Key) => `${k.input}/${k.group}/${k.port}/${k.source}/${k.vlan ?? 0}`;
/** A rule's key fields, the VLAN only when it names one (as the supervisor sends them). */
const keyOf = ({ input, group, port, source, vlan }: Key): Key => ({ input, group, port, source, ...(vlan ? { vlan } : {}) });
const outputHandle = (i: number) => 100 + i;
const destination = (i: number) => {
  const sender = SENDERS[i % SENDERS.length];
  const address = sender === IPV6_SENDER ? `fd00::${50 + (i >> 16)}:${(i >> 8) & 255}:${i & 255}` : `10.${50 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
  return { sender, address, port: 1000 + (i % 3000) };
};
/** Group `n` (0 <= n < GROUPS), IPv4 or IPv6 by `ipv6`. */
const groupAddress = (n: number, ipv6: boolean) => (ipv6 ? `ff3e::9:${n >> 8}:${n & 255}` : `239.9.${n >> 8}.${n & 255}`);

describe('native Dataplane: the sharded table against a model', function () {
  this.timeout(120_000);
  const addon = native();
  let dp: Dataplane;
  const seeded = new SeededRandom(15);
  const next = () => seeded.next();
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
  let nextSlot = 10;
  let nextId = 0;
  /** The installed rules, in the order ruleCounters lists them. */
  let model = new Map<string, DataplaneRule>();
  /** Every key a rule ever had: each is looked up after every change. */
  const keysSeen = new Map<string, Key>();

  before(() => requireRoot());
  beforeEach(() => {
    const region = addon.createCounterRegion(200_000);
    dp = new addon.Dataplane({ core: -1, batch: 8, counters: region.fd });
    addon.closeFd(region.fd);
    for (const handle of INPUTS) dp.addInput(handle, addon.openPacketSocket({ ifindex: 1, rcvbuf: 65536, filter: REJECT_ALL }));
    for (const handle of SENDERS) {
      const family = handle === IPV6_SENDER ? 6 : 4;
      dp.addSender(handle, addon.openEgressSocket({ ifname: 'lo', ifindex: 1, family, ttl: 64, tos: 0, dontFragment: false, sndbuf: 65536 }), FIXED_SEND_POLICY, UNKNOWN_MTU);
    }
    for (let i = 0; i < OUTPUTS; i++) {
      const { sender, address, port } = destination(i);
      dp.addOutput(outputHandle(i), sender, address, port);
    }
    model = new Map();
    keysSeen.clear();
  });
  afterEach(() => dp.close());

  const inUse = (pending: Iterable<DataplaneRule>) => new Set([...model.values(), ...pending].map((r) => keyText(r)));
  const freeKey = (taken: Set<string>): Key => {
    for (;;) {
      const ipv6 = next() < 0.5;
      const group = groupAddress(Math.floor(next() * GROUPS), ipv6);
      const key = keyOf({ input: pick(INPUTS), group, port: pick(PORTS), source: pick(ipv6 ? SOURCES6 : SOURCES), vlan: pick(VLANS) });
      if (!taken.has(keyText(key))) return key;
    }
  };
  const someOutputs = () => {
    const count = 1 + Math.floor(next() * 4);
    return [...new Set(Array.from({ length: count }, () => outputHandle(Math.floor(next() * OUTPUTS))))];
  };
  /** A rule at `key` with fresh counter slots. */
  const made = (id: string, key: Key, outputs = someOutputs(), traced = next() < 0.05): DataplaneRule => {
    const counterSlot = nextSlot;
    nextSlot += 1 + outputs.length;
    keysSeen.set(keyText(key), key);
    return { id, ...keyOf(key), outputs, counterSlot, outputSlots: outputs.map((_h, j) => counterSlot + 1 + j), ...(traced ? { trace: { sampleEvery: 3, snapLength: 64 } } : {}) };
  };

  /** A valid change: new rules, changed ones (outputs, key, tracing, nothing), removes, unknown ids. */
  function change(size: number): { upserts: DataplaneRule[]; removes: string[] } {
    const upserts: DataplaneRule[] = [];
    const removes: string[] = [];
    const ids = [...model.keys()];
    const touched = new Set<string>();
    for (let n = 0; n < size; n++) {
      const roll = next();
      const id = ids.length ? pick(ids) : '';
      if (roll < 0.35 || !id || touched.has(id)) {
        upserts.push(made(`r${nextId++}`, freeKey(inUse(upserts))));
        continue;
      }
      touched.add(id);
      const old = model.get(id)!;
      if (roll < 0.5) removes.push(id);
      else if (roll < 0.6) upserts.push(made(id, old, someOutputs(), !!old.trace)); // new outputs, new slots
      else if (roll < 0.7) upserts.push({ ...old, vlan: undefined, ...freeKey(inUse(upserts)) }); // moved: same slots
      else if (roll < 0.75) upserts.push(old.trace ? { ...old, trace: undefined } : { ...old, trace: { sampleEvery: 1, snapLength: 0 } });
      else if (roll < 0.8) upserts.push({ ...old }); // unchanged
      else if (roll < 0.85) {
        upserts.push({ ...old });
        removes.push(id); // upserted and removed: the upsert wins
      } else if (roll < 0.9) removes.push(`never-${n}`);
      else {
        // Two rules trade keys in one change.
        const other = ids.find((o) => !touched.has(o));
        if (!other) continue;
        touched.add(other);
        const theirs = model.get(other)!;
        upserts.push({ ...old, vlan: undefined, ...keyOf(theirs) });
        upserts.push({ ...theirs, vlan: undefined, ...keyOf(old) });
      }
    }
    for (const rule of upserts) keysSeen.set(keyText(rule), keyOf(rule));
    return { upserts, removes };
  }

  function applyToModel(upserts: DataplaneRule[], removes: string[]): void {
    const upserted = new Set(upserts.map((r) => r.id));
    for (const id of removes) if (!upserted.has(id)) model.delete(id);
    for (const rule of upserts) model.set(rule.id, rule);
  }

  /** What the packet path must find for a packet of `key` (its VLAN's rule: exact source, else any source). */
  function expectedRoute(byKey: Map<string, DataplaneRule>, key: Key): RouteForTest | null {
    const rule = byKey.get(keyText(key)) ?? (key.source ? byKey.get(keyText({ ...key, source: '' })) : undefined);
    if (!rule) return null;
    return { counterSlot: rule.counterSlot!, outputs: rule.outputs, outputSlots: rule.outputSlots!, tracedId: rule.trace ? rule.id : '' };
  }

  function expectTableIsModel(when: string): void {
    const counters = dp.ruleCounters();
    expect(counters.map((r) => r.id), `${when}: rules and their order`).to.deep.equal([...model.keys()]);
    counters.forEach((r) => expect(r.outputs.map((o) => o.handle), `${when}: outputs of ${r.id}`).to.deep.equal(model.get(r.id)!.outputs));
    const byKey = new Map([...model.values()].map((r) => [keyText(r), r]));
    const keys = [...keysSeen.values()];
    // A packet from a source no rule names falls back to the any-source rule of its key.
    keys.push(...keys.filter((k) => k.source === '').map((k) => ({ ...k, source: k.group.includes(':') ? 'fd00::1:9' : '10.1.0.9' })));
    for (const key of keys) {
      const found = dp.routeForTest(key.input, key.group, key.port, key.source || '', key.vlan ?? 0);
      expect(found, `${when}: route of ${keyText(key)}`).to.deep.equal(expectedRoute(byKey, key));
    }
    const named = new Set([...model.values()].flatMap((r) => r.outputs));
    const senders = new Set([...named].map((h) => destination(h - 100).sender));
    for (let i = 0; i < OUTPUTS; i++) {
      const { sender, address, port } = destination(i);
      const found = dp.outputForTest(sender, address, port);
      expect(found.output, `${when}: output for ${address}:${port}`).to.equal(named.has(outputHandle(i)) ? outputHandle(i) : null);
    }
    for (const sender of SENDERS) expect(dp.outputForTest(sender, sender === IPV6_SENDER ? '::' : '10.0.0.0', 1).senderKnown, `${when}: sender ${sender} known`).to.equal(senders.has(sender));
    expect(byKey.size).to.equal(model.size);
  }

  it('finds every route, destination and sender the model has after each of many interleaved changes', () => {
    const first = Array.from({ length: 3000 }, () => made(`r${nextId++}`, freeKey(new Set()))).filter((r, i, all) => all.findIndex((o) => keyText(o) === keyText(r)) === i);
    dp.updateRules(first, []);
    applyToModel(first, []);
    expectTableIsModel('after the first 3000');
    for (let round = 0; round < 40; round++) {
      const size = round % 10 === 9 ? 400 : 1 + Math.floor(next() * 12);
      const { upserts, removes } = change(size);
      dp.updateRules(upserts, removes);
      applyToModel(upserts, removes);
      expectTableIsModel(`round ${round} (${upserts.length} upserts, ${removes.length} removes)`);
    }
    // Everything removed in pieces, then nothing is found and no output or sender is named.
    const ids = [...model.keys()];
    for (let i = 0; i < ids.length; i += 700) {
      dp.updateRules([], ids.slice(i, i + 700));
      applyToModel([], ids.slice(i, i + 700));
    }
    expectTableIsModel('all removed');
  });

  it('refuses a change whole, naming the rules at fault, and leaves the previous table in force', () => {
    const first = Array.from({ length: 2000 }, () => made(`r${nextId++}`, freeKey(new Set()))).filter((r, i, all) => all.findIndex((o) => keyText(o) === keyText(r)) === i);
    dp.updateRules(first, []);
    applyToModel(first, []);
    // A rule the change leaves alone, whose key an upsert then takes.
    let victim = first[0];
    const refusals: Array<[string, (valid: DataplaneRule[], removes: string[]) => DataplaneRule[], RegExp | (() => RegExp)]> = [
      [
        'a key an installed rule has',
        (valid, removes) => {
          const touched = new Set([...valid.map((r) => r.id), ...removes]);
          victim = [...model.values()].find((r) => !touched.has(r.id))!;
          return [...valid, made('intruder', victim)];
        },
        () => new RegExp(`^upserts\\[\\d+\\]: same match key \\(input ${victim.input}, ${victim.group.replace(/\./g, '\\.')}:${victim.port}, source [^)]*\\) as installed rule "${victim.id}"$`),
      ],
      ['one key twice in the change', (valid) => { const key = freeKey(inUse(valid)); return [...valid, made('twin-a', key), made('twin-b', key)]; }, /^upserts\[\d+\]: same match key .* as upserts\[\d+\]$/],
      ['an unknown output', (valid) => [...valid, { ...made('lost', freeKey(inUse(valid))), outputs: [99999], outputSlots: [5] }], /^upserts\[\d+\]\.outputs\[0\]: unknown output handle 99999$/],
      ['an unknown input', (valid) => [...valid, { ...made('nowhere', freeKey(inUse(valid))), input: 9 }], /^upserts\[\d+\]\.input: unknown input handle 9$/],
      ['a slot outside the region', (valid) => [...valid, { ...made('far', freeKey(inUse(valid))), counterSlot: 10_000_000 }], /^upserts\[\d+\]: .*slot/],
      ['an id twice', (valid) => [...valid, made(valid[0]?.id ?? 'x', freeKey(inUse(valid))), made(valid[0]?.id ?? 'x', freeKey(inUse(valid)))], /^upserts\[\d+\]\.id: duplicate rule id/],
      ['a traced rule with too many outputs', (valid) => [...valid, { ...made('wide', freeKey(inUse(valid)), Array.from({ length: 65 }, (_h, j) => outputHandle(j)), true) }], /^upserts\[\d+\]\.outputs: a traced rule has at most/],
    ];
    for (const [what, build, message] of refusals) {
      const { upserts, removes } = change(30); // valid on its own: refused with the faulty rule
      const refused = build(upserts, removes);
      expect(() => dp.updateRules(refused, removes), what).to.throw(TypeError, typeof message === 'function' ? message() : message);
      expectTableIsModel(`after refusing ${what}`);
      dp.updateRules(upserts, removes); // the valid part alone goes in
      applyToModel(upserts, removes);
      expectTableIsModel(`after the valid part of ${what}`);
    }
  });

  it('replaces the table whole with setRules in the order given, counter slots and all, and updates go on from it', () => {
    const first = Array.from({ length: 1500 }, () => made(`r${nextId++}`, freeKey(new Set()))).filter((r, i, all) => all.findIndex((o) => keyText(o) === keyText(r)) === i);
    dp.setRules(first);
    applyToModel(first, []);
    expectTableIsModel('first setRules');
    const { upserts } = change(200);
    const kept = [...model.values()].filter(() => next() < 0.7);
    const replaced = new Map(kept.map((r) => [r.id, r]));
    for (const rule of upserts) if (!replaced.has(rule.id) || next() < 0.5) replaced.set(rule.id, rule);
    const shuffled = [...replaced.values()].sort(() => next() - 0.5);
    const byKey = new Set<string>();
    const rules = shuffled.filter((r) => !byKey.has(keyText(r)) && byKey.add(keyText(r)));
    dp.setRules(rules);
    model = new Map(rules.map((r) => [r.id, r]));
    expectTableIsModel('second setRules');
    expect(() => dp.setRules([rules[0], { ...rules[1], ...rules[0], id: 'copy' }]), 'a key twice').to.throw(TypeError, /^rules\[1\]: same match key .* as rules\[0\]$/);
    expectTableIsModel('after a refused setRules');
    // Updates go on from what setRules counted (outputs and senders named, inputs armed).
    for (let round = 0; round < 5; round++) {
      const next = change(round === 4 ? 300 : 5);
      dp.updateRules(next.upserts, next.removes);
      applyToModel(next.upserts, next.removes);
      expectTableIsModel(`update ${round} after setRules`);
    }
  });
});
