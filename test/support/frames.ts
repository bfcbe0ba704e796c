/**
 * Ethernet frames carrying IPv4/UDP (frame) or IPv6/UDP (frame6), built byte by byte, as a NIC hands
 * them to AF_PACKET: for the tests of the capture filter and of the data plane's frame parser. Every
 * field has a valid default; a spec overrides single fields, also with invalid values, to craft the
 * malformed frames those tests need.
 */

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
/** Tag protocol identifier of an 802.1Q VLAN tag. */
export const TPID_8021Q = 0x8100;
/** Tag protocol identifier of an 802.1ad (QinQ) service tag, the outer of two tags. */
export const TPID_8021AD = 0x88a8;

export const IPPROTO_IGMP = 2;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** IPsec ESP: a frame built with it has its 8 "UDP header" bytes where ESP has its SPI and sequence number. */
export const IPPROTO_ESP = 50;

/** Flags in the IPv4 flags and fragment offset field (the offset is the low 13 bits). */
export const IP_DF = 0x4000;
export const IP_MF = 0x2000;

const IPV4_MIN_IHL = 5; // 32-bit words, no options
const UDP_HEADER_BYTES = 8;
const IPOPT_NOP = 1;

const SOURCE_MAC = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
/** Ethernet destination for a destination address that is not multicast. */
const UNICAST_DESTINATION_MAC = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
const DEFAULT_VLAN_ID = 100;
const DEFAULT_PAYLOAD = Buffer.from('hello, multicast');

export interface VlanTag {
  /** Default: 802.1Q. */
  tpid?: number;
  /** The tag control field: VLAN id, with priority and DEI bits 0. Default: 100. */
  vid?: number;
}

/** What IPv4 and IPv6 frames have alike: tags, the UDP header, the payload, padding, truncation. */
interface LinkAndUdpSpec {
  /** In-band VLAN tags, outermost first. */
  vlans?: VlanTag[];
  /** UDP source port. Default: 40000. */
  sourcePort?: number;
  /** UDP destination port. Default: 5000. */
  port?: number;
  /** UDP length. Default: UDP header + payload. */
  udpLength?: number;
  /** Default: the 16 bytes "hello, multicast". */
  payload?: Buffer;
  /** Bytes of Ethernet padding after the IP packet. Default: 0. */
  padding?: number;
  /** Cut the finished frame to its first this many bytes. */
  truncateTo?: number;
}

export interface FrameSpec extends LinkAndUdpSpec {
  /** Ethernet type after any tags. Default: IPv4. */
  etherType?: number;
  /** IP version field. Default: 4. */
  version?: number;
  /** IHL field, in 32-bit words. The header written is max(IHL, 5) words long. Default: 5. */
  ihl?: number;
  /** Bytes of IP options, repeated to fill the header beyond 20 bytes. Default: NOPs. */
  optionFill?: number[];
  tos?: number;
  /** IPv4 total length. Default: header + UDP header + payload. */
  totalLength?: number;
  /** The flags and fragment offset field. Default: 0. */
  fragment?: number;
  /** Default: 64. */
  ttl?: number;
  /** Default: UDP. */
  protocol?: number;
  /** Replaces the computed header checksum. */
  checksum?: number;
  /** Default: 10.1.0.2. */
  source?: string;
  /** The destination address (a multicast group unless a test wants otherwise). Default: 239.1.2.3. */
  group?: string;
}

/** The four bytes of a dotted-quad IPv4 address. */
function addressBytes(address: string): Buffer {
  const parts = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address)?.slice(1).map(Number);
  if (!parts || parts.some((part) => part > 255)) throw new RangeError(`not a dotted-quad IPv4 address: '${address}'`);
  return Buffer.from(parts);
}

/** A multicast group's MAC (01:00:5e and the group's low 23 bits, RFC 1112); a fixed MAC otherwise. */
function destinationMac(group: Buffer): Buffer {
  const multicast = (group[0] & 0xf0) === 0xe0;
  return Buffer.from(multicast ? [0x01, 0x00, 0x5e, group[1] & 0x7f, group[2], group[3]] : UNICAST_DESTINATION_MAC);
}

/** The Internet checksum (RFC 1071) of a header whose checksum field is zero. */
function internetChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function nibble(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0x0f) throw new RangeError(`${what} must fit in 4 bits, got ${value}`);
  return value;
}

/** Destination and source MACs, the VLAN tags and the Ethernet type. */
function ethernetHeader(spec: FrameSpec, group: Buffer): Buffer {
  const tags = (spec.vlans ?? []).map(({ tpid = TPID_8021Q, vid = DEFAULT_VLAN_ID }) => {
    const tag = Buffer.alloc(4);
    tag.writeUInt16BE(tpid, 0);
    tag.writeUInt16BE(vid, 2);
    return tag;
  });
  const etherType = Buffer.alloc(2);
  etherType.writeUInt16BE(spec.etherType ?? ETHERTYPE_IPV4, 0);
  return Buffer.concat([destinationMac(group), Buffer.from(SOURCE_MAC), ...tags, etherType]);
}

/** The IPv4 header, options included, for a UDP datagram carrying `payloadLength` bytes. */
function ipv4Header(spec: FrameSpec, group: Buffer, payloadLength: number): Buffer {
  const ihl = nibble(spec.ihl ?? IPV4_MIN_IHL, 'IHL');
  const headerLength = Math.max(ihl, IPV4_MIN_IHL) * 4; // the bytes actually written
  const header = Buffer.alloc(headerLength);
  header.writeUInt8((nibble(spec.version ?? 4, 'version') << 4) | ihl, 0);
  header.writeUInt8(spec.tos ?? 0, 1);
  header.writeUInt16BE(spec.totalLength ?? headerLength + UDP_HEADER_BYTES + payloadLength, 2);
  header.writeUInt16BE(0x1234, 4); // identification
  header.writeUInt16BE(spec.fragment ?? 0, 6);
  header.writeUInt8(spec.ttl ?? 64, 8);
  header.writeUInt8(spec.protocol ?? IPPROTO_UDP, 9);
  addressBytes(spec.source ?? '10.1.0.2').copy(header, 12);
  group.copy(header, 16);
  const fill = spec.optionFill ?? [IPOPT_NOP];
  if (fill.length === 0 && headerLength > 20) throw new RangeError('optionFill is empty but the header has options');
  for (let i = 20; i < headerLength; i++) header.writeUInt8(fill[(i - 20) % fill.length], i);
  header.writeUInt16BE(spec.checksum ?? internetChecksum(header), 10);
  return header;
}

/** The frame cut to spec.truncateTo bytes, if it says so. */
function truncated(whole: Buffer, spec: LinkAndUdpSpec): Buffer {
  if (spec.truncateTo === undefined) return whole;
  if (spec.truncateTo > whole.length) throw new RangeError(`cannot truncate a ${whole.length}-byte frame to ${spec.truncateTo} bytes`);
  return whole.subarray(0, spec.truncateTo);
}

function udpHeader(spec: LinkAndUdpSpec, payloadLength: number): Buffer {
  const header = Buffer.alloc(UDP_HEADER_BYTES);
  header.writeUInt16BE(spec.sourcePort ?? 40000, 0);
  header.writeUInt16BE(spec.port ?? 5000, 2);
  header.writeUInt16BE(spec.udpLength ?? UDP_HEADER_BYTES + payloadLength, 4);
  return header; // checksum 0: none
}

/** An Ethernet frame carrying IPv4/UDP, valid unless the spec says otherwise. */
export function frame(spec: FrameSpec = {}): Buffer {
  const payload = spec.payload ?? DEFAULT_PAYLOAD;
  const group = addressBytes(spec.group ?? '239.1.2.3');
  const whole = Buffer.concat([
    ethernetHeader(spec, group),
    ipv4Header(spec, group, payload.length),
    udpHeader(spec, payload.length),
    payload,
    Buffer.alloc(spec.padding ?? 0),
  ]);
  return truncated(whole, spec);
}

/** An IPv6 extension header of a Frame6Spec: its type (the next header value naming it) and length. */
export interface Ipv6Extension {
  /** 0 hop-by-hop options, 43 routing, 44 fragment, 60 destination options, ... */
  type: number;
  /** The header's length field: 8-octet units beyond the first 8. Default: 0. */
  units?: number;
  /** Its next header field. Default: the type of the extension after it, else the transport protocol. */
  next?: number;
}

export interface Frame6Spec extends LinkAndUdpSpec {
  /** Default: 6. */
  version?: number;
  trafficClass?: number;
  /** Default: 64. */
  hopLimit?: number;
  /** The payload length field. Default: the extension headers, the transport header and the payload. */
  payloadLength?: number;
  extensions?: Ipv6Extension[];
  /** The transport protocol after the extension headers. Default: UDP. */
  protocol?: number;
  /** Default: fe80::1. */
  source?: string;
  /** Default: ff3e::1:5. */
  group?: string;
}

export const IPV6_HOP_BY_HOP = 0;
export const IPV6_ROUTING = 43;
export const IPV6_FRAGMENT = 44;
export const IPV6_DESTINATION_OPTIONS = 60;
export const IPV6_NO_NEXT_HEADER = 59;

/** The 16 bytes of an IPv6 address in any text form `::` may shorten (no embedded IPv4). */
export function ipv6Bytes(address: string): Buffer {
  const [head, tail, ...more] = address.split('::');
  const groups = (text: string | undefined) => (text ? text.split(':') : []);
  const [front, back] = [groups(head), groups(tail)];
  const missing = 8 - front.length - back.length;
  const all = tail === undefined ? front : [...front, ...Array<string>(missing).fill('0'), ...back];
  if (more.length > 0 || missing < 0 || all.length !== 8 || all.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) {
    throw new RangeError(`not an IPv6 address: '${address}'`);
  }
  const bytes = Buffer.alloc(16);
  all.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), 2 * i));
  return bytes;
}

/** An Ethernet frame carrying IPv6 (with the extension headers the spec lists) and UDP, valid unless the spec says otherwise. */
export function frame6(spec: Frame6Spec = {}): Buffer {
  const payload = spec.payload ?? DEFAULT_PAYLOAD;
  const group = ipv6Bytes(spec.group ?? 'ff3e::1:5');
  const protocol = spec.protocol ?? IPPROTO_UDP;
  const extensions = (spec.extensions ?? []).map((extension, i, list) => {
    const header = Buffer.alloc(((extension.units ?? 0) + 1) * 8);
    header.writeUInt8(extension.next ?? list[i + 1]?.type ?? protocol, 0);
    header.writeUInt8(extension.units ?? 0, 1);
    return header;
  });
  const transport = udpHeader(spec, payload.length);
  const payloadLength = extensions.reduce((sum, e) => sum + e.length, 0) + transport.length + payload.length;
  const header = Buffer.alloc(40);
  const trafficClass = spec.trafficClass ?? 0;
  header.writeUInt32BE(((nibble(spec.version ?? 6, 'version') << 28) | (trafficClass << 20)) >>> 0, 0);
  header.writeUInt16BE(spec.payloadLength ?? payloadLength, 4);
  header.writeUInt8(spec.extensions?.[0]?.type ?? protocol, 6);
  header.writeUInt8(spec.hopLimit ?? 64, 7);
  ipv6Bytes(spec.source ?? 'fe80::1').copy(header, 8);
  group.copy(header, 24);
  const mac = group[0] === 0xff ? Buffer.from([0x33, 0x33, ...group.subarray(12)]) : Buffer.from(UNICAST_DESTINATION_MAC);
  const ethernet = ethernetHeader({ vlans: spec.vlans, etherType: ETHERTYPE_IPV6 }, Buffer.alloc(4));
  mac.copy(ethernet, 0);
  const whole = Buffer.concat([ethernet, header, ...extensions, transport, payload, Buffer.alloc(spec.padding ?? 0)]);
  return truncated(whole, spec);
}
