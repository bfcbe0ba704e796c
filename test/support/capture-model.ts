/**
 * What a capture filter must decide for a frame, read from the frame's bytes: the reference the
 * classic program (bpf.ts) and the eBPF one (native/sockets/ebpf_filter.cc) are held to, for IPv4 and
 * IPv6 alike (docs/decisions/0028, 0061, 0066). Written from those decisions, not from either filter.
 *
 * A frame of a group some target of its VLAN and family names is admitted unless it is UDP whose
 * port (and, with `sources`, source) no such target has; IPv6 UDP is UDP only right after the fixed
 * header, or, with `walk`, after the extension headers the data plane's parser steps over. A field
 * the decision needs that lies beyond the frame drops it, as the kernel ends a filter there.
 */
import type { CaptureTarget } from '../../server/net/bpf';
import { ipv6Bytes } from './frames';

export interface ModelOptions {
  /** Steps over IPv6 extension headers to find UDP (the eBPF filter), or not (the classic one). */
  walk: boolean;
  /** Matches targets' sources (the eBPF filter), or takes any source (the classic one). */
  sources: boolean;
  /** The VLAN ID of the tag the kernel took out of the frame (0: none). */
  vlan?: number;
  /** The frame was sent by this host (PACKET_OUTGOING). */
  outgoing?: boolean;
}

const ETH_HLEN = 14;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const TPID_8021Q = 0x8100;
const UDP = 17;
const IPV6_STEPPED_OVER = [0, 43, 60]; // hop-by-hop (first only), routing, destination options
const IPV6_MAX_EXTENSIONS = 8;

const ipv4Bytes = (text: string) => Buffer.from(text.split('.').map(Number));
const addressBytes = (text: string) => (text.includes(':') ? ipv6Bytes(text) : ipv4Bytes(text));

interface Packet {
  group: Buffer;
  source: Buffer;
  /** Offset of the UDP header, or 'other' (admitted by the group), or 'short' (dropped). */
  udp: number | 'other' | 'short';
}

function ipv4(frame: Buffer, ip: number): Packet | undefined {
  if (frame.length < ip + 20) return undefined;
  const ihl = frame[ip] & 0x0f;
  const udp = frame[ip + 9] === UDP && (frame.readUInt16BE(ip + 6) & 0x3fff) === 0 && ihl >= 5;
  return { group: frame.subarray(ip + 16, ip + 20), source: frame.subarray(ip + 12, ip + 16), udp: udp ? ip + 4 * ihl : 'other' };
}

function ipv6(frame: Buffer, ip: number, walk: boolean): Packet | undefined {
  if (frame.length < ip + 40) return undefined;
  const packet = { group: frame.subarray(ip + 24, ip + 40), source: frame.subarray(ip + 8, ip + 24) };
  let next = frame[ip + 6];
  let at = ip + 40;
  for (let extensions = 0; walk; extensions++) {
    if (next === UDP) break;
    const refused = extensions === IPV6_MAX_EXTENSIONS || !IPV6_STEPPED_OVER.includes(next) || (next === 0 && extensions > 0);
    if (refused) return { ...packet, udp: 'other' };
    if (frame.length < at + 2) return { ...packet, udp: 'short' };
    next = frame[at];
    at += (frame[at + 1] + 1) * 8;
  }
  return { ...packet, udp: next === UDP ? at : 'other' };
}

/** Whether a filter for `targets` must admit `frame` (as an AF_PACKET socket sees it, from its Ethernet header). */
export function admits(targets: CaptureTarget[], frame: Buffer, options: ModelOptions): boolean {
  if (options.outgoing || frame.length < ETH_HLEN) return false;
  let ip = ETH_HLEN;
  let etherType = frame.readUInt16BE(12);
  if (etherType === TPID_8021Q) {
    if (frame.length < 18) return false;
    etherType = frame.readUInt16BE(16);
    ip += 4;
  }
  const family = etherType === ETHERTYPE_IPV4 ? 4 : etherType === ETHERTYPE_IPV6 ? 6 : 0;
  const packet = family === 4 ? ipv4(frame, ip) : family === 6 ? ipv6(frame, ip, options.walk) : undefined;
  if (!packet || packet.udp === 'short') return false;
  const mine = targets.filter((t) => (t.vlan ?? 0) === (options.vlan ?? 0) && t.group.includes(':') === (family === 6) && addressBytes(t.group).equals(packet.group));
  if (mine.length === 0) return false;
  if (packet.udp === 'other') return true;
  if (frame.length < packet.udp + 4) return false;
  const port = frame.readUInt16BE(packet.udp + 2);
  const sourceMatches = (t: CaptureTarget) => !options.sources || !t.source || addressBytes(t.source).equals(packet.source);
  return port !== 0 && mine.some((t) => t.port === port && sourceMatches(t));
}
