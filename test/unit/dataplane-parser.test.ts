/**
 * The data plane's frame parser, through the parseFrame test hook (the same C++ function the packet
 * path uses): every outcome, with frames crafted byte by byte.
 */
import { expect } from 'chai';

import { native, type ParsedFrame } from '../../native';

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const PROTOCOL_UDP = 17;
const PROTOCOL_TCP = 6;

interface FrameSpec {
  /** TPIDs of the VLAN tags, outermost first. */
  tags?: number[];
  etherType?: number;
  version?: number;
  /** Header length in 32-bit words (5 = no options). */
  ihl?: number;
  tos?: number;
  /** IPv4 total length; default: header + UDP header + payload. */
  totalLength?: number;
  /** The flags and fragment offset field (MF = 0x2000, DF = 0x4000). */
  fragmentField?: number;
  ttl?: number;
  protocol?: number;
  /** Replaces the computed header checksum. */
  checksum?: number;
  source?: string;
  destination?: string;
  sourcePort?: number;
  port?: number;
  /** UDP length; default: 8 + payload. */
  udpLength?: number;
  payload?: Buffer;
  /** Ethernet padding after the IPv4 packet. */
  padding?: number;
}

function ipv4Bytes(address: string): number[] {
  return address.split('.').map(Number);
}

function headerChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An Ethernet frame carrying IPv4/UDP, valid unless the spec says otherwise. */
function frame(spec: FrameSpec = {}): Buffer {
  const payload = spec.payload ?? Buffer.from('hello, multicast');
  const ihl = spec.ihl ?? 5;
  const headerLength = Math.max(ihl, 5) * 4; // the bytes actually written
  const udpLength = spec.udpLength ?? 8 + payload.length;

  const ethernet = Buffer.alloc(12);
  Buffer.from([0x01, 0x00, 0x5e, 0x01, 0x02, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01]).copy(ethernet);
  const tags = (spec.tags ?? []).map((tpid, i) => {
    const tag = Buffer.alloc(4);
    tag.writeUInt16BE(tpid, 0);
    tag.writeUInt16BE(100 + i, 2); // VLAN id
    return tag;
  });
  const etherType = Buffer.alloc(2);
  etherType.writeUInt16BE(spec.etherType ?? ETHERTYPE_IPV4, 0);

  const ip = Buffer.alloc(headerLength);
  ip[0] = ((spec.version ?? 4) << 4) | (ihl & 0x0f);
  ip[1] = spec.tos ?? 0;
  ip.writeUInt16BE(spec.totalLength ?? headerLength + 8 + payload.length, 2);
  ip.writeUInt16BE(0x1234, 4); // identification
  ip.writeUInt16BE(spec.fragmentField ?? 0, 6);
  ip[8] = spec.ttl ?? 64;
  ip[9] = spec.protocol ?? PROTOCOL_UDP;
  Buffer.from(ipv4Bytes(spec.source ?? '10.1.0.2')).copy(ip, 12);
  Buffer.from(ipv4Bytes(spec.destination ?? '239.1.2.3')).copy(ip, 16);
  for (let i = 20; i < headerLength; i++) ip[i] = 1; // options: NOPs
  ip.writeUInt16BE(spec.checksum ?? headerChecksum(ip), 10);

  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(spec.sourcePort ?? 40000, 0);
  udp.writeUInt16BE(spec.port ?? 5000, 2);
  udp.writeUInt16BE(udpLength, 4);

  return Buffer.concat([ethernet, ...tags, etherType, ip, udp, payload, Buffer.alloc(spec.padding ?? 0)]);
}

function parse(bytes: Buffer): ParsedFrame {
  return native().parseFrame(bytes);
}

function reasonOf(bytes: Buffer): string {
  const result = parse(bytes);
  if (result.ok) throw new Error(`expected the frame to be refused, it parsed: ${JSON.stringify(result)}`);
  return result.reason;
}

describe('data-plane frame parser', () => {
  describe('valid frames', () => {
    it('parses an untagged IPv4/UDP frame', () => {
      const payload = Buffer.from('0123456789abcdef0123');
      const bytes = frame({ payload, source: '10.1.0.2', destination: '239.1.2.3', sourcePort: 40001, port: 5004, ttl: 1, tos: 0xb8 });
      expect(parse(bytes)).to.deep.equal({
        ok: true,
        source: '10.1.0.2',
        group: '239.1.2.3',
        srcPort: 40001,
        port: 5004,
        payloadOffset: 14 + 20 + 8,
        payloadLength: payload.length,
        ttl: 1,
        tos: 0xb8,
      });
    });

    it('finds the payload behind one 802.1Q tag', () => {
      const payload = Buffer.from('tagged');
      const result = parse(frame({ tags: [ETHERTYPE_VLAN], payload }));
      expect(result).to.include({ ok: true, payloadOffset: 18 + 20 + 8, payloadLength: payload.length });
    });

    it('finds the payload behind an 802.1ad and an 802.1Q tag', () => {
      const payload = Buffer.from('double tagged');
      const bytes = frame({ tags: [ETHERTYPE_QINQ, ETHERTYPE_VLAN], payload });
      const result = parse(bytes);
      expect(result).to.include({ ok: true, payloadOffset: 22 + 20 + 8, payloadLength: payload.length });
      if (!result.ok) return;
      expect(bytes.subarray(result.payloadOffset, result.payloadOffset + result.payloadLength).equals(payload)).to.equal(true);
    });

    it('skips IPv4 options', () => {
      const payload = Buffer.from('after options');
      const bytes = frame({ ihl: 7, payload });
      const result = parse(bytes);
      expect(result).to.include({ ok: true, payloadOffset: 14 + 28 + 8, payloadLength: payload.length });
    });

    it('takes the payload length from UDP, not from the frame (Ethernet padding ignored)', () => {
      const payload = Buffer.from('ab');
      const bytes = frame({ payload, padding: 16 });
      expect(bytes.length).to.equal(14 + 20 + 8 + 2 + 16);
      expect(parse(bytes)).to.include({ ok: true, payloadOffset: 42, payloadLength: 2 });
    });

    it('accepts a UDP length shorter than the IPv4 payload, and an empty payload', () => {
      expect(parse(frame({ payload: Buffer.alloc(30, 7), udpLength: 8 + 10 }))).to.include({ ok: true, payloadLength: 10 });
      expect(parse(frame({ payload: Buffer.alloc(0) }))).to.include({ ok: true, payloadOffset: 42, payloadLength: 0 });
    });

    it('accepts a jumbo payload', () => {
      const payload = Buffer.alloc(8972, 0x5a);
      expect(parse(frame({ payload }))).to.include({ ok: true, payloadLength: 8972 });
    });

    it('accepts the don\'t-fragment flag (it is not a fragment)', () => {
      expect(parse(frame({ fragmentField: 0x4000 }))).to.include({ ok: true });
    });
  });

  describe('truncated', () => {
    it('refuses a frame shorter than an Ethernet header', () => {
      expect(reasonOf(Buffer.alloc(0))).to.equal('truncated');
      expect(reasonOf(frame().subarray(0, 13))).to.equal('truncated');
    });

    it('refuses a frame that ends inside a VLAN tag', () => {
      expect(reasonOf(frame({ tags: [ETHERTYPE_VLAN] }).subarray(0, 16))).to.equal('truncated');
      expect(reasonOf(frame({ tags: [ETHERTYPE_QINQ, ETHERTYPE_VLAN] }).subarray(0, 20))).to.equal('truncated');
    });

    it('refuses a frame that ends inside the IPv4 header', () => {
      expect(reasonOf(frame().subarray(0, 14))).to.equal('truncated');
      expect(reasonOf(frame().subarray(0, 14 + 19))).to.equal('truncated');
    });

    it('refuses a frame that ends inside the UDP header or payload (shorter than the total length)', () => {
      const bytes = frame({ payload: Buffer.alloc(100) });
      expect(reasonOf(bytes.subarray(0, 14 + 20 + 4))).to.equal('truncated');
      expect(reasonOf(bytes.subarray(0, bytes.length - 1))).to.equal('truncated');
    });

    it('refuses every strict prefix of a valid frame without reading past it', () => {
      const bytes = frame({ tags: [ETHERTYPE_VLAN], ihl: 6, payload: Buffer.alloc(64, 1) });
      expect(parse(bytes).ok).to.equal(true);
      for (let length = 0; length < bytes.length; length++) {
        // A fresh copy each time, so the parser cannot see the bytes after the prefix.
        const prefix = Buffer.from(bytes.subarray(0, length));
        expect(parse(prefix), `prefix of ${length} bytes`).to.have.property('ok', false);
      }
    });
  });

  describe('not IPv4', () => {
    it('refuses other ethertypes', () => {
      expect(reasonOf(frame({ etherType: ETHERTYPE_IPV6 }))).to.equal('notIpv4');
      expect(reasonOf(frame({ etherType: 0x0806 }))).to.equal('notIpv4');
    });

    it('refuses a third VLAN tag', () => {
      expect(reasonOf(frame({ tags: [ETHERTYPE_QINQ, ETHERTYPE_VLAN, ETHERTYPE_VLAN] }))).to.equal('notIpv4');
    });
  });

  describe('bad header', () => {
    it('refuses an IP version other than 4', () => {
      expect(reasonOf(frame({ version: 6 }))).to.equal('badHeader');
    });

    it('refuses an IHL below 5', () => {
      expect(reasonOf(frame({ ihl: 4 }))).to.equal('badHeader');
      expect(reasonOf(frame({ ihl: 0 }))).to.equal('badHeader');
    });

    it('refuses options that run past the end of the frame', () => {
      // IHL 15 announces a 60-byte header; the frame holds 20 + 8 + 2 bytes of IPv4.
      const bytes = frame({ payload: Buffer.from('ab') });
      bytes[14] = 0x4f;
      expect(reasonOf(bytes)).to.equal('badHeader');
    });

    it('refuses a wrong header checksum', () => {
      const good = frame();
      const checksum = good.readUInt16BE(14 + 10);
      expect(reasonOf(frame({ checksum: checksum ^ 0x0100 }))).to.equal('badHeader');
      const corrupted = Buffer.from(good);
      corrupted[14 + 8] ^= 0xff; // TTL changed, checksum not updated
      expect(reasonOf(corrupted)).to.equal('badHeader');
    });
  });

  describe('bad length', () => {
    it('refuses a total length smaller than the header', () => {
      expect(reasonOf(frame({ totalLength: 19 }))).to.equal('badLength');
      expect(reasonOf(frame({ ihl: 6, totalLength: 20 }))).to.equal('badLength');
    });

    it('refuses an IPv4 payload too short for a UDP header', () => {
      expect(reasonOf(frame({ totalLength: 20 + 7 }))).to.equal('badLength');
    });

    it('refuses a UDP length below 8', () => {
      expect(reasonOf(frame({ udpLength: 7 }))).to.equal('badLength');
      expect(reasonOf(frame({ udpLength: 0 }))).to.equal('badLength');
    });

    it('refuses a UDP length beyond the IPv4 payload', () => {
      const payload = Buffer.alloc(10);
      expect(reasonOf(frame({ payload, udpLength: 8 + 11 }))).to.equal('badLength');
      // ... even when the frame has the bytes (padding), since IPv4 says they are not part of it.
      expect(reasonOf(frame({ payload, udpLength: 8 + 11, padding: 10 }))).to.equal('badLength');
    });
  });

  describe('fragments', () => {
    it('refuses a first fragment (MF set)', () => {
      expect(reasonOf(frame({ fragmentField: 0x2000 }))).to.equal('fragment');
    });

    it('refuses a later fragment (non-zero offset), with or without MF', () => {
      expect(reasonOf(frame({ fragmentField: 0x00b9 }))).to.equal('fragment');
      expect(reasonOf(frame({ fragmentField: 0x2001 }))).to.equal('fragment');
    });
  });

  describe('not UDP', () => {
    it('refuses other IPv4 protocols', () => {
      expect(reasonOf(frame({ protocol: PROTOCOL_TCP }))).to.equal('notUdp');
      expect(reasonOf(frame({ protocol: 2 }))).to.equal('notUdp'); // IGMP
    });
  });

  it('throws a TypeError for anything but a Buffer', () => {
    const parseFrame = native().parseFrame as (frame: unknown) => ParsedFrame;
    expect(() => parseFrame('not a frame')).to.throw(TypeError);
    expect(() => parseFrame(undefined)).to.throw(TypeError);
    expect(() => parseFrame(new Uint16Array(40))).to.throw(TypeError);
  });
});
