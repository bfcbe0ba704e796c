/**
 * The seed corpus of the frame parser's fuzzer (test/fuzz/corpus/parser/): one small frame per path
 * through ParseFrame, each named for what it is and with the outcome the parser must give it
 * (test/unit/parser-fuzz.test.ts checks both the outcomes and that the files are up to date).
 *
 *   node -r ts-node/register/transpile-only test/fuzz/make-seeds.ts     # rewrites the corpus
 */
import fs from 'fs';
import path from 'path';

import type { ParsedFrame } from '../../native';
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
  IPPROTO_IGMP,
  IPPROTO_TCP,
  IPV6_DESTINATION_OPTIONS,
  IPV6_FRAGMENT,
  IPV6_HOP_BY_HOP,
  IPV6_NO_NEXT_HEADER,
  IPV6_ROUTING,
  TPID_8021AD,
  TPID_8021Q,
} from '../support/frames';

export const PARSER_CORPUS_DIR = path.join(__dirname, 'corpus', 'parser');

type Outcome = 'ok' | Extract<ParsedFrame, { ok: false }>['reason'];

export interface Seed {
  /** File name without extension. */
  name: string;
  /** What ParseFrame says about it. */
  outcome: Outcome;
  bytes: Buffer;
}

const ETHERNET = 14;
const VLAN_TAG = 4;
const IPV4 = 20;
const UDP = 8;
const PAYLOAD = Buffer.from('hello, multicast'); // frames.ts's default payload
/** Length of a frame with the default payload, no tags, no options. */
const PLAIN = ETHERNET + IPV4 + UDP + PAYLOAD.length;

const ONE_TAG = [{ tpid: TPID_8021Q }];
const TWO_TAGS = [{ tpid: TPID_8021AD }, { tpid: TPID_8021Q }];

const SPECS: Array<[name: string, outcome: Outcome, spec: FrameSpec]> = [
  // Well-formed.
  ['ok-udp', 'ok', {}],
  ['ok-empty-payload', 'ok', { payload: Buffer.alloc(0) }],
  ['ok-vlan', 'ok', { vlans: ONE_TAG }],
  ['ok-qinq', 'ok', { vlans: TWO_TAGS }],
  ['ok-two-8021q-tags', 'ok', { vlans: [{ tpid: TPID_8021Q }, { tpid: TPID_8021Q, vid: 200 }] }],
  ['ok-ip-options', 'ok', { ihl: 6 }],
  ['ok-ip-options-longest', 'ok', { ihl: 15, optionFill: [7, 3, 4, 0] }],
  ['ok-vlan-ip-options', 'ok', { vlans: ONE_TAG, ihl: 8 }],
  ['ok-ethernet-padding', 'ok', { payload: Buffer.from('x'), padding: 17 }],
  ['ok-dont-fragment', 'ok', { fragment: IP_DF }],
  ['ok-unicast-destination', 'ok', { group: '10.3.0.2' }],
  ['ok-udp-length-below-ip-payload', 'ok', { udpLength: UDP + 4 }],
  // The other fields sum to 0xffff, so 0xffff verifies as well as the computed 0x0000 (negative zero).
  ['ok-checksum-negative-zero', 'ok', { source: '10.1.109.136', checksum: 0xffff }],
  // ESP: relayed whole, the IPv4 payload from its 8-byte header (SPI, sequence number) on.
  ['ok-esp', 'ok', { protocol: IPPROTO_ESP }],
  ['ok-esp-header-only', 'ok', { protocol: IPPROTO_ESP, payload: Buffer.alloc(0) }],
  ['ok-esp-vlan-ip-options', 'ok', { protocol: IPPROTO_ESP, vlans: ONE_TAG, ihl: 6 }],
  // Not IPv4.
  ['not-ipv4-arp', 'notIpv4', { etherType: ETHERTYPE_ARP }],
  // An IPv4 packet behind the IPv6 ethertype: version 4 where 6 must be.
  ['ipv6-ethertype-ipv4-header', 'badHeader', { etherType: ETHERTYPE_IPV6 }],
  ['not-ipv4-vlan-arp', 'notIpv4', { vlans: ONE_TAG, etherType: ETHERTYPE_ARP }],
  ['not-ipv4-three-tags', 'notIpv4', { vlans: [{ tpid: TPID_8021AD }, { tpid: TPID_8021Q }, { tpid: TPID_8021Q }] }],
  // Cut short at every header.
  ['truncated-ethernet', 'truncated', { truncateTo: ETHERNET - 1 }],
  ['truncated-after-ethernet', 'truncated', { truncateTo: ETHERNET }],
  ['truncated-vlan-tag', 'truncated', { vlans: ONE_TAG, truncateTo: ETHERNET + 2 }],
  ['truncated-second-tag', 'truncated', { vlans: TWO_TAGS, truncateTo: ETHERNET + VLAN_TAG + 3 }],
  ['truncated-ip-header', 'truncated', { truncateTo: ETHERNET + IPV4 - 1 }],
  ['truncated-vlan-ip-header', 'truncated', { vlans: ONE_TAG, truncateTo: ETHERNET + VLAN_TAG + 10 }],
  ['truncated-udp-header', 'truncated', { truncateTo: ETHERNET + IPV4 + 4 }],
  ['truncated-payload', 'truncated', { truncateTo: PLAIN - 1 }],
  ['truncated-ip-total-length', 'truncated', { totalLength: IPV4 + UDP + PAYLOAD.length + 1 }],
  // Bad IPv4 headers.
  ['bad-header-version-6', 'badHeader', { version: 6 }],
  ['bad-header-version-0', 'badHeader', { version: 0 }],
  ['bad-header-ihl-4', 'badHeader', { ihl: 4 }],
  ['bad-header-ihl-0', 'badHeader', { ihl: 0 }],
  ['bad-header-options-beyond-frame', 'badHeader', { ihl: 15, truncateTo: ETHERNET + 40 }],
  ['bad-header-checksum', 'badHeader', { checksum: 0x1234 }],
  ['bad-header-checksum-zero', 'badHeader', { checksum: 0 }],
  // Lengths that contradict each other.
  ['bad-length-total-below-header', 'badLength', { totalLength: IPV4 - 4 }],
  ['bad-length-total-below-options', 'badLength', { ihl: 6, totalLength: IPV4 }],
  ['bad-length-no-room-for-udp', 'badLength', { totalLength: IPV4 + 4 }],
  ['bad-length-udp-length-7', 'badLength', { udpLength: UDP - 1 }],
  ['bad-length-udp-length-0', 'badLength', { udpLength: 0 }],
  ['bad-length-udp-beyond-ip', 'badLength', { udpLength: UDP + PAYLOAD.length + 1 }],
  ['bad-length-esp-short-of-its-header', 'badLength', { protocol: IPPROTO_ESP, totalLength: IPV4 + UDP - 1 }],
  // Fragments (checked before the protocol).
  ['fragment-first', 'fragment', { fragment: IP_MF }],
  ['fragment-middle', 'fragment', { fragment: IP_MF | 5 }],
  ['fragment-last', 'fragment', { fragment: 5 }],
  ['fragment-vlan', 'fragment', { vlans: ONE_TAG, fragment: IP_MF }],
  ['fragment-not-udp', 'fragment', { fragment: IP_MF, protocol: IPPROTO_TCP }],
  ['fragment-esp', 'fragment', { fragment: IP_MF, protocol: IPPROTO_ESP }],
  // Other protocols.
  ['not-udp-tcp', 'notUdp', { protocol: IPPROTO_TCP }],
  ['not-udp-igmp', 'notUdp', { protocol: IPPROTO_IGMP }],
  ['not-udp-253', 'notUdp', { protocol: 253 }],
  ['not-udp-qinq', 'notUdp', { vlans: TWO_TAGS, protocol: IPPROTO_TCP }],
];

const IPV6 = 40;
/** Length of an IPv6 frame with the default payload, no tags, no extension headers. */
const PLAIN6 = ETHERNET + IPV6 + UDP + PAYLOAD.length;
const HOP_BY_HOP = { type: IPV6_HOP_BY_HOP };
const ROUTING = { type: IPV6_ROUTING, units: 2 };
const DESTINATION_OPTIONS = { type: IPV6_DESTINATION_OPTIONS, units: 1 };

const SPECS6: Array<[name: string, outcome: Outcome, spec: Frame6Spec]> = [
  ['ipv6-ok-udp', 'ok', {}],
  ['ipv6-ok-vlan-traffic-class', 'ok', { vlans: ONE_TAG, trafficClass: 0xb9, hopLimit: 1 }],
  ['ipv6-ok-extension-headers', 'ok', { extensions: [HOP_BY_HOP, DESTINATION_OPTIONS, ROUTING, DESTINATION_OPTIONS] }],
  ['ipv6-ok-esp', 'ok', { protocol: IPPROTO_ESP, extensions: [HOP_BY_HOP] }],
  ['ipv6-ok-ethernet-padding', 'ok', { payload: Buffer.from('x'), padding: 9 }],
  ['ipv6-ok-eight-extensions', 'ok', { extensions: [HOP_BY_HOP, ...Array(7).fill(DESTINATION_OPTIONS)] }],
  ['ipv6-truncated-header', 'truncated', { truncateTo: ETHERNET + IPV6 - 1 }],
  ['ipv6-truncated-payload', 'truncated', { truncateTo: PLAIN6 - 1 }],
  ['ipv6-truncated-payload-length', 'truncated', { payloadLength: UDP + PAYLOAD.length + 1 }],
  ['ipv6-bad-header-version-4', 'badHeader', { version: 4 }],
  ['ipv6-bad-header-late-hop-by-hop', 'badHeader', { extensions: [DESTINATION_OPTIONS, HOP_BY_HOP] }],
  ['ipv6-bad-header-nine-extensions', 'badHeader', { extensions: [HOP_BY_HOP, ...Array(8).fill(DESTINATION_OPTIONS)] }],
  ['ipv6-bad-length-jumbogram', 'badLength', { payloadLength: 0 }],
  ['ipv6-bad-length-extension-past-payload', 'badLength', { extensions: [{ type: IPV6_ROUTING, units: 5 }], payloadLength: 24 }],
  ['ipv6-bad-length-no-room-for-udp', 'badLength', { extensions: [DESTINATION_OPTIONS], payloadLength: 16 + 4 }],
  ['ipv6-bad-length-udp-beyond-payload', 'badLength', { udpLength: UDP + PAYLOAD.length + 1 }],
  ['ipv6-fragment', 'fragment', { extensions: [HOP_BY_HOP, { type: IPV6_FRAGMENT }] }],
  ['ipv6-not-udp-tcp', 'notUdp', { protocol: IPPROTO_TCP }],
  ['ipv6-not-udp-no-next-header', 'notUdp', { extensions: [{ type: IPV6_DESTINATION_OPTIONS, next: IPV6_NO_NEXT_HEADER }] }],
];

/** Every seed, built from its spec. */
export function parserSeeds(): Seed[] {
  return [
    ...SPECS.map(([name, outcome, spec]) => ({ name, outcome, bytes: frame(spec) })),
    ...SPECS6.map(([name, outcome, spec]) => ({ name, outcome, bytes: frame6(spec) })),
  ];
}

export function seedFileName(seed: Seed): string {
  return `${seed.name}.bin`;
}

/** Replaces the corpus directory's contents with the seeds. */
export function writeSeeds(dir = PARSER_CORPUS_DIR): number {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const seeds = parserSeeds();
  for (const seed of seeds) fs.writeFileSync(path.join(dir, seedFileName(seed)), seed.bytes);
  return seeds.length;
}

if (require.main === module) {
  const count = writeSeeds();
  process.stdout.write(`wrote ${count} seeds to ${path.relative(process.cwd(), PARSER_CORPUS_DIR)}\n`);
}
