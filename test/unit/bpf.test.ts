import { expect } from 'chai';

import type { BpfInsn } from '../../native';
import { ACCEPT, buildCaptureFilter, captureGroup, captureSource, CaptureTarget, DROP_ALL, MAX_PROGRAM_LENGTH } from '../../server/net/bpf';
import { formatIPv4, parseIPv4 } from '../../server/formats/addresses';
import { BpfCheckError, FrameMeta, LoadedFilter, loadFilter, PACKET_HOST, PACKET_OUTGOING } from '../support/bpf-vm';
import { randomFrame, randomTargets } from '../support/capture-cases';
import { admits } from '../support/capture-model';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, frame, frame6, Frame6Spec, FrameSpec, IP_DF, IP_MF, IPPROTO_ESP, IPPROTO_TCP, IPPROTO_UDP, IPV6_DESTINATION_OPTIONS, IPV6_FRAGMENT, IPV6_HOP_BY_HOP } from '../support/frames';

/** A frame aimed at a (group, port): what the filter decides on. */
interface Probe extends FrameSpec {
  group: string;
  port: number;
}

function verdict(filter: LoadedFilter, spec: Probe, meta: FrameMeta = {}): number {
  return filter.run(frame(spec), meta).verdict;
}

const accepts = (filter: LoadedFilter, spec: Probe, meta: FrameMeta = {}) => verdict(filter, spec, meta) === ACCEPT;

/** The exact filter for `targets`, loaded (checked like the kernel does). */
function exact(targets: CaptureTarget[]): LoadedFilter & { program: BpfInsn[] } {
  const filter = buildCaptureFilter(targets);
  expect(filter.exact, 'exact').to.equal(true);
  return { ...loadFilter(filter.program), program: filter.program };
}

/** The group with index i: 239.10.x.y. */
const groupAt = (i: number) => formatIPv4(parseIPv4('239.10.0.0')! + i);

/** Deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** What the exact filter must decide, from the frame's fields. */
function shouldAccept(allTargets: CaptureTarget[], spec: Probe, meta: FrameMeta): boolean {
  if (meta.pkttype === PACKET_OUTGOING) return false;
  // A frame is judged against the targets of its VLAN: the tag the kernel took out (0: none).
  const vlan = meta.vlanTag === undefined ? 0 : meta.vlanTag & 0x0fff;
  const targets = allTargets.filter((t) => (t.vlan ?? 0) === vlan);
  if ((spec.vlans?.length ?? 0) > 1 || (spec.etherType ?? ETHERTYPE_IPV4) !== ETHERTYPE_IPV4) return false;
  if (!targets.some((t) => t.group === spec.group)) return false;
  const udpToJudge = (spec.protocol ?? IPPROTO_UDP) === IPPROTO_UDP && ((spec.fragment ?? 0) & 0x3fff) === 0 && (spec.ihl ?? 5) >= 5;
  // An ESP target (port 0) admits what any target does: any protocol but UDP to its group.
  return !udpToJudge || targets.some((t) => t.group === spec.group && t.port === spec.port && t.port !== 0);
}

/** Jump targets of every instruction (the VM's checker enforces the same). */
function expectJumpsInRange(program: BpfInsn[]): void {
  program.forEach(([code, jt, jf, k], pc) => {
    if ((code & 0x07) !== 0x05) return;
    if ((code & 0xf0) === 0x00) {
      expect(pc + 1 + k, `ja at ${pc}`).to.be.lessThan(program.length);
    } else {
      expect(jt, `jt at ${pc}`).to.be.within(0, 255);
      expect(jf, `jf at ${pc}`).to.be.within(0, 255);
      expect(pc + 1 + Math.max(jt, jf), `jump at ${pc}`).to.be.lessThan(program.length);
    }
  });
}

const TARGETS: CaptureTarget[] = [
  { group: '239.1.1.1', port: 5000 },
  { group: '239.1.1.1', port: 5002 },
  { group: '239.1.1.2', port: 6000 },
];

describe('capture filter', () => {
  let program: ReturnType<typeof exact>;
  before(() => {
    program = exact(TARGETS);
  });

  it('drops everything for no targets', () => {
    const filter = buildCaptureFilter([]);
    expect(filter.exact).to.equal(true);
    expect(filter.program).to.deep.equal(DROP_ALL);
    expect(verdict(loadFilter(filter.program), { group: '239.1.1.1', port: 5000 })).to.equal(0);
    filter.program[0][3] = ACCEPT;
    expect(DROP_ALL[0][3], 'DROP_ALL is not shared').to.equal(0);
  });

  it('accepts a listed (group, port) and returns the whole frame', () => {
    expect(verdict(program, { group: '239.1.1.1', port: 5000 })).to.equal(ACCEPT);
    expect(accepts(program, { group: '239.1.1.1', port: 5002 })).to.equal(true);
    expect(accepts(program, { group: '239.1.1.2', port: 6000 })).to.equal(true);
    expect(accepts(program, { group: '239.1.1.2', port: 6000 }, { pkttype: PACKET_HOST })).to.equal(true);
  });

  it('drops other ports, other groups and unicast', () => {
    expect(verdict(program, { group: '239.1.1.1', port: 5001 })).to.equal(0);
    expect(accepts(program, { group: '239.1.1.1', port: 6000 })).to.equal(false);
    expect(accepts(program, { group: '239.1.1.2', port: 5000 })).to.equal(false);
    expect(accepts(program, { group: '239.1.1.3', port: 5000 })).to.equal(false);
    expect(accepts(program, { group: '10.1.1.1', port: 5000 })).to.equal(false);
  });

  it('drops frames the host sent (PACKET_OUTGOING)', () => {
    expect(accepts(program, { group: '239.1.1.1', port: 5000 }, { pkttype: PACKET_OUTGOING })).to.equal(false);
  });

  it('drops frames whose VLAN tag the kernel took out when no target names their VLAN', () => {
    expect(accepts(program, { group: '239.1.1.1', port: 5000 }, { vlanTag: 100 })).to.equal(false);
  });

  it('admits a tagged frame for the targets of its VLAN only, whatever the tag\'s priority bits', () => {
    const vlans = loadFilter(buildCaptureFilter([{ group: '239.1.1.1', port: 5000 }, { group: '239.1.1.1', port: 5002, vlan: 100 }, { group: '239.1.1.3', port: 5000, vlan: 200 }]).program);
    expect(accepts(vlans, { group: '239.1.1.1', port: 5000 })).to.equal(true);
    expect(accepts(vlans, { group: '239.1.1.1', port: 5002 }, { vlanTag: 100 })).to.equal(true);
    expect(accepts(vlans, { group: '239.1.1.1', port: 5002 }, { vlanTag: 0xa000 | 100 })).to.equal(true);
    expect(accepts(vlans, { group: '239.1.1.1', port: 5000 }, { vlanTag: 100 })).to.equal(false);
    expect(accepts(vlans, { group: '239.1.1.1', port: 5002 })).to.equal(false);
    expect(accepts(vlans, { group: '239.1.1.3', port: 5000 }, { vlanTag: 200 })).to.equal(true);
    expect(accepts(vlans, { group: '239.1.1.3', port: 5000 }, { vlanTag: 300 })).to.equal(false);
    // QinQ: the outer tag is the VLAN, the inner one is still in the frame.
    expect(accepts(vlans, { group: '239.1.1.1', port: 5002, vlans: [{ vid: 999 }] }, { vlanTag: 100 })).to.equal(true);
  });

  it('follows one in-band 802.1Q tag', () => {
    expect(accepts(program, { group: '239.1.1.1', port: 5000, vlans: [{ vid: 100 }] })).to.equal(true);
    expect(accepts(program, { group: '239.1.1.1', port: 5001, vlans: [{ vid: 100 }] })).to.equal(false);
    expect(accepts(program, { group: '239.1.1.1', port: 5000, vlans: [{ vid: 100 }], fragment: IP_MF })).to.equal(true);
    expect(accepts(program, { group: '239.1.1.1', port: 5000, vlans: [{ vid: 100 }, { vid: 200 }] })).to.equal(false);
    expect(accepts(program, { group: '239.1.1.1', port: 5000, vlans: [{ vid: 100 }], etherType: ETHERTYPE_IPV6 })).to.equal(false);
  });

  it('drops anything but IPv4', () => {
    expect(accepts(program, { group: '239.1.1.1', port: 5000, etherType: ETHERTYPE_ARP })).to.equal(false);
    expect(accepts(program, { group: '239.1.1.1', port: 5000, etherType: ETHERTYPE_IPV6 })).to.equal(false);
  });

  it('accepts fragments and other protocols to a listed group (the data plane counts them), not to others', () => {
    for (const fragment of [IP_MF, 5, IP_MF | 5]) {
      expect(accepts(program, { group: '239.1.1.1', port: 1, fragment }), `fragment ${fragment}`).to.equal(true);
      expect(accepts(program, { group: '239.1.1.9', port: 5000, fragment }), `fragment ${fragment}`).to.equal(false);
    }
    expect(accepts(program, { group: '239.1.1.2', port: 1, fragment: IP_DF })).to.equal(false);
    expect(accepts(program, { group: '239.1.1.2', port: 1, protocol: IPPROTO_TCP })).to.equal(true);
    expect(accepts(program, { group: '239.1.1.9', port: 5000, protocol: IPPROTO_TCP })).to.equal(false);
  });

  it('admits ESP to the group of an ESP target (port 0), and no UDP to port 0', () => {
    const esp = loadFilter(buildCaptureFilter([{ group: '239.1.1.5', port: 0 }, { group: '239.1.1.1', port: 5000 }]).program);
    expect(accepts(esp, { group: '239.1.1.5', port: 1, protocol: IPPROTO_ESP })).to.equal(true);
    expect(accepts(esp, { group: '239.1.1.1', port: 1, protocol: IPPROTO_ESP })).to.equal(true);
    expect(accepts(esp, { group: '239.1.1.6', port: 1, protocol: IPPROTO_ESP })).to.equal(false);
    expect(accepts(esp, { group: '239.1.1.5', port: 0 })).to.equal(false);
    expect(accepts(esp, { group: '239.1.1.5', port: 5000 })).to.equal(false);
    expect(accepts(esp, { group: '239.1.1.1', port: 5000 })).to.equal(true);
    const espOnly = loadFilter(buildCaptureFilter([{ group: '239.1.1.5', port: 0, vlan: 7 }]).program);
    expect(accepts(espOnly, { group: '239.1.1.5', port: 1, protocol: IPPROTO_ESP }, { vlanTag: 7 })).to.equal(true);
    expect(accepts(espOnly, { group: '239.1.1.5', port: 0 }, { vlanTag: 7 })).to.equal(false);
    expect(accepts(espOnly, { group: '239.1.1.5', port: 1, protocol: IPPROTO_ESP })).to.equal(false);
  });

  it('finds the UDP port after IP options (IHL > 5)', () => {
    // A decoy listed port where the UDP port would be without options.
    const decoy = [0x01, 0x01, 5000 >> 8, 5000 & 0xff];
    expect(accepts(program, { group: '239.1.1.1', port: 5002, ihl: 6 })).to.equal(true);
    expect(accepts(program, { group: '239.1.1.1', port: 5002, ihl: 15 })).to.equal(true);
    expect(accepts(program, { group: '239.1.1.1', port: 7, ihl: 6, optionFill: decoy })).to.equal(false);
    expect(accepts(program, { group: '239.1.1.1', port: 5002, ihl: 8, optionFill: [0, 0, 6001 >> 8, 6001 & 0xff] })).to.equal(true);
    expect(accepts(program, { group: '239.1.1.1', port: 5002, ihl: 7, vlans: [{ vid: 5 }] })).to.equal(true);
    expect(accepts(program, { group: '239.1.1.1', port: 7, ihl: 7, vlans: [{ vid: 5 }], optionFill: decoy })).to.equal(false);
  });

  it('leaves a header with IHL < 5 to a listed group for the data plane to judge', () => {
    expect(accepts(program, { group: '239.1.1.1', port: 1, ihl: 4 })).to.equal(true);
    expect(accepts(program, { group: '239.1.1.9', port: 5000, ihl: 4 })).to.equal(false);
  });

  it('drops a frame too short to hold the port (the kernel ends the filter at the frame end)', () => {
    expect(accepts(program, { group: '239.1.1.1', port: 5000, truncateTo: 14 + 20 + 3 })).to.equal(false);
    expect(accepts(program, { group: '239.1.1.1', port: 5000, truncateTo: 14 + 20 + 4 })).to.equal(true);
  });

  it('ignores duplicate targets', () => {
    expect(buildCaptureFilter([...TARGETS, ...TARGETS]).program).to.deep.equal(program.program);
  });

  it('refuses targets that are not multicast group and port', () => {
    expect(() => buildCaptureFilter([{ group: '10.0.0.1', port: 5000 }])).to.throw(TypeError);
    expect(() => buildCaptureFilter([{ group: '239.1.1', port: 5000 }])).to.throw(TypeError);
    expect(() => buildCaptureFilter([{ group: '239.1.1.1', port: -1 }])).to.throw(RangeError);
  });

  describe('at scale', () => {
    it('stays exact for 600 ports on one group, with jumps over long blocks and a short path per packet', () => {
      const ports = Array.from({ length: 600 }, (_, i) => 1000 + 3 * i);
      const prog = exact(ports.map((port) => ({ group: '239.2.2.2', port })));
      expect(prog.program.some(([code]) => code === 0x05), 'uses ja for far jumps').to.equal(true);
      let longest = 0;
      for (const port of ports) {
        const run = prog.run(frame({ group: '239.2.2.2', port }));
        expect(run.verdict, `port ${port}`).to.equal(ACCEPT);
        longest = Math.max(longest, run.steps);
        expect(accepts(prog, { group: '239.2.2.2', port: port + 1 }), `port ${port + 1}`).to.equal(false);
      }
      expect(accepts(prog, { group: '239.2.2.3', port: 1000 })).to.equal(false);
      expect(longest, 'instructions per packet (binary search, not a scan)').to.be.lessThan(50);
    });

    it('stays exact for 1000 groups on one port', () => {
      const targets = Array.from({ length: 1000 }, (_, i) => ({ group: groupAt(2 * i), port: 5004 }));
      const prog = exact(targets);
      let longest = 0;
      for (const { group } of targets) {
        const run = prog.run(frame({ group, port: 5004 }));
        expect(run.verdict, group).to.equal(ACCEPT);
        longest = Math.max(longest, run.steps);
      }
      for (let i = 0; i < 2000; i += 2) {
        expect(accepts(prog, { group: groupAt(i + 1), port: 5004 })).to.equal(false);
        expect(accepts(prog, { group: groupAt(i), port: 5006 })).to.equal(false);
      }
      expect(longest).to.be.lessThan(50);
    });

    it('stays exact for 600 distinct (group, port) pairs', () => {
      const targets = Array.from({ length: 600 }, (_, i) => ({ group: groupAt(i), port: 2000 + i }));
      const prog = exact(targets);
      expect(prog.program.length).to.be.at.most(MAX_PROGRAM_LENGTH);
      for (const { group, port } of targets) {
        expect(accepts(prog, { group, port })).to.equal(true);
        expect(accepts(prog, { group, port: port + 1 })).to.equal(false);
      }
    });

    it('falls back to all IPv4 multicast when the exact program would not fit', () => {
      const targets = Array.from({ length: 3000 }, (_, i) => ({ group: groupAt(i), port: 2000 + i }));
      const filter = buildCaptureFilter(targets);
      expect(filter.exact).to.equal(false);
      const prog = loadFilter(filter.program);
      expect(accepts(prog, { group: '239.200.1.1', port: 1 })).to.equal(true);
      expect(accepts(prog, { group: '224.0.0.1', port: 9, protocol: IPPROTO_TCP })).to.equal(true);
      expect(accepts(prog, { group: '239.255.255.255', port: 9, vlans: [{ vid: 3 }] })).to.equal(true);
      expect(accepts(prog, { group: '10.0.0.1', port: 2000 })).to.equal(false);
      expect(accepts(prog, { group: '240.0.0.1', port: 2000 })).to.equal(false);
      expect(accepts(prog, { group: groupAt(0), port: 2000 }, { pkttype: PACKET_OUTGOING })).to.equal(false);
      expect(accepts(prog, { group: groupAt(0), port: 2000 }, { vlanTag: 5 })).to.equal(false);
      expect(accepts(prog, { group: groupAt(0), port: 2000, etherType: ETHERTYPE_ARP })).to.equal(false);
    });
  });

  it('decides like the reference for random target sets and frames, every jump in range', () => {
    const rand = random(0x5eed);
    const pick = <T>(items: T[]): T => items[Math.floor(rand() * items.length)];
    const shapes: Array<() => CaptureTarget[]> = [
      () => [{ group: groupAt(Math.floor(rand() * 50)), port: 1 + Math.floor(rand() * 65535) }],
      () => Array.from({ length: 1 + Math.floor(rand() * 20) }, () => ({ group: groupAt(Math.floor(rand() * 30)), port: 5000 + Math.floor(rand() * 20) })),
      () => Array.from({ length: 300 }, () => ({ group: groupAt(Math.floor(rand() * 4)), port: 1 + Math.floor(rand() * 65535) })),
      () => Array.from({ length: 400 }, () => ({ group: groupAt(Math.floor(rand() * 400)), port: pick([5000, 5002, 5004]) })),
      () => Array.from({ length: 500 }, () => ({ group: groupAt(Math.floor(rand() * 1000)), port: 1 + Math.floor(rand() * 1000) })),
    ];
    let coarse = 0;
    for (let round = 0; round < 40; round++) {
      // Some targets in VLANs, in some rounds.
      const targets = shapes[round % shapes.length]().map((t) => (round % 3 === 2 ? { ...t, vlan: pick([0, 0, 7, 100]) } : t));
      const filter = buildCaptureFilter(targets);
      const loaded = loadFilter(filter.program);
      expectJumpsInRange(filter.program);
      if (!filter.exact) coarse++;
      for (let n = 0; n < 200; n++) {
        const target = pick(targets);
        const spec: Probe = {
          group: rand() < 0.7 ? target.group : rand() < 0.8 ? groupAt(Math.floor(rand() * 1200)) : '10.9.8.7',
          port: rand() < 0.6 ? target.port : rand() < 0.5 ? pick(targets).port : 1 + Math.floor(rand() * 65535),
          vlans: rand() < 0.15 ? (rand() < 0.8 ? [{ vid: 7 }] : [{ vid: 7 }, { vid: 8 }]) : [],
          protocol: rand() < 0.9 ? IPPROTO_UDP : IPPROTO_TCP,
          fragment: rand() < 0.1 ? pick([IP_MF, 1, 0x1fff]) : rand() < 0.1 ? 0x4000 : 0,
          ihl: rand() < 0.1 ? pick([4, 6, 11, 15]) : 5,
        };
        const meta: FrameMeta = { pkttype: rand() < 0.05 ? PACKET_OUTGOING : undefined, vlanTag: rand() < 0.15 ? pick([7, 100, 0x6000 | 7, 300]) : undefined };
        const want = shouldAccept(targets, spec, meta);
        const got = accepts(loaded, spec, meta);
        if (filter.exact) expect(got, `${JSON.stringify(spec)} ${JSON.stringify(meta)}`).to.equal(want);
        else if (want) expect(got, `coarse must admit ${JSON.stringify(spec)}`).to.equal(true);
      }
    }
    expect(coarse, 'every shape used here fits exactly').to.equal(0);
  });

  describe('the test interpreter itself', () => {
    const RET_K = 0x06;
    const RET_A = 0x16;
    const LDH_ABS = 0x28;
    const LDB_IND = 0x50;
    const JEQ_K = 0x15;
    const ST = 0x02;
    const LD_MEM = 0x60;
    const LDXB_MSH = 0xb1;
    const TXA = 0x87;

    it('refuses what the kernel refuses', () => {
      const refused: Array<[string, BpfInsn[]]> = [
        ['an empty program', []],
        ['a jump past the end', [[JEQ_K, 1, 0, 0], [RET_K, 0, 0, 0]]],
        ['a ja past the end', [[0x05, 0, 0, 1], [RET_K, 0, 0, 0]]],
        ['jt above 255', [[JEQ_K, 256, 0, 0], [RET_K, 0, 0, 0]]],
        ['no final return', [[RET_K, 0, 0, 0], [LDH_ABS, 0, 0, 12]]],
        ['an unset scratch slot', [[LD_MEM, 0, 0, 3], [RET_K, 0, 0, 0]]],
        ['a slot set on one path only', [[JEQ_K, 0, 1, 0], [ST, 0, 0, 3], [LD_MEM, 0, 0, 3], [RET_K, 0, 0, 0]]],
        ['an unknown opcode', [[0xff, 0, 0, 0], [RET_K, 0, 0, 0]]],
        ['a division by zero', [[0x34, 0, 0, 0], [RET_K, 0, 0, 0]]],
        ['4097 instructions', Array.from({ length: 4097 }, (): BpfInsn => [RET_K, 0, 0, 0])],
      ];
      for (const [what, program] of refused) expect(() => loadFilter(program), what).to.throw(BpfCheckError);
    });

    it('runs loads, jumps, scratch memory and returns as the kernel does', () => {
      // A = ethertype; if IPv4: X = 4 * IHL, A = byte at X + 14 (first byte after the IP header), return A.
      const program: BpfInsn[] = [
        [LDH_ABS, 0, 0, 12],
        [ST, 0, 0, 0],
        [LD_MEM, 0, 0, 0],
        [JEQ_K, 0, 3, ETHERTYPE_IPV4],
        [LDXB_MSH, 0, 0, 14],
        [LDB_IND, 0, 0, 14],
        [RET_A, 0, 0, 0],
        [TXA, 0, 0, 0],
        [RET_A, 0, 0, 0],
      ];
      const filter = loadFilter(program);
      const udp = frame({ group: '239.1.1.1', port: 5000, ihl: 6 });
      expect(filter.run(udp)).to.deep.equal({ verdict: 40000 >> 8, steps: 7 }); // the UDP source port's first byte
      expect(filter.run(frame({ group: '239.1.1.1', port: 5000, etherType: ETHERTYPE_ARP })).verdict).to.equal(0);
      expect(filter.run(udp.subarray(0, 13)).verdict, 'a load past the end returns 0').to.equal(0);
    });
  });
});

describe('capture filter: IPv6 targets', () => {
  const TARGETS6: CaptureTarget[] = [
    { group: 'ff3e::1:5', port: 5000 },
    { group: 'ff3e::1:5', port: 5002 },
    { group: 'ff0e::1234', port: 6000, source: '2001:db8::7' },
    { group: 'ff3e::1:9', port: 0 }, // ESP
    { group: 'ff3e::1:5', port: 5000, vlan: 100 },
  ];
  let v6: LoadedFilter;
  before(() => {
    v6 = exact([...TARGETS6, ...TARGETS]);
  });
  const admits6 = (filter: LoadedFilter, spec: Frame6Spec, meta: FrameMeta = {}) => filter.run(frame6(spec), meta).verdict === ACCEPT;

  it('admits IPv6 UDP to a listed (group, port) only, any source (the data plane matches sources)', () => {
    expect(v6.run(frame6({ group: 'ff3e::1:5', port: 5000 })).verdict).to.equal(ACCEPT);
    expect(admits6(v6, { group: 'ff3e::1:5', port: 5002, source: '2001:db8::1' })).to.equal(true);
    expect(admits6(v6, { group: 'ff0e::1234', port: 6000, source: '2001:db8::99' })).to.equal(true);
    expect(admits6(v6, { group: 'ff3e::1:5', port: 5001 })).to.equal(false);
    expect(admits6(v6, { group: 'ff3e::1:6', port: 5000 })).to.equal(false);
    expect(admits6(v6, { group: 'ff3e:0:0:1::1:5', port: 5000 }), 'the same last word, another group').to.equal(false);
    expect(admits6(v6, { group: 'ff0e::1234', port: 5000 })).to.equal(false);
    expect(admits6(v6, { group: 'ff3e::1:5', port: 0 })).to.equal(false);
    expect(admits6(v6, { group: '2001:db8::5', port: 5000 })).to.equal(false);
    // IPv4 is judged as before, by its own targets.
    expect(accepts(v6, { group: '239.1.1.1', port: 5000 })).to.equal(true);
    expect(accepts(v6, { group: '239.1.1.1', port: 5001 })).to.equal(false);
  });

  it('judges an IPv6 frame against the targets of its VLAN, follows one in-band tag, never admits outgoing frames', () => {
    expect(admits6(v6, { group: 'ff3e::1:5', port: 5000 }, { vlanTag: 100 })).to.equal(true);
    expect(admits6(v6, { group: 'ff3e::1:5', port: 5002 }, { vlanTag: 100 })).to.equal(false);
    expect(admits6(v6, { group: 'ff3e::1:5', port: 5000 }, { vlanTag: 200 })).to.equal(false);
    expect(admits6(v6, { group: 'ff3e::1:5', port: 5002, vlans: [{ vid: 3 }] })).to.equal(true);
    expect(admits6(v6, { group: 'ff3e::1:5', port: 5001, vlans: [{ vid: 3 }] })).to.equal(false);
    expect(admits6(v6, { group: 'ff3e::1:5', port: 5002, vlans: [{ vid: 3 }, { vid: 4 }] })).to.equal(false);
    expect(admits6(v6, { group: 'ff3e::1:5', port: 5000 }, { pkttype: PACKET_OUTGOING })).to.equal(false);
  });

  it('admits by the group alone what is not UDP right after the fixed header: extension headers, fragments, ESP', () => {
    expect(admits6(v6, { group: 'ff3e::1:5', port: 1, extensions: [{ type: IPV6_HOP_BY_HOP }] })).to.equal(true);
    expect(admits6(v6, { group: 'ff3e::1:5', port: 1, extensions: [{ type: IPV6_FRAGMENT }] })).to.equal(true);
    expect(admits6(v6, { group: 'ff3e::1:6', port: 5000, extensions: [{ type: IPV6_DESTINATION_OPTIONS }] })).to.equal(false);
    expect(admits6(v6, { group: 'ff3e::1:9', protocol: IPPROTO_ESP })).to.equal(true);
    expect(admits6(v6, { group: 'ff3e::1:9', port: 5000 }), 'no UDP to an ESP target').to.equal(false);
    expect(admits6(v6, { group: 'ff3e::1:5', protocol: IPPROTO_TCP })).to.equal(true);
    expect(admits6(v6, { group: 'ff3e::1:8', protocol: IPPROTO_ESP })).to.equal(false);
  });

  it('drops a frame too short for what it decides on', () => {
    const whole = frame6({ group: 'ff3e::1:5', port: 5000 });
    expect(v6.run(whole.subarray(0, 14 + 40 + 3)).verdict).to.equal(0);
    expect(v6.run(whole.subarray(0, 14 + 40 + 4)).verdict).to.equal(ACCEPT);
    expect(v6.run(frame6({ group: 'ff3e::1:5', protocol: IPPROTO_TCP }).subarray(0, 14 + 39)).verdict).to.equal(0);
  });

  it('is the IPv4 program, unchanged, when no target is IPv6, and rejects IPv6 then', () => {
    const v4only = buildCaptureFilter(TARGETS).program;
    expect(v4only.some(([, , , k]) => k === ETHERTYPE_IPV6), 'no IPv6 test').to.equal(false);
    expect(loadFilter(v4only).run(frame6({ group: 'ff3e::1:5', port: 5000 })).verdict).to.equal(0);
    expect(admits6(exact([{ group: 'ff3e::1:5', port: 5000 }]), { group: 'ff3e::1:5', port: 5000 })).to.equal(true);
    expect(accepts(exact([{ group: 'ff3e::1:5', port: 5000 }]), { group: '239.1.1.1', port: 5000 }), 'IPv4 with IPv6 targets only').to.equal(false);
  });

  it('refuses IPv6 groups that are not multicast or not canonical text', () => {
    for (const group of ['2001:db8::1', 'FF3E::1', 'ff3e:0:0:0:0:0:0:1', 'ff3e::0:1', 'ff3e::1%eth0', '::ffff:239.1.1.1', 'ff3e:::1']) {
      expect(() => buildCaptureFilter([{ group, port: 5000 }]), group).to.throw(TypeError);
    }
    expect(buildCaptureFilter([{ group: 'ff02::1:ff00:1', port: 5000 }]).exact).to.equal(true);
  });

  it('reads target addresses as the words the filters compare, IPv6 in canonical text only', () => {
    expect(captureGroup('239.1.2.3')).to.deep.equal({ family: 4, words: [0xef010203] });
    expect(captureGroup('ff3e:1:2:3:4:5:6:7')).to.deep.equal({ family: 6, words: [0xff3e0001, 0x00020003, 0x00040005, 0x00060007] });
    expect(captureGroup('ff02::1:ff00:1')).to.deep.equal({ family: 6, words: [0xff020000, 0, 0x00000001, 0xff000001] });
    expect(() => captureGroup('FF3E::1')).to.throw(TypeError, 'capture target group "FF3E::1" is not an IPv6 multicast address in canonical form');
    expect(() => captureGroup('10.0.0.1')).to.throw(TypeError, 'capture target group "10.0.0.1" is not an IPv4 multicast address');
    expect(captureSource('', 4)).to.deep.equal([0]);
    expect(captureSource('', 6)).to.deep.equal([0, 0, 0, 0]);
    expect(captureSource('10.1.2.3', 4)).to.deep.equal([0x0a010203]);
    expect(captureSource('2001:db8::7', 6)).to.deep.equal([0x20010db8, 0, 0, 7]);
    expect(() => captureSource('239.1.1.1', 4)).to.throw(TypeError, 'capture target source "239.1.1.1" is not a unicast IPv4 address');
    for (const source of ['::', 'ff3e::1', '2001:DB8::7', '2001:db8:0::7', '::ffff:10.1.2.3', '2001:db8::7%eth0']) {
      expect(() => captureSource(source, 6), source).to.throw(TypeError, `capture target source ${JSON.stringify(source)} is not a unicast IPv6 address in canonical form`);
    }
  });

  describe('at scale', () => {
    it('stays exact for 800 IPv6 groups on one port and for 600 ports on one group, a short path per packet', () => {
      const groups = Array.from({ length: 800 }, (_, i) => `ff3e::${(0x1000 + 2 * i).toString(16)}`);
      const many = exact(groups.map((group) => ({ group, port: 5004 })));
      let longest = 0;
      for (const group of groups) {
        const run = many.run(frame6({ group, port: 5004 }));
        expect(run.verdict, group).to.equal(ACCEPT);
        longest = Math.max(longest, run.steps);
      }
      expect(admits6(many, { group: 'ff3e::1001', port: 5004 })).to.equal(false);
      expect(admits6(many, { group: groups[0], port: 5006 })).to.equal(false);
      expect(longest, 'instructions per packet').to.be.lessThan(60);
      const ports = Array.from({ length: 600 }, (_, i) => 1000 + 3 * i);
      const onOneGroup = exact(ports.map((port) => ({ group: 'ff05::2', port })));
      for (const port of ports) {
        expect(admits6(onOneGroup, { group: 'ff05::2', port })).to.equal(true);
        expect(admits6(onOneGroup, { group: 'ff05::2', port: port + 1 })).to.equal(false);
      }
    });

    it('stays exact for 600 IPv6 (group, port) pairs whose groups differ in a middle word, as for IPv4', () => {
      const targets = Array.from({ length: 600 }, (_, i) => ({ group: `ff7e:140:2001:db8:${(i + 1).toString(16)}::1`, port: 2000 + i }));
      const prog = exact(targets);
      expect(prog.program.length).to.be.at.most(MAX_PROGRAM_LENGTH);
      for (const { group, port } of targets) {
        expect(admits6(prog, { group, port }), `${group} ${port}`).to.equal(true);
        expect(admits6(prog, { group, port: port + 1 })).to.equal(false);
        expect(admits6(prog, { group: group.replace('::1', '::2'), port })).to.equal(false);
      }
    });

    it('falls back to all IPv4 and IPv6 multicast when the exact program would not fit', () => {
      const targets = [
        ...Array.from({ length: 2000 }, (_, i) => ({ group: `ff3e::${(i + 1).toString(16)}`, port: 2000 + i })),
        { group: '239.1.1.1', port: 5000 },
      ];
      const filter = buildCaptureFilter(targets);
      expect(filter.exact).to.equal(false);
      const coarse = loadFilter(filter.program);
      expect(admits6(coarse, { group: 'ff02::fb', port: 1 })).to.equal(true);
      expect(admits6(coarse, { group: 'ff3e::1', port: 9, extensions: [{ type: IPV6_FRAGMENT }] })).to.equal(true);
      expect(admits6(coarse, { group: '2001:db8::1', port: 2000 })).to.equal(false);
      expect(admits6(coarse, { group: 'ff3e::1', port: 2000 }, { pkttype: PACKET_OUTGOING })).to.equal(false);
      expect(admits6(coarse, { group: 'ff3e::1', port: 2000 }, { vlanTag: 5 })).to.equal(false);
      expect(accepts(coarse, { group: '239.200.1.1', port: 1 })).to.equal(true);
      // An IPv6-only socket's coarse program admits no IPv4, an IPv4-only one no IPv6.
      const v6coarse = loadFilter(buildCaptureFilter(targets.slice(0, 2000)).program);
      expect(accepts(v6coarse, { group: '239.200.1.1', port: 1 })).to.equal(false);
      const v4coarse = loadFilter(buildCaptureFilter(Array.from({ length: 3000 }, (_, i) => ({ group: groupAt(i), port: 2000 + i }))).program);
      expect(admits6(v4coarse, { group: 'ff3e::1', port: 2000 })).to.equal(false);
    });
  });

  it('decides like the reference model on random IPv4 and IPv6 targets and frames, every jump in range', () => {
    const rand = random(0x6666);
    let coarse = 0;
    for (let round = 0; round < 40; round++) {
      const targets = randomTargets(rand, round);
      const filter = buildCaptureFilter(targets);
      expectJumpsInRange(filter.program);
      const loaded = loadFilter(filter.program);
      if (!filter.exact) coarse++;
      for (let n = 0; n < 200; n++) {
        const probe = randomFrame(rand, targets);
        const meta: FrameMeta = { pkttype: rand() < 0.05 ? PACKET_OUTGOING : undefined, vlanTag: rand() < 0.15 ? [7, 100, 0x6000 | 7, 300][Math.floor(rand() * 4)] : undefined };
        const want = admits(targets, probe.frame, { walk: false, sources: false, vlan: (meta.vlanTag ?? 0) & 0x0fff, outgoing: meta.pkttype === PACKET_OUTGOING });
        const got = loaded.run(probe.frame, meta).verdict === ACCEPT;
        if (filter.exact) expect(got, `${probe.what} ${JSON.stringify(meta)}`).to.equal(want);
        else if (want) expect(got, `coarse must admit ${probe.what}`).to.equal(true);
      }
    }
    expect(coarse, 'the shapes here fit exactly').to.equal(0);
  });
});
