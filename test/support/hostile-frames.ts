/**
 * Hostile traffic for an input: malformed frames of every kind, frames for no rule, and random
 * bytes, each with its fate at mcr's door: dropped by the kernel capture filter mcrd attaches
 * (server/net/bpf.ts), or read by the worker and counted under one parse error. Frames are built
 * with frames.ts and sent, mixed in whatever order the test chooses, by send-frames.py.
 *
 * Every fate in the table is also computed from a model of the path (fateOf): the capture filter mcrd
 * builds, run in the BPF interpreter on the frame as the kernel presents it (an in-band VLAN tag is
 * moved into the skb's metadata by the receive path before any packet socket sees the frame), then
 * the data plane's own parser (the parseFrame test hook). A test checks that both agree before it
 * sends anything, so the table cannot silently describe another filter than the one in use.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';

import { native } from '../../native';
import { ParseErrors } from '../../gen/mcr/v1/stats';
import { buildCaptureFilter, CaptureTarget } from '../../server/net/bpf';
import { FrameMeta, loadFilter, LoadedFilter } from './bpf-vm';
import { ETHERTYPE_ARP, ETHERTYPE_IPV6, frame, FrameSpec, IP_MF, IPPROTO_IGMP, IPPROTO_TCP, TPID_8021AD, TPID_8021Q } from './frames';
import { runIn } from './netns';
import { SeededRandom } from './seeded-random';

export type ParseError = keyof ParseErrors;
/** `filtered`: the kernel capture filter drops the frame; otherwise the parse error the worker counts. */
export type Fate = 'filtered' | ParseError;

export const PARSE_ERRORS: readonly ParseError[] = ['truncated', 'notIpv4', 'badHeader', 'badLength', 'fragment', 'notUdp'];

export interface HostileTarget {
  source: string;
  /** The rule under attack. */
  group: string;
  port: number;
  /** A group no rule captures, and a port no rule has with `group`. */
  otherGroup: string;
  otherPort: number;
}

export interface HostileKind {
  name: string;
  fate: Fate;
  build(target: HostileTarget): Buffer;
}

const ETHERNET = 14;
const IPV4 = 20;

/** A frame for the target's group and port with `spec` on top. */
const aimed = (spec: FrameSpec) => (t: HostileTarget) => frame({ source: t.source, group: t.group, port: t.port, ...spec });
const UDP_LENGTH = 8 + Buffer.from('hello, multicast').length; // frames.ts's default payload

/**
 * The kinds. The filter admits UDP only for a listed (group, port) and, so that the data plane can
 * count them, fragments, other protocols and IHL < 5 for a listed group; it drops anything it cannot
 * read as far as the fields it checks (a load past the end of the frame drops it), anything not IPv4
 * and anything that arrived with a VLAN tag.
 */
export const HOSTILE_KINDS: readonly HostileKind[] = [
  { name: 'ethernet header only', fate: 'filtered', build: aimed({ truncateTo: ETHERNET }) },
  { name: 'cut inside the IPv4 header', fate: 'filtered', build: aimed({ truncateTo: ETHERNET + 16 }) },
  { name: 'cut after the IPv4 header', fate: 'filtered', build: aimed({ truncateTo: ETHERNET + IPV4 }) },
  { name: 'cut inside the UDP header', fate: 'truncated', build: aimed({ truncateTo: ETHERNET + IPV4 + 4 }) },
  { name: 'cut inside the payload', fate: 'truncated', build: aimed({ truncateTo: ETHERNET + IPV4 + UDP_LENGTH - 3 }) },
  { name: 'IP total length beyond the frame', fate: 'truncated', build: aimed({ totalLength: IPV4 + UDP_LENGTH + 100 }) },
  { name: 'ARP', fate: 'filtered', build: aimed({ etherType: ETHERTYPE_ARP }) },
  { name: 'IPv6 ethertype', fate: 'filtered', build: aimed({ etherType: ETHERTYPE_IPV6 }) },
  { name: 'IP version 6 in an IPv4 frame', fate: 'badHeader', build: aimed({ version: 6 }) },
  { name: 'IHL 4', fate: 'badHeader', build: aimed({ ihl: 4 }) },
  { name: 'IHL 0', fate: 'badHeader', build: aimed({ ihl: 0 }) },
  { name: 'bad header checksum', fate: 'badHeader', build: aimed({ checksum: 0xbeef }) },
  { name: 'options beyond the frame', fate: 'filtered', build: aimed({ ihl: 15, truncateTo: ETHERNET + 40 }) },
  { name: 'IP total length below the header', fate: 'badLength', build: aimed({ totalLength: 16 }) },
  { name: 'no room for the UDP header', fate: 'badLength', build: aimed({ totalLength: IPV4 + 4, truncateTo: ETHERNET + IPV4 + 4 }) },
  { name: 'UDP length 7', fate: 'badLength', build: aimed({ udpLength: 7 }) },
  { name: 'UDP length beyond the IP payload', fate: 'badLength', build: aimed({ udpLength: UDP_LENGTH + 50 }) },
  { name: 'first fragment', fate: 'fragment', build: aimed({ fragment: IP_MF }) },
  { name: 'middle fragment', fate: 'fragment', build: aimed({ fragment: IP_MF | 100 }) },
  { name: 'last fragment', fate: 'fragment', build: aimed({ fragment: 100 }) },
  { name: 'TCP', fate: 'notUdp', build: aimed({ protocol: IPPROTO_TCP }) },
  { name: 'IGMP', fate: 'notUdp', build: aimed({ protocol: IPPROTO_IGMP }) },
  { name: 'protocol 253', fate: 'notUdp', build: aimed({ protocol: 253 }) },
  { name: 'UDP to another group', fate: 'filtered', build: (t) => aimed({ group: t.otherGroup })(t) },
  { name: 'UDP to another port', fate: 'filtered', build: (t) => aimed({ port: t.otherPort })(t) },
  { name: 'UDP to a unicast address', fate: 'filtered', build: aimed({ group: '10.2.0.99' }) },
  { name: 'TCP to another group', fate: 'filtered', build: (t) => aimed({ group: t.otherGroup, protocol: IPPROTO_TCP })(t) },
  { name: 'fragment to another group', fate: 'filtered', build: (t) => aimed({ group: t.otherGroup, fragment: IP_MF })(t) },
  { name: 'valid UDP behind an 802.1Q tag', fate: 'filtered', build: aimed({ vlans: [{ tpid: TPID_8021Q }] }) },
  { name: 'valid UDP behind two tags', fate: 'filtered', build: aimed({ vlans: [{ tpid: TPID_8021AD }, { tpid: TPID_8021Q }] }) },
];

/** The frame as a packet socket's filter sees it: an outer VLAN tag moves into the metadata. */
function asReceived(bytes: Buffer): { bytes: Buffer; meta: FrameMeta } {
  const type = bytes.length >= ETHERNET ? bytes.readUInt16BE(12) : 0;
  if (type !== TPID_8021Q && type !== TPID_8021AD) return { bytes, meta: {} };
  if (bytes.length < ETHERNET + 4) return { bytes, meta: {} };
  return { bytes: Buffer.concat([bytes.subarray(0, 12), bytes.subarray(16)]), meta: { vlanTag: bytes.readUInt16BE(14) } };
}

/** The model of the receive path: the capture filters of the workers (by their targets) and the parser. */
export class ReceivePath {
  private readonly filters: LoadedFilter[];

  constructor(targetsPerWorker: CaptureTarget[][]) {
    this.filters = targetsPerWorker.map((targets) => loadFilter(buildCaptureFilter(targets).program));
  }

  /** What becomes of `bytes`: filtered, a parse error, or 'ok' (parsed: forwarded if it matches a rule). */
  fateOf(bytes: Buffer): Fate | 'ok' {
    const received = asReceived(bytes);
    if (!this.filters.some((filter) => filter.run(received.bytes, received.meta).verdict !== 0)) return 'filtered';
    const parsed = native().parseFrame(received.bytes);
    return parsed.ok ? 'ok' : parsed.reason;
  }
}

/**
 * Random bytes behind an Ethernet header and the first bytes of an IPv4 header, addressed to the
 * target's group, so that a good share passes the filter and the parser has to judge them. Frames the
 * parser would accept are drawn again: they would be forwarded, and the test counts only the stream.
 */
export function randomFrame(random: SeededRandom, target: HostileTarget, path: ReceivePath): { bytes: Buffer; fate: Fate } {
  for (;;) {
    const base = aimed({ payload: random.bytes(random.int(0, 64)) })(target);
    const bytes = Buffer.from(base);
    // Scramble the IPv4 header and the UDP header except the destination address, and cut the frame anywhere.
    for (let i = ETHERNET; i < ETHERNET + IPV4 + 8; i++) if ((i < ETHERNET + 16 || i >= ETHERNET + 20) && random.chance(0.3)) bytes[i] = random.int(0, 255);
    const cut = random.chance(0.3) ? random.int(ETHERNET, bytes.length) : bytes.length;
    const candidate = bytes.subarray(0, cut);
    const fate = path.fateOf(candidate);
    if (fate !== 'ok') return { bytes: Buffer.from(candidate), fate };
  }
}

/** Writes frames for send-frames.py: each as a 2-byte big-endian length and its bytes. */
export function writeFrameFile(frames: Buffer[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcrt-frames-'));
  const file = path.join(dir, 'frames.bin');
  const parts: Buffer[] = [];
  for (const bytes of frames) {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length, 0);
    parts.push(length, bytes);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
  fs.chmodSync(dir, 0o755);
  return file;
}

export interface SendFramesReport {
  interface: string;
  frames: number;
  sent: number;
  seconds: number;
}

const SEND_FRAMES = path.join(__dirname, 'send-frames.py');

/** Sends the frames in `file` from namespace `ns` at `rate` per second; resolves when all are sent. */
export async function sendFrames(ns: string, ifname: string, file: string, rate: number, maxSeconds: number): Promise<SendFramesReport> {
  const argv = ['python3', SEND_FRAMES, '--interface', ifname, '--file', file, '--rate', String(rate), '--max-seconds', String(maxSeconds)];
  return JSON.parse(await runIn(ns, argv, (maxSeconds + 10) * 1000)) as SendFramesReport;
}
