/**
 * Incremental planning (docs/decisions/0037): a plan changed rule by rule holds exactly what a plan
 * made afresh of the same rules holds, and the differences it reports (targets, egress keys no longer
 * used, memberships to join and leave), applied to what was there, give what a full pass would. The
 * capture filter patched by differences holds the keys a filter of all the targets holds.
 */
import { expect } from 'chai';

import { Rule } from '../../gen/mcr/v1/rules';
import type { Native } from '../../native';
import { ForwardingState, planForwarding, PlannedRule, targetKey, WorkerPlan } from '../../server/forwarding/plan';
import { PersistentMap } from '../../server/forwarding/persistent-map';
import { CaptureFilters, captureKeys } from '../../server/net/capture-filter';
import type { CaptureTarget } from '../../server/net/bpf';
import type { InterfaceInfo } from '../../server/net/interfaces';
import { SeededRandom } from '../support/seeded-random';

/** A small deterministic generator (so a failure can be replayed). */
function random(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n: number) => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state % n;
  };
}

const IFACES = new Map<string, InterfaceInfo>(
  [
    ['in0', 2, true, true],
    ['in1', 3, true, true],
    ['in2', 4, true, false], // up, no carrier
    ['in3', 5, false, false], // down
    ['out1', 6, true, true],
    ['out2', 7, true, true],
    ['out3', 8, false, false],
  ].map(([name, index, up, running]) => [name as string, { name: name as string, index: index as number, up: up as boolean, running: running as boolean, mtu: 1500, mac: '', addresses: [`10.0.${index}.1`] }]),
);
const interfaces = { get: (name: string) => IFACES.get(name) };

/** A rule of a small space, so that rules share groups, ports, egress sockets and memberships. */
function randomRule(next: (n: number) => number, id: string): Rule {
  const inputs = ['in0', 'in1', 'in2', 'in3', 'gone0'];
  const outputs = ['out1', 'out2', 'out3', 'gone1'];
  return Rule.fromPartial({
    id,
    input: { interface: inputs[next(inputs.length)], group: `239.1.1.${1 + next(4)}`, port: 5000 + next(3), source: next(3) === 0 ? `10.9.9.${1 + next(2)}` : '' },
    outputs: Array.from({ length: 1 + next(3) }, () => ({ interface: outputs[next(outputs.length)], address: `239.2.2.${1 + next(3)}`, port: 6000 + next(2), ...(next(4) === 0 ? { ttl: 4 } : {}) })),
  });
}

function sortedEntries<T>(map: ReadonlyMap<string, T>): Array<[string, T]> {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A worker plan in a form that does not depend on the order rules were planned in. */
function normalWorker(plan: WorkerPlan): unknown {
  return {
    captures: sortedEntries(plan.captures).map(([ifname, c]) => [ifname, c.ifindex, sortedEntries(c.targets)]),
    egress: sortedEntries(plan.egress),
    rules: sortedEntries(plan.rules),
  };
}

function expectSamePlan(state: ForwardingState, fresh: ForwardingState): void {
  expect(state.workers.map(normalWorker)).to.deep.equal(fresh.workers.map(normalWorker));
  expect(sortedEntries(state.memberships)).to.deep.equal(sortedEntries(fresh.memberships));
  expect(sortedEntries(state.statuses)).to.deep.equal(sortedEntries(fresh.statuses));
}

/** What a worker (and the memberships) would hold, changed by the deltas only. */
class Mirror {
  readonly targets: Array<Map<string, Set<string>>>;
  readonly egress: Array<Set<string>>;
  readonly rules: Array<Map<string, PlannedRule>>;
  readonly memberships = new Set<string>();

  constructor(workers: number) {
    this.targets = Array.from({ length: workers }, () => new Map());
    this.egress = Array.from({ length: workers }, () => new Set());
    this.rules = Array.from({ length: workers }, () => new Map());
  }

  follow(state: ForwardingState): void {
    const delta = state.take();
    delta.workers.forEach((worker, w) => {
      for (const [ifname, { added, removed }] of worker.targets) {
        const held = this.targets[w].get(ifname) ?? new Set<string>();
        for (const t of added) {
          expect(held.has(targetKey(t)), `target ${targetKey(t)} added twice`).to.equal(false);
          held.add(targetKey(t));
        }
        for (const t of removed) expect(held.delete(targetKey(t)), `target ${targetKey(t)} removed but not there`).to.equal(true);
        if (held.size > 0) this.targets[w].set(ifname, held);
        else this.targets[w].delete(ifname);
      }
      for (const id of worker.rules) {
        const planned = state.workers[w].rules.get(id);
        if (planned) {
          this.rules[w].set(id, planned);
          for (const key of planned.outputs) this.egress[w].add(key);
        } else {
          this.rules[w].delete(id);
        }
      }
      for (const key of worker.egressGone) this.egress[w].delete(key);
    });
    for (const key of delta.leave) expect(this.memberships.delete(key), `left ${key} not joined`).to.equal(true);
    for (const key of delta.join.keys()) {
      expect(this.memberships.has(key), `joined ${key} twice`).to.equal(false);
      this.memberships.add(key);
    }
  }

  expectMatches(state: ForwardingState): void {
    state.workers.forEach((plan, w) => {
      const targets = new Map([...plan.captures].map(([ifname, c]) => [ifname, new Set(c.targets.keys())]));
      expect(sortedEntries(this.targets[w])).to.deep.equal(sortedEntries(targets));
      expect([...this.egress[w]].sort()).to.deep.equal([...plan.egress.keys()].sort());
      expect(sortedEntries(this.rules[w])).to.deep.equal(sortedEntries(plan.rules));
    });
    expect([...this.memberships].sort()).to.deep.equal([...state.memberships.keys()].sort());
  }
}

describe('incremental forwarding plan', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`changed rule by rule, equals a plan made afresh, and its deltas add up to it (seed ${seed})`, () => {
      const next = random(seed);
      const workers = 1 + (seed % 3);
      const rules = new Map<string, Rule>();
      const state = new ForwardingState(workers, interfaces);
      const mirror = new Mirror(workers);
      for (let step = 0; step < 300; step++) {
        // A few changes per pass, as rule changes arrive between passes.
        for (let k = 1 + next(4); k > 0; k--) {
          const id = `r${next(40)}`;
          if (next(4) === 0) {
            rules.delete(id);
            state.remove(id);
          } else {
            const rule = randomRule(next, id);
            rules.set(id, rule);
            state.set(rule);
          }
        }
        mirror.follow(state);
        if (step % 10 === 0 || step === 299) {
          expectSamePlan(state, planForwarding([...rules.values()], workers, interfaces));
          mirror.expectMatches(state);
        }
      }
    });
  }

  it('reports nothing to do for a rule planned again unchanged', () => {
    const next = random(42);
    const rules = Array.from({ length: 20 }, (_, i) => randomRule(next, `r${i}`));
    const state = planForwarding(rules, 2, interfaces);
    for (const rule of rules) state.set(rule);
    const delta = state.take();
    expect(delta.join.size + delta.leave.size).to.equal(0);
    for (const worker of delta.workers) {
      expect(worker.targets.size).to.equal(0);
      expect(worker.egressGone.size).to.equal(0);
    }
  });
});

/** The eBPF part of the addon as far as CaptureFilters uses it: maps (IPv4 or IPv6) as sets of keys. */
class MapAddon {
  private next = 100;
  readonly maps = new Map<number, Set<string>>();
  /** Words per key of each map: 3 (IPv4) or 9 (IPv6). */
  private readonly strides = new Map<number, number>();
  private readonly programs = new Map<number, number[]>();
  private readonly attached = new Map<number, number[]>();
  /** Maps made, by family. */
  readonly made = { 4: 0, 6: 0 };

  createCaptureMap(capacity: number, family: 4 | 6 = 4): number {
    this.made[family]++;
    const fd = this.next++;
    this.maps.set(fd, new Set());
    this.strides.set(fd, family === 6 ? 9 : 3);
    return fd;
  }
  private keys(map: number, words: Uint32Array): string[] {
    const stride = this.strides.get(map)!;
    expect(words.length % stride).to.equal(0);
    return Array.from({ length: words.length / stride }, (_, i) => [...words.subarray(i * stride, (i + 1) * stride)].join(','));
  }
  updateCaptureMap(map: number, keys: Uint32Array): void {
    for (const key of this.keys(map, keys)) this.maps.get(map)!.add(key);
  }
  deleteFromCaptureMap(map: number, keys: Uint32Array): void {
    for (const key of this.keys(map, keys)) expect(this.maps.get(map)!.delete(key)).to.equal(true);
  }
  loadCaptureProgram(map: number, map6?: number): number {
    expect(this.strides.get(map)).to.equal(3);
    if (map6 !== undefined) expect(this.strides.get(map6)).to.equal(9);
    const fd = this.next++;
    this.programs.set(fd, map6 === undefined ? [map] : [map, map6]);
    return fd;
  }
  openPacketSocket(options: { program?: number }): number {
    const fd = this.next++;
    this.attached.set(fd, this.programs.get(options.program!)!);
    return fd;
  }
  attachCaptureProgram(fd: number, program: number): void {
    this.attached.set(fd, this.programs.get(program)!);
  }
  closeFd(fd: number): void {
    this.programs.delete(fd);
    this.maps.delete(fd);
  }
  /** The keys the program on socket `fd` looks up (in maps still open). */
  keysOf(fd: number): string[] {
    return this.attached
      .get(fd)!
      .flatMap((map) => [...this.maps.get(map)!])
      .sort();
  }
}

/** Patches `filters` at random with targets from `target` and checks the keys its program looks up after each. */
/** `batch(step)`: at most how many targets a step adds. */
function patchesHoldTheirKeys(target: () => CaptureTarget, next: (n: number) => number, batch = (step: number) => 30): MapAddon {
  const addon = new MapAddon();
  const filters = new CaptureFilters(addon as unknown as Native, 'ebpf');
  const held = new Map<string, CaptureTarget>();
  const fd = filters.open({ ifname: 'in0', ifindex: 2, rcvbuf: 1 }, []);
  const expected = () => [...captureKeys(held.values()).values()].map((t) => t.join(',')).sort();
  for (let step = 0; step < 200; step++) {
    const added = Array.from({ length: next(batch(step)) }, target).filter((t) => !held.has(targetKey(t)));
    const present = [...held.values()];
    const removed = present.filter(() => next(5) === 0);
    filters.patch(fd, added, removed);
    for (const t of removed) held.delete(targetKey(t));
    for (const t of added) held.set(targetKey(t), t);
    expect(addon.keysOf(fd)).to.deep.equal(expected());
  }
  // A whole update after patches is a no-op when nothing differs, and exact when something does.
  filters.update(fd, held.values());
  expect(addon.keysOf(fd)).to.deep.equal(expected());
  held.clear();
  filters.update(fd, []);
  expect(addon.keysOf(fd)).to.deep.equal([]);
  return addon;
}

describe('capture filter patched by differences', () => {
  it('holds the keys of all its targets after random patches, growing its map in place', () => {
    const next = random(9);
    patchesHoldTheirKeys(() => ({ group: `239.3.${next(4)}.${next(250)}`, port: 1 + next(3), ...(next(3) === 0 ? { source: `10.1.1.${1 + next(3)}` } : {}) }), next);
  });

  it('holds the keys of IPv4 and IPv6 targets in their two maps, the IPv6 one made with the first IPv6 target, each grown on its own', () => {
    // Not random(): its low bits, which small moduli take, repeat too soon to mix two families.
    const generator = new SeededRandom(17);
    const next = (n: number) => Math.floor(generator.next() * n);
    const target = (): CaptureTarget =>
      next(2) === 0
        ? { group: `239.3.${next(4)}.${next(250)}`, port: 1 + next(3), ...(next(3) === 0 ? { source: `10.1.1.${1 + next(3)}` } : {}) }
        : { group: `ff3e::${next(4) + 1}:${(next(250) + 1).toString(16)}`, port: next(3), ...(next(3) === 0 ? { source: `2001:db8::${1 + next(3)}` } : {}) };
    // From a few targets (a first map of the least capacity) to thousands (more keys than it holds).
    const addon = patchesHoldTheirKeys(target, next, (step) => 10 + 4 * step);
    expect(addon.made[4], 'IPv4 maps: the first and larger ones').to.be.greaterThan(1);
    expect(addon.made[6], 'IPv6 maps: the first and larger ones').to.be.greaterThan(1);
  });
});

describe('persistent map of installed rules', () => {
  it('holds what a plain map changed the same way holds, and a change leaves the map it was made from as it was', () => {
    const next = random(11);
    const plain = new Map<string, number>();
    let layered = PersistentMap.of(new Map<string, number>());
    for (let step = 0; step < 2000; step++) {
      const changes = new Map<string, number | undefined>();
      for (let k = next(5); k >= 0; k--) changes.set(`k${next(300)}`, next(3) === 0 ? undefined : step);
      const before = [...layered];
      const previous = layered;
      layered = layered.with(changes);
      expect([...previous]).to.deep.equal(before);
      for (const [key, value] of changes) {
        if (value === undefined) plain.delete(key);
        else plain.set(key, value);
      }
      expect(layered.size).to.equal(plain.size);
      if (step % 50 === 0) {
        expect(new Map(layered)).to.deep.equal(plain);
        for (let k = 0; k < 300; k++) {
          expect(layered.get(`k${k}`)).to.equal(plain.get(`k${k}`));
          expect(layered.has(`k${k}`)).to.equal(plain.has(`k${k}`));
        }
        expect([...layered.keys()].sort()).to.deep.equal([...plain.keys()].sort());
      }
    }
  });

  it('stays exact with number keys while it grows to 20,000 entries and shrinks to none (re-chunked on the way), in changes of 1 to 200 keys', () => {
    const next = random(23);
    const plain = new Map<number, number>();
    let map = PersistentMap.of(new Map<number, number>());
    const check = () => {
      expect(map.size).to.equal(plain.size);
      expect(new Map(map)).to.deep.equal(plain);
      for (let k = 0; k < 100; k++) {
        const key = next(25_000);
        expect(map.get(key)).to.equal(plain.get(key));
        expect(map.has(key)).to.equal(plain.has(key));
      }
    };
    let key = 0;
    while (plain.size < 20_000) {
      const changes = new Map<number, number | undefined>();
      for (let k = next(200); k >= 0; k--) changes.set(key++, key);
      changes.set(25_000 + next(100), undefined); // absent: nothing to remove
      const previous = map;
      const before = previous.size;
      map = map.with(changes);
      expect(previous.size).to.equal(before);
      for (const [k, v] of changes) if (v !== undefined) plain.set(k, v);
      if (next(20) === 0) check();
    }
    check();
    const keys = [...plain.keys()];
    while (keys.length > 0) {
      const changes = new Map<number, number | undefined>();
      for (let k = 1 + next(200); k > 0 && keys.length > 0; k--) changes.set(keys.splice(next(keys.length), 1)[0], undefined);
      map = map.with(changes);
      for (const k of changes.keys()) plain.delete(k);
      if (next(20) === 0) check();
    }
    check();
    expect([...map]).to.deep.equal([]);
  });
});
