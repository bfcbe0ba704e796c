/**
 * Random capture targets and frames of both IP versions for the capture filters' tests (bpf.test.ts,
 * ebpf-filter.test.ts), which run the frames through a filter and through the reference model
 * (capture-model.ts). Frames are mostly near the targets (their groups, ports, sources) with every
 * kind of miss, tag, truncation and, for IPv6, extension header chain mixed in.
 */
import type { CaptureTarget } from '../../server/net/bpf';
import { ETHERTYPE_ARP, frame, frame6, FrameSpec, Frame6Spec, IP_DF, IP_MF, IPPROTO_ESP, IPPROTO_TCP, IPPROTO_UDP, Ipv6Extension, IPV6_DESTINATION_OPTIONS, IPV6_FRAGMENT, IPV6_HOP_BY_HOP, IPV6_ROUTING } from './frames';

type Random = () => number;

const pick = <T>(rand: Random, items: readonly T[]): T => items[Math.floor(rand() * items.length)];
const below = (rand: Random, n: number) => Math.floor(rand() * n);

/** IPv4 groups 239.10.0.0-59, as dotted quads. */
const group4 = (i: number) => `239.10.0.${i}`;
/**
 * IPv6 groups in canonical text: four prefixes that differ in the first or second word, each with
 * the same last words, so that a lookup word by word must tell them apart.
 */
const PREFIXES6 = ['ff3e::1:', 'ff0e::1:', 'ff3e:1::1:', 'ff3e:0:1::1:'];
const group6 = (i: number) => `${PREFIXES6[i % PREFIXES6.length]}${(1 + (i >> 2)).toString(16)}`;
const SOURCES4 = ['10.1.0.2', '192.0.2.77'];
const SOURCES6 = ['2001:db8::1', 'fe80::1', '2001:db8::2:1'];

/** 1-40 targets, IPv4, IPv6 or both by `round`; some ESP (port 0), some with a source, some in VLANs. */
export function randomTargets(rand: Random, round: number): CaptureTarget[] {
  const families = [[4], [6], [4, 6]][round % 3];
  return Array.from({ length: 1 + below(rand, 40) }, () => {
    const v6 = pick(rand, families) === 6;
    const target: CaptureTarget = { group: v6 ? group6(below(rand, 30)) : group4(below(rand, 30)), port: rand() < 0.1 ? 0 : 5000 + below(rand, 20) };
    if (round % 4 >= 2 && rand() < 0.4) target.source = pick(rand, v6 ? SOURCES6 : SOURCES4);
    if (round % 5 === 4) target.vlan = pick(rand, [0, 0, 7, 100]);
    return target;
  });
}

/** A random IPv6 extension header chain: mostly none or what real packets carry, sometimes refused ones. */
function randomExtensions(rand: Random): Ipv6Extension[] {
  if (rand() < 0.5) return [];
  // Hop-by-hop first often, elsewhere (refused) rarely; a fragment header sometimes.
  const type = (i: number) => (rand() < (i === 0 ? 0.4 : 0.05) ? IPV6_HOP_BY_HOP : rand() < 0.1 ? IPV6_FRAGMENT : pick(rand, [IPV6_ROUTING, IPV6_DESTINATION_OPTIONS]));
  const length = rand() < 0.8 ? 1 + below(rand, 3) : 7 + below(rand, 4); // 8 is the most stepped over
  return Array.from({ length }, (_, i) => ({ type: type(i), units: rand() < 0.3 ? below(rand, 4) : 0 }));
}

/** A frame near `targets`, and what it is (for failure messages). */
export function randomFrame(rand: Random, targets: CaptureTarget[]): { frame: Buffer; what: string } {
  for (;;) {
    const target = pick(rand, targets);
    const v6 = rand() < 0.8 ? target.group.includes(':') : rand() < 0.5;
    const sameFamily = target.group.includes(':') === v6;
    const group = rand() < 0.7 && sameFamily ? target.group : v6 ? group6(below(rand, 60)) : rand() < 0.9 ? group4(below(rand, 60)) : '10.9.8.7';
    const port = rand() < 0.6 ? target.port : rand() < 0.5 ? pick(rand, targets).port : rand() < 0.1 ? 0 : 1 + below(rand, 65535);
    const source = target.source && sameFamily && rand() < 0.5 ? target.source : pick(rand, v6 ? SOURCES6 : SOURCES4);
    // One in-band tag is followed; with two, the first ethertype is not IP.
    const vlans = rand() < 0.15 ? (rand() < 0.8 ? [{ vid: 7 }] : [{ vid: 7 }, { vid: 8 }]) : [];
    const truncateTo = rand() < 0.05 ? pick(rand, [13, 20, 33, 40, 53, 57, 60, 70]) : undefined;
    const protocol = rand() < 0.85 ? IPPROTO_UDP : pick(rand, [IPPROTO_TCP, IPPROTO_ESP]);
    const spec: FrameSpec | Frame6Spec = v6
      ? { group, port, source, vlans, truncateTo, protocol, extensions: randomExtensions(rand) }
      : {
          group,
          port,
          source,
          vlans,
          truncateTo,
          protocol,
          etherType: rand() < 0.03 ? ETHERTYPE_ARP : undefined,
          fragment: rand() < 0.1 ? pick(rand, [IP_MF, 1, 0x1fff]) : rand() < 0.1 ? IP_DF : 0,
          ihl: rand() < 0.1 ? pick(rand, [4, 6, 11, 15]) : 5,
        };
    try {
      return { frame: v6 ? frame6(spec as Frame6Spec) : frame(spec as FrameSpec), what: `IPv${v6 ? 6 : 4} ${JSON.stringify(spec)}` };
    } catch {
      // a truncation longer than the frame: another one
    }
  }
}
