/**
 * The eBPF capture filter, loaded into the running kernel: frames are run through it with
 * BPF_PROG_TEST_RUN and its verdicts compared with the classic exact program's (run in the test VM)
 * on the same frames. Skipped, saying why, where the kernel refuses eBPF or the test run.
 */
import { expect } from 'chai';
import { writeSync } from 'node:fs';

import { native } from '../../native';
import { ACCEPT, buildCaptureFilter, CaptureTarget, DROP_ALL } from '../../server/net/bpf';
import { CaptureFilters, captureKeys, keysByFamily, probeCaptureFilter } from '../../server/net/capture-filter';
import { formatIPv4, parseIPv4 } from '../../server/formats/addresses';
import { loadFilter } from '../support/bpf-vm';
import { randomFrame, randomTargets } from '../support/capture-cases';
import { admits } from '../support/capture-model';
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV6,
  frame,
  frame6,
  Frame6Spec,
  FrameSpec,
  IP_DF,
  IP_MF,
  IPPROTO_ESP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  Ipv6Extension,
  IPV6_DESTINATION_OPTIONS,
  IPV6_FRAGMENT,
  IPV6_HOP_BY_HOP,
  IPV6_ROUTING,
} from '../support/frames';
import { SeededRandom } from '../support/seeded-random';

const random = (seed: number) => {
  const generator = new SeededRandom(seed);
  return () => generator.next();
};

/** A map filled with `targets` and the program on it; close() releases both. */
interface Loaded {
  run(spec: FrameSpec): number;
  update(targets: CaptureTarget[], previous: CaptureTarget[]): void;
  close(): void;
}

/** `oneByOne`: filled the way kernels without batch map updates are (one key per syscall). */
function load(targets: CaptureTarget[], capacity = 1 << 17, oneByOne = false): Loaded {
  const addon = native();
  const map = addon.createCaptureMap(capacity);
  const keys = (t: CaptureTarget[]) => Uint32Array.from([...captureKeys(t).values()].flat());
  addon.updateCaptureMap(map, keys(targets), { oneByOne });
  const program = addon.loadCaptureProgram(map);
  return {
    run: (spec) => addon.testRunCaptureProgram(program, frame(spec)),
    update: (next, previous) => {
      const before = captureKeys(previous);
      const after = captureKeys(next);
      addon.updateCaptureMap(map, Uint32Array.from([...after].filter(([k]) => !before.has(k)).flatMap(([, t]) => t)));
      addon.deleteFromCaptureMap(map, Uint32Array.from([...before].filter(([k]) => !after.has(k)).flatMap(([, t]) => t)));
    },
    close: () => {
      addon.closeFd(program);
      addon.closeFd(map);
    },
  };
}

const groupAt = (i: number) => formatIPv4(parseIPv4('239.10.0.0')! + i);

/** Both maps filled with `targets`' keys (IPv4 and IPv6) and the program on them; runs whole frames. */
interface LoadedBoth {
  run(frame: Buffer): number;
  close(): void;
}

function loadBoth(targets: CaptureTarget[], capacity = 1 << 15): LoadedBoth {
  const addon = native();
  const keys = keysByFamily(captureKeys(targets));
  const maps = ([4, 6] as const).map((family) => {
    const map = addon.createCaptureMap(capacity, family);
    addon.updateCaptureMap(map, Uint32Array.from([...keys[family].values()].flat()));
    return map;
  });
  const program = addon.loadCaptureProgram(maps[0], maps[1]);
  return {
    run: (f) => addon.testRunCaptureProgram(program, f),
    close: () => {
      addon.closeFd(program);
      for (const map of maps) addon.closeFd(map);
    },
  };
}

/** sizeof(struct virtio_net_hdr). */
const VIRTIO_NET_HDR = 10;

/** A chain of extension headers of these types. */
const chain = (...types: number[]): Ipv6Extension[] => types.map((type) => ({ type }));

describe('eBPF capture filter (in the kernel)', function () {
  this.timeout(60_000);

  before(function () {
    const choice = probeCaptureFilter(native(), {});
    if (choice.kind !== 'ebpf') {
      console.log(`      (skipped: the kernel refuses the eBPF filter: ${choice.detail})`);
      this.skip();
    }
    const probe = load([]);
    try {
      probe.run({});
    } catch (err) {
      console.log(`      (skipped: BPF_PROG_TEST_RUN is not available for socket filters: ${(err as Error).message})`);
      this.skip();
    } finally {
      probe.close();
    }
  });

  it('decides exactly like the classic exact program on random targets and frames', () => {
    const rand = random(0xeb9f);
    const pick = <T>(items: T[]): T => items[Math.floor(rand() * items.length)];
    for (let round = 0; round < 30; round++) {
      // One target in ten is an ESP target (port 0).
      const targets = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => ({ group: groupAt(Math.floor(rand() * 30)), port: rand() < 0.1 ? 0 : 5000 + Math.floor(rand() * 20) }));
      const classic = buildCaptureFilter(targets);
      expect(classic.exact).to.equal(true);
      const vm = loadFilter(classic.program);
      const ebpf = load(targets);
      try {
        for (let n = 0; n < 150; n++) {
          const target = pick(targets);
          const spec: FrameSpec = {
            group: rand() < 0.7 ? target.group : rand() < 0.8 ? groupAt(Math.floor(rand() * 60)) : '10.9.8.7',
            port: rand() < 0.6 ? target.port : rand() < 0.5 ? pick(targets).port : rand() < 0.1 ? 0 : 1 + Math.floor(rand() * 65535),
            source: rand() < 0.5 ? '10.1.0.2' : '192.0.2.77',
            // One in-band tag is followed; two are not IPv4 at the first ethertype.
            vlans: rand() < 0.15 ? (rand() < 0.8 ? [{ vid: 7 }] : [{ vid: 7 }, { vid: 8 }]) : [],
            etherType: rand() < 0.05 ? pick([ETHERTYPE_ARP, ETHERTYPE_IPV6]) : undefined,
            protocol: rand() < 0.85 ? IPPROTO_UDP : pick([IPPROTO_TCP, IPPROTO_ESP]),
            fragment: rand() < 0.1 ? pick([IP_MF, 1, 0x1fff]) : rand() < 0.1 ? IP_DF : 0,
            ihl: rand() < 0.1 ? pick([4, 6, 11, 15]) : 5,
            truncateTo: rand() < 0.05 ? pick([13, 20, 33, 40]) : undefined,
          };
          let f: Buffer;
          try {
            f = frame(spec);
          } catch {
            continue; // a truncation longer than the frame
          }
          const want = vm.run(f).verdict;
          expect(ebpf.run(spec), JSON.stringify(spec)).to.equal(want);
        }
      } finally {
        ebpf.close();
      }
    }
  });

  it('matches the source of source-specific targets, any source otherwise', () => {
    const ebpf = load([
      { group: '239.1.1.1', port: 5000, source: '10.1.0.2' },
      { group: '239.1.1.2', port: 5000 },
      { group: '239.1.1.3', port: 5000, source: '10.1.0.2' },
      { group: '239.1.1.3', port: 5000, source: '10.1.0.3' },
    ]);
    try {
      expect(ebpf.run({ group: '239.1.1.1', port: 5000, source: '10.1.0.2' })).to.equal(ACCEPT);
      expect(ebpf.run({ group: '239.1.1.1', port: 5000, source: '10.1.0.9' })).to.equal(0);
      expect(ebpf.run({ group: '239.1.1.1', port: 5001, source: '10.1.0.2' })).to.equal(0);
      expect(ebpf.run({ group: '239.1.1.2', port: 5000, source: '10.1.0.9' })).to.equal(ACCEPT);
      expect(ebpf.run({ group: '239.1.1.3', port: 5000, source: '10.1.0.3' })).to.equal(ACCEPT);
      expect(ebpf.run({ group: '239.1.1.3', port: 5000, source: '10.1.0.4' })).to.equal(0);
      // What the data plane counts rather than the kernel hiding: fragments and non-UDP to a group.
      expect(ebpf.run({ group: '239.1.1.1', port: 5000, source: '10.1.0.9', fragment: IP_MF })).to.equal(ACCEPT);
      expect(ebpf.run({ group: '239.1.1.1', port: 1, source: '10.1.0.9', protocol: IPPROTO_TCP })).to.equal(ACCEPT);
      expect(ebpf.run({ group: '239.1.1.4', port: 5000, protocol: IPPROTO_TCP })).to.equal(0);
      // UDP to port 0 is no target's, though (group, 0, 0) is the group's own key.
      expect(ebpf.run({ group: '239.1.1.2', port: 0 })).to.equal(0);
    } finally {
      ebpf.close();
    }
  });

  it('admits ESP to the group of an ESP target (port 0) by the group key alone, from any source', () => {
    const targets: CaptureTarget[] = [{ group: '239.1.1.5', port: 0, source: '10.1.0.2' }];
    expect([...captureKeys(targets).keys()], 'no (group, 0, source) key: the program never looks one up').to.deep.equal(['239.1.1.5|0|']);
    const ebpf = load(targets);
    try {
      expect(ebpf.run({ group: '239.1.1.5', protocol: IPPROTO_ESP, source: '10.1.0.2' })).to.equal(ACCEPT);
      expect(ebpf.run({ group: '239.1.1.5', protocol: IPPROTO_ESP, source: '10.1.0.9' })).to.equal(ACCEPT);
      expect(ebpf.run({ group: '239.1.1.6', protocol: IPPROTO_ESP })).to.equal(0);
      expect(ebpf.run({ group: '239.1.1.5', port: 0, source: '10.1.0.2' })).to.equal(0);
      expect(ebpf.run({ group: '239.1.1.5', port: 5000, source: '10.1.0.2' })).to.equal(0);
    } finally {
      ebpf.close();
    }
  });

  for (const [fill, oneByOne] of [['in one batch', false], ['one key at a time (kernels before 5.6)', true]] as const) {
    it(`stays exact with 20,000 (group, port) pairs filled ${fill}, and a change leaves every other pair admitted`, () => {
      const targets = Array.from({ length: 20_000 }, (_, i) => ({ group: groupAt(i >> 2), port: 5000 + 2 * (i & 3) }));
      const ebpf = load(targets, 1 << 17, oneByOne);
      try {
        const rand = random(20_000);
        const sample = Array.from({ length: 2000 }, () => targets[Math.floor(rand() * targets.length)]);
        for (const { group, port } of sample) {
          expect(ebpf.run({ group, port }), `${group}:${port}`).to.equal(ACCEPT);
          expect(ebpf.run({ group, port: port + 1 }), `${group}:${port + 1}`).to.equal(0);
        }
        expect(ebpf.run({ group: groupAt(5000), port: 5000 })).to.equal(0);
        // One removed, one added: exactly those two verdicts change.
        const next = [...targets.slice(1), { group: groupAt(6000), port: 7000 }];
        ebpf.update(next, targets);
        expect(ebpf.run(targets[0])).to.equal(0);
        expect(ebpf.run({ group: groupAt(6000), port: 7000 })).to.equal(ACCEPT);
        for (const { group, port } of sample.filter((t) => t !== targets[0])) expect(ebpf.run({ group, port })).to.equal(ACCEPT);
      } finally {
        ebpf.close();
      }
    });
  }

  it('refuses keys that are not triples and maps larger than it allows', () => {
    const addon = native();
    const map = addon.createCaptureMap(4);
    try {
      expect(() => addon.updateCaptureMap(map, new Uint32Array([1, 2]))).to.throw(TypeError, /triples/);
      expect(() => addon.updateCaptureMap(map, [1, 2, 3] as unknown as Uint32Array)).to.throw(TypeError, /Uint32Array/);
      expect(() => addon.updateCaptureMap(map, new Uint32Array([1, 4095 * 0x1_0000 + 5000, 0]))).to.throw(TypeError, /VLAN ID 0\.\.4094/);
      expect(() => addon.updateCaptureMap(map, new Uint32Array([1, 1, 0]), { oneByOne: 1 } as never)).to.throw(TypeError, /oneByOne/);
      // A full map says so (E2BIG), which CaptureFilters turns into a larger map; one by one or in a batch.
      addon.updateCaptureMap(map, new Uint32Array([1, 1, 0, 2, 1, 0, 3, 1, 0, 4, 1, 0]));
      expect(() => addon.updateCaptureMap(map, new Uint32Array([5, 1, 0]))).to.throw(/BPF_MAP_UPDATE_ELEM/);
      expect(() => addon.updateCaptureMap(map, new Uint32Array([5, 1, 0, 6, 1, 0]), { oneByOne: true })).to.throw(/BPF_MAP_UPDATE_ELEM/);
      expect(() => addon.updateCaptureMap(map, new Uint32Array([5, 1, 0, 6, 1, 0]))).to.throw(/BPF_MAP_(UPDATE_BATCH|UPDATE_ELEM)/);
    } finally {
      addon.closeFd(map);
    }
    expect(() => addon.createCaptureMap(0)).to.throw(TypeError);
    const lo = addon.ifNameToIndex('lo');
    expect(() => addon.openPacketSocket({ ifindex: lo, rcvbuf: 1 << 16, filter: [[6, 0, 0, 0]], program: 0 })).to.throw(TypeError, /not both/);
    expect(() => addon.openPacketSocket({ ifindex: lo, rcvbuf: 1 << 16, program: -1 })).to.throw(TypeError);
  });

  describe('IPv6', () => {
    const TARGETS6: CaptureTarget[] = [
      { group: 'ff3e::1:5', port: 5000 },
      { group: 'ff3e::1:5', port: 5002, source: '2001:db8::7' },
      { group: 'ff0e::1:5', port: 5000, source: '2001:db8::7' },
      { group: 'ff0e::1:5', port: 5000, source: '2001:db8::8' },
      { group: 'ff3e::1:9', port: 0, source: '2001:db8::7' }, // ESP
      { group: '239.1.1.1', port: 5000 },
    ];
    let ebpf: LoadedBoth;
    before(() => {
      ebpf = loadBoth(TARGETS6);
    });
    after(() => ebpf?.close());
    const run = (spec: Frame6Spec) => ebpf.run(frame6(spec));

    it('admits UDP to (group, port, source) and (group, port, any source), nothing else of its groups\' UDP', () => {
      expect(run({ group: 'ff3e::1:5', port: 5000, source: '2001:db8::99' })).to.equal(ACCEPT);
      expect(run({ group: 'ff3e::1:5', port: 5002, source: '2001:db8::7' })).to.equal(ACCEPT);
      expect(run({ group: 'ff3e::1:5', port: 5002, source: '2001:db8::8' })).to.equal(0);
      expect(run({ group: 'ff0e::1:5', port: 5000, source: '2001:db8::8' })).to.equal(ACCEPT);
      expect(run({ group: 'ff0e::1:5', port: 5000, source: '2001:db8::9' })).to.equal(0);
      expect(run({ group: 'ff3e::1:5', port: 5001 })).to.equal(0);
      expect(run({ group: 'ff3e::1:5', port: 0 }), 'UDP to port 0 is no target\'s').to.equal(0);
      expect(run({ group: 'ff3e::1:6', port: 5000 })).to.equal(0);
      expect(run({ group: 'ff3e:0:0:1::1:5', port: 5000 }), 'the same last word, another group').to.equal(0);
      expect(run({ group: 'ff3e::1:5', port: 5000, vlans: [{ vid: 7 }] }), 'after an in-band tag').to.equal(ACCEPT);
      expect(run({ group: 'ff3e::1:5', port: 5000, vlans: [{ vid: 7 }, { vid: 8 }] })).to.equal(0);
      // IPv4 keeps its own map: its group's key admits no IPv6, and the reverse.
      expect(ebpf.run(frame({ group: '239.1.1.1', port: 5000 }))).to.equal(ACCEPT);
      expect(ebpf.run(frame({ group: '239.1.1.1', port: 5001 }))).to.equal(0);
    });

    it('admits ESP, fragments and other protocols to a group by its own key, from any source', () => {
      expect(captureKeys([TARGETS6[4]]).size, 'an ESP target: the group key alone').to.equal(1);
      expect(run({ group: 'ff3e::1:9', protocol: IPPROTO_ESP, source: '2001:db8::99' })).to.equal(ACCEPT);
      expect(run({ group: 'ff3e::1:9', port: 5000 }), 'no UDP to an ESP target').to.equal(0);
      expect(run({ group: 'ff3e::1:8', protocol: IPPROTO_ESP })).to.equal(0);
      expect(run({ group: 'ff3e::1:5', protocol: IPPROTO_TCP })).to.equal(ACCEPT);
      expect(run({ group: 'ff3e::1:5', port: 1, extensions: chain(IPV6_FRAGMENT) })).to.equal(ACCEPT);
      expect(run({ group: 'ff3e::1:5', port: 1, extensions: chain(IPV6_HOP_BY_HOP, IPV6_ROUTING, IPV6_FRAGMENT) })).to.equal(ACCEPT);
      expect(run({ group: 'ff3e::1:6', port: 5000, extensions: chain(IPV6_FRAGMENT) })).to.equal(0);
      expect(run({ group: 'ff3e::1:9', protocol: IPPROTO_ESP, extensions: chain(IPV6_DESTINATION_OPTIONS) })).to.equal(ACCEPT);
    });

    it('walks the extension headers the data plane steps over to UDP, and leaves a chain it refuses to the group key', () => {
      for (const extensions of [chain(IPV6_HOP_BY_HOP), chain(IPV6_HOP_BY_HOP, IPV6_DESTINATION_OPTIONS, IPV6_ROUTING), [{ type: IPV6_ROUTING, units: 3 }, { type: IPV6_DESTINATION_OPTIONS, units: 255 }]]) {
        const what = JSON.stringify(extensions);
        expect(run({ group: 'ff3e::1:5', port: 5000, extensions }), what).to.equal(ACCEPT);
        expect(run({ group: 'ff3e::1:5', port: 5002, source: '2001:db8::7', extensions }), what).to.equal(ACCEPT);
        expect(run({ group: 'ff3e::1:5', port: 5001, extensions }), what).to.equal(0);
        expect(run({ group: 'ff3e::1:5', port: 5002, source: '2001:db8::8', extensions }), what).to.equal(0);
      }
      // The UDP port is read after the headers, not where it would be without them.
      const decoy: Frame6Spec = { group: 'ff3e::1:5', sourcePort: 5000, port: 7, extensions: [{ type: IPV6_DESTINATION_OPTIONS, next: IPPROTO_UDP }] };
      expect(run(decoy)).to.equal(0);
      // At most 8 headers, hop-by-hop first only: beyond, or elsewhere, the group key admits.
      const eight = chain(IPV6_HOP_BY_HOP, ...Array<number>(7).fill(IPV6_DESTINATION_OPTIONS));
      expect(run({ group: 'ff3e::1:5', port: 5001, extensions: eight })).to.equal(0);
      expect(run({ group: 'ff3e::1:5', port: 5000, extensions: eight })).to.equal(ACCEPT);
      expect(run({ group: 'ff3e::1:5', port: 5001, extensions: [...eight, { type: IPV6_ROUTING }] })).to.equal(ACCEPT);
      expect(run({ group: 'ff3e::1:6', port: 5001, extensions: [...eight, { type: IPV6_ROUTING }] })).to.equal(0);
      expect(run({ group: 'ff3e::1:5', port: 5001, extensions: chain(IPV6_DESTINATION_OPTIONS, IPV6_HOP_BY_HOP) })).to.equal(ACCEPT);
      // A chain running past the frame's end drops it, as any load there does.
      const long = frame6({ group: 'ff3e::1:5', port: 5000, extensions: chain(IPV6_ROUTING, IPV6_ROUTING) });
      expect(ebpf.run(long.subarray(0, 14 + 40 + 8 + 1))).to.equal(0);
      expect(ebpf.run(long.subarray(0, 14 + 40 + 16 + 3))).to.equal(0);
      expect(ebpf.run(long.subarray(0, 14 + 40 + 16 + 4))).to.equal(ACCEPT);
      expect(ebpf.run(long.subarray(0, 14 + 39))).to.equal(0);
    });

    it('decides like the reference model, and like the classic program where they agree, on random IPv4 and IPv6 targets and frames', () => {
      const rand = random(0xe6e6);
      let differ = 0;
      for (let round = 0; round < 30; round++) {
        const targets = randomTargets(rand, round).map(({ vlan, ...t }) => t); // BPF_PROG_TEST_RUN has no VLAN tag to give
        const classic = buildCaptureFilter(targets);
        expect(classic.exact).to.equal(true);
        const vm = loadFilter(classic.program);
        const loaded = loadBoth(targets);
        try {
          for (let n = 0; n < 150; n++) {
            const probe = randomFrame(rand, targets);
            const got = loaded.run(probe.frame);
            expect(got === ACCEPT, probe.what).to.equal(admits(targets, probe.frame, { walk: true, sources: true }));
            const classicVerdict = vm.run(probe.frame).verdict;
            expect(classicVerdict === ACCEPT, `classic: ${probe.what}`).to.equal(admits(targets, probe.frame, { walk: false, sources: false }));
            // The classic program admits more (sources, extension headers), never less.
            if (got === ACCEPT) expect(classicVerdict, `classic admits what eBPF does: ${probe.what}`).to.equal(ACCEPT);
            if (got !== classicVerdict) differ++;
          }
        } finally {
          loaded.close();
        }
      }
      expect(differ, 'frames only the classic program admits').to.be.greaterThan(0);
    });

    it('stays exact with 20,000 IPv6 (group, port) pairs, next to IPv4 ones', () => {
      const group6 = (i: number) => `ff3e::${((i >> 2) + 1).toString(16)}:1`;
      const targets = Array.from({ length: 20_000 }, (_, i) => ({ group: i % 2 ? group6(i) : groupAt(i >> 2), port: 5000 + 2 * (i & 3) }));
      const both = loadBoth(targets, 1 << 16);
      try {
        const rand = random(60_000);
        for (let n = 0; n < 2000; n++) {
          const { group, port } = targets[Math.floor(rand() * targets.length)];
          const make = group.includes(':') ? (p: number) => frame6({ group, port: p }) : (p: number) => frame({ group, port: p });
          expect(both.run(make(port)), `${group} ${port}`).to.equal(ACCEPT);
          expect(both.run(make(port + 1)), `${group} ${port + 1}`).to.equal(0);
        }
      } finally {
        both.close();
      }
    });

    it('takes IPv6 keys of 9 words into an IPv6 map only, and a program only on maps of the right families', () => {
      const addon = native();
      const map4 = addon.createCaptureMap(4);
      const map6 = addon.createCaptureMap(4, 6);
      try {
        const key6 = Uint32Array.from([...captureKeys([{ group: 'ff3e::1', port: 5000, vlan: 7 }]).values()][0]);
        expect(key6.length).to.equal(9);
        addon.updateCaptureMap(map6, key6);
        addon.deleteFromCaptureMap(map6, key6);
        expect(() => addon.updateCaptureMap(map6, key6.subarray(0, 3))).to.throw(TypeError, /9 words/);
        expect(() => addon.updateCaptureMap(map6, Uint32Array.from([...key6.subarray(0, 4), 4095 * 0x1_0000, 0, 0, 0, 0]))).to.throw(TypeError, /keys\[4\] must hold a VLAN ID/);
        expect(() => addon.createCaptureMap(4, 5 as never)).to.throw(TypeError, /4 or 6/);
        expect(() => addon.loadCaptureProgram(map6)).to.throw(/an IPv4 map/);
        expect(() => addon.loadCaptureProgram(map4, map4)).to.throw(/an IPv6 map/);
        addon.closeFd(addon.loadCaptureProgram(map4, map6));
      } finally {
        addon.closeFd(map4);
        addon.closeFd(map6);
      }
    });
  });

  describe('CaptureFilters', () => {
    const lo = () => native().ifNameToIndex('lo');

    it('opens an eBPF-filtered socket, grows its map past its capacity in place, and closes it', () => {
      const filters = new CaptureFilters(native(), 'ebpf');
      const few = [{ group: '239.1.1.1', port: 5000 }];
      const fd = filters.open({ ifname: 'lo', ifindex: lo(), rcvbuf: 1 << 16 }, few);
      try {
        expect(filters.kindOf(fd)).to.equal('ebpf');
        const many = Array.from({ length: 3000 }, (_, i) => ({ group: groupAt(i), port: 5000 }));
        filters.update(fd, many); // 6000 keys: more than the first map's 1024
        expect(filters.kindOf(fd)).to.equal('ebpf');
        filters.update(fd, few);
        expect(filters.kindOf(fd)).to.equal('ebpf');
        expect(() => filters.update(fd, [{ group: '10.0.0.1', port: 1 }])).to.throw(TypeError);
      } finally {
        filters.close(fd);
      }
      expect(filters.kindOf(fd)).to.equal(undefined);
    });

    it('grows a map that would hold old and new keys at once, staying eBPF', () => {
      const filters = new CaptureFilters(native(), 'ebpf');
      const fd = filters.open({ ifname: 'lo', ifindex: lo(), rcvbuf: 1 << 16 }, [{ group: '239.1.1.1', port: 5000 }]);
      try {
        // 1000 keys into the first 1024-key map, then 1000 others: they go in before the old ones
        // leave, so the map must grow (a full map refuses the update: the socket would turn classic).
        filters.update(fd, Array.from({ length: 500 }, (_, i) => ({ group: groupAt(i), port: 6000 })));
        filters.update(fd, Array.from({ length: 500 }, (_, i) => ({ group: groupAt(1000 + i), port: 6000 })));
        expect(filters.kindOf(fd)).to.equal('ebpf');
      } finally {
        filters.close(fd);
      }
    });

    it('gives a socket an IPv6 map with its first IPv6 target, grows either map on its own, and refuses IPv6 that is not canonical', () => {
      const filters = new CaptureFilters(native(), 'ebpf');
      const fd = filters.open({ ifname: 'lo', ifindex: lo(), rcvbuf: 1 << 16 }, [{ group: '239.1.1.1', port: 5000 }]);
      try {
        const v6 = (n: number) => Array.from({ length: n }, (_, i) => ({ group: `ff3e::${(i + 1).toString(16)}`, port: 5000 }));
        filters.update(fd, [{ group: '239.1.1.1', port: 5000 }, ...v6(1)]);
        filters.update(fd, [{ group: '239.1.1.1', port: 5000 }, ...v6(3000)]); // 6000 IPv6 keys: past the first map's 1024
        filters.update(fd, [...Array.from({ length: 3000 }, (_, i) => ({ group: groupAt(i), port: 5000 })), ...v6(1)]);
        expect(filters.kindOf(fd)).to.equal('ebpf');
        expect(() => filters.update(fd, [{ group: 'FF3E::1', port: 1 }])).to.throw(TypeError, /canonical/);
        expect(() => filters.update(fd, [{ group: 'ff3e::1', port: 1, source: '10.0.0.1' }])).to.throw(TypeError, /IPv6/);
        expect(filters.kindOf(fd)).to.equal('ebpf');
      } finally {
        filters.close(fd);
      }
    });

    for (const kind of ['ebpf', 'classic'] as const) {
      it(`(${kind}) admits a frame to the targets of the VLAN the kernel took out of it, IPv6 as IPv4, on lo`, async () => {
        const addon = native();
        const filters = new CaptureFilters(addon, kind);
        const targets = [
          { group: 'ff3e::66:1', port: 5000, vlan: 100 },
          { group: 'ff3e::66:1', port: 5002 },
          { group: '239.66.0.1', port: 5000, vlan: 100 },
        ];
        const fd = filters.open({ ifname: 'lo', ifindex: lo(), rcvbuf: 1 << 20 }, targets);
        const sender = addon.openPacketSocket({ ifindex: lo(), rcvbuf: 1 << 16, filter: DROP_ALL });
        try {
          addon.packetStatistics(fd);
          // Sent with an 802.1Q tag in the frame: the loopback's receive path takes it out into the skb.
          const frames = [
            [frame6({ group: 'ff3e::66:1', port: 5000, vlans: [{ vid: 100 }] }), true],
            [frame6({ group: 'ff3e::66:1', port: 5002, vlans: [{ vid: 100 }] }), false],
            [frame6({ group: 'ff3e::66:1', port: 5000, vlans: [{ vid: 200 }] }), false],
            [frame6({ group: 'ff3e::66:1', port: 5002 }), true],
            [frame6({ group: 'ff3e::66:1', port: 5000 }), false],
            [frame({ group: '239.66.0.1', port: 5000, vlans: [{ vid: 100 }] }), true],
            [frame({ group: '239.66.0.1', port: 5000 }), false],
          ] as const;
          // The addon's packet sockets carry a virtio-net header (decision 0059): all zero, a plain frame.
          for (const [f] of frames) writeSync(sender, Buffer.concat([Buffer.alloc(VIRTIO_NET_HDR), f]));
          let admitted = 0;
          for (let wait = 0; wait < 20 && admitted < 3; wait++) {
            await new Promise((resolve) => setTimeout(resolve, 10));
            admitted += addon.packetStatistics(fd).packets;
          }
          await new Promise((resolve) => setTimeout(resolve, 50)); // and none more
          admitted += addon.packetStatistics(fd).packets;
          expect(admitted).to.equal(frames.filter(([, admit]) => admit).length);
        } finally {
          addon.closeFd(sender);
          filters.close(fd);
        }
      });
    }

    it('uses the classic program when told to', () => {
      const filters = new CaptureFilters(native(), 'classic');
      const fd = filters.open({ ifname: 'lo', ifindex: lo(), rcvbuf: 1 << 16 }, [{ group: '239.1.1.1', port: 5000 }]);
      try {
        expect(filters.kindOf(fd)).to.equal('classic');
        filters.update(fd, Array.from({ length: 3000 }, (_, i) => ({ group: groupAt(i), port: 2000 + i })));
        expect(filters.kindOf(fd)).to.equal('classic');
      } finally {
        filters.close(fd);
      }
    });

    it('is forced to classic by MCR_CAPTURE_FILTER=classic', () => {
      expect(probeCaptureFilter(native(), { MCR_CAPTURE_FILTER: 'classic' })).to.deep.include({ kind: 'classic', reason: 'forced' });
      expect(probeCaptureFilter(native(), {})).to.deep.include({ kind: 'ebpf', reason: 'supported' });
    });
  });
});
