/**
 * The data plane's frame parser, through the parseFrame test hook (the same C++ function the packet
 * path uses): every outcome, with frames crafted byte by byte.
 */
import { expect } from 'chai';

import { native, type ParsedFrame } from '../../native';
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV6,
  frame,
  frame6,
  IP_DF,
  IP_MF,
  IPPROTO_ESP,
  IPPROTO_IGMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV6_DESTINATION_OPTIONS,
  IPV6_FRAGMENT,
  IPV6_HOP_BY_HOP,
  IPV6_ROUTING,
  TPID_8021AD,
  TPID_8021Q,
} from '../support/frames';

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
      const bytes = frame({ payload, source: '10.1.0.2', group: '239.1.2.3', sourcePort: 40001, port: 5004, ttl: 1, tos: 0xb8 });
      expect(parse(bytes)).to.deep.equal({
        ok: true,
        family: 4,
        source: '10.1.0.2',
        group: '239.1.2.3',
        srcPort: 40001,
        port: 5004,
        payloadOffset: 14 + 20 + 8,
        payloadLength: payload.length,
        ttl: 1,
        tos: 0xb8,
        protocol: IPPROTO_UDP,
      });
    });

    it('parses ESP whole: no ports, the IPv4 payload from the ESP header on', () => {
      // frame() writes 8 "UDP header" bytes before the payload: for ESP they are the SPI and sequence number.
      const payload = Buffer.from('encrypted data, trailer, ICV');
      const bytes = frame({ protocol: IPPROTO_ESP, payload, source: '10.1.0.2', group: '239.1.2.3', ttl: 3, tos: 0x28, vlans: [{ tpid: TPID_8021Q }] });
      const result = parse(bytes);
      expect(result).to.deep.equal({
        ok: true,
        family: 4,
        source: '10.1.0.2',
        group: '239.1.2.3',
        srcPort: 0,
        port: 0,
        payloadOffset: 18 + 20,
        payloadLength: 8 + payload.length,
        ttl: 3,
        tos: 0x28,
        protocol: IPPROTO_ESP,
      });
      if (!result.ok) return;
      expect(bytes.subarray(result.payloadOffset + 8, result.payloadOffset + result.payloadLength).equals(payload)).to.equal(true);
    });

    it('refuses ESP shorter than its header (SPI and sequence number)', () => {
      expect(reasonOf(frame({ protocol: IPPROTO_ESP, totalLength: 20 + 7 }))).to.equal('badLength');
      expect(parse(frame({ protocol: IPPROTO_ESP, totalLength: 20 + 8 }))).to.include({ ok: true, payloadLength: 8 });
    });

    it('finds the payload behind one 802.1Q tag', () => {
      const payload = Buffer.from('tagged');
      const result = parse(frame({ vlans: [{ tpid: TPID_8021Q }], payload }));
      expect(result).to.include({ ok: true, payloadOffset: 18 + 20 + 8, payloadLength: payload.length });
    });

    it('finds the payload behind an 802.1ad and an 802.1Q tag', () => {
      const payload = Buffer.from('double tagged');
      const bytes = frame({ vlans: [{ tpid: TPID_8021AD }, { tpid: TPID_8021Q }], payload });
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
      expect(parse(frame({ fragment: IP_DF }))).to.include({ ok: true });
    });
  });

  describe('truncated', () => {
    it('refuses a frame shorter than an Ethernet header', () => {
      expect(reasonOf(Buffer.alloc(0))).to.equal('truncated');
      expect(reasonOf(frame({ truncateTo: 13 }))).to.equal('truncated');
    });

    it('refuses a frame that ends inside a VLAN tag', () => {
      expect(reasonOf(frame({ vlans: [{ tpid: TPID_8021Q }], truncateTo: 16 }))).to.equal('truncated');
      expect(reasonOf(frame({ vlans: [{ tpid: TPID_8021AD }, { tpid: TPID_8021Q }], truncateTo: 20 }))).to.equal('truncated');
    });

    it('refuses a frame that ends inside the IPv4 header', () => {
      expect(reasonOf(frame({ truncateTo: 14 }))).to.equal('truncated');
      expect(reasonOf(frame({ truncateTo: 14 + 19 }))).to.equal('truncated');
    });

    it('refuses a frame that ends inside the UDP header or payload (shorter than the total length)', () => {
      const bytes = frame({ payload: Buffer.alloc(100) });
      expect(reasonOf(bytes.subarray(0, 14 + 20 + 4))).to.equal('truncated');
      expect(reasonOf(bytes.subarray(0, bytes.length - 1))).to.equal('truncated');
    });

    it('refuses every strict prefix of a valid frame without reading past it', () => {
      const bytes = frame({ vlans: [{ tpid: TPID_8021Q }], ihl: 6, payload: Buffer.alloc(64, 1) });
      expect(parse(bytes).ok).to.equal(true);
      for (let length = 0; length < bytes.length; length++) {
        // A fresh copy each time, so the parser cannot see the bytes after the prefix.
        const prefix = Buffer.from(bytes.subarray(0, length));
        expect(parse(prefix), `prefix of ${length} bytes`).to.have.property('ok', false);
      }
    });
  });

  describe('IPv6', () => {
    it('parses IPv6/UDP: addresses, hop limit, traffic class, the payload behind a VLAN tag', () => {
      const payload = Buffer.from('v6 datagram');
      const bytes = frame6({ payload, source: 'fe80::2', group: 'ff3e::1:5', sourcePort: 40001, port: 5004, hopLimit: 1, trafficClass: 0xb9, vlans: [{ tpid: TPID_8021Q }] });
      expect(parse(bytes)).to.deep.equal({
        ok: true,
        family: 6,
        source: 'fe80::2',
        group: 'ff3e::1:5',
        srcPort: 40001,
        port: 5004,
        payloadOffset: 18 + 40 + 8,
        payloadLength: payload.length,
        ttl: 1,
        tos: 0xb9,
        protocol: IPPROTO_UDP,
      });
    });

    it('steps over hop-by-hop, routing and destination options headers, and takes ESP whole', () => {
      const extensions = [{ type: IPV6_HOP_BY_HOP }, { type: IPV6_ROUTING, units: 2 }, { type: IPV6_DESTINATION_OPTIONS, units: 1 }];
      expect(parse(frame6({ extensions }))).to.include({ ok: true, payloadOffset: 14 + 40 + 8 + 24 + 16 + 8, port: 5000 });
      expect(parse(frame6({ extensions, protocol: IPPROTO_ESP }))).to.include({ ok: true, payloadOffset: 14 + 40 + 8 + 24 + 16, port: 0, protocol: IPPROTO_ESP });
    });

    it('counts malformed IPv6 by reason', () => {
      expect(reasonOf(frame6({ version: 4 }))).to.equal('badHeader');
      expect(reasonOf(frame6({ truncateTo: 14 + 39 }))).to.equal('truncated');
      expect(reasonOf(frame6({ payloadLength: 8 + 16 + 1 }))).to.equal('truncated');
      expect(reasonOf(frame6({ payloadLength: 0 })), 'a jumbogram').to.equal('badLength');
      expect(reasonOf(frame6({ extensions: [{ type: IPV6_ROUTING, units: 4 }], payloadLength: 16 }))).to.equal('badLength');
      expect(reasonOf(frame6({ extensions: [{ type: IPV6_DESTINATION_OPTIONS }, { type: IPV6_HOP_BY_HOP }] })), 'hop-by-hop not first').to.equal('badHeader');
      expect(reasonOf(frame6({ extensions: Array(9).fill({ type: IPV6_DESTINATION_OPTIONS }) })), 'nine extension headers').to.equal('badHeader');
      expect(parse(frame6({ extensions: Array(8).fill({ type: IPV6_DESTINATION_OPTIONS }) })), 'eight').to.include({ ok: true });
      expect(reasonOf(frame6({ extensions: [{ type: IPV6_FRAGMENT }] }))).to.equal('fragment');
      expect(reasonOf(frame6({ protocol: IPPROTO_TCP }))).to.equal('notUdp');
      expect(reasonOf(frame6({ udpLength: 7 }))).to.equal('badLength');
      // An IPv4 header behind the IPv6 ethertype.
      expect(reasonOf(frame({ etherType: ETHERTYPE_IPV6 }))).to.equal('badHeader');
    });

    it('refuses every prefix of a valid IPv6 frame', () => {
      const bytes = frame6({ extensions: [{ type: IPV6_HOP_BY_HOP }] });
      for (let length = 0; length < bytes.length; length++) expect(parse(bytes.subarray(0, length)), `prefix of ${length} bytes`).to.have.property('ok', false);
    });
  });

  describe('neither IPv4 nor IPv6', () => {
    it('refuses other ethertypes', () => {
      expect(reasonOf(frame({ etherType: ETHERTYPE_ARP }))).to.equal('notIpv4');
    });

    it('refuses a third VLAN tag', () => {
      expect(reasonOf(frame({ vlans: [{ tpid: TPID_8021AD }, { tpid: TPID_8021Q }, { tpid: TPID_8021Q }] }))).to.equal('notIpv4');
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
      expect(reasonOf(frame({ fragment: IP_MF }))).to.equal('fragment');
    });

    it('refuses a later fragment (non-zero offset), with or without MF', () => {
      expect(reasonOf(frame({ fragment: 0x00b9 }))).to.equal('fragment');
      expect(reasonOf(frame({ fragment: IP_MF | 1 }))).to.equal('fragment');
    });
  });

  describe('neither UDP nor ESP', () => {
    it('refuses other IPv4 protocols', () => {
      expect(reasonOf(frame({ protocol: IPPROTO_TCP }))).to.equal('notUdp');
      expect(reasonOf(frame({ protocol: IPPROTO_IGMP }))).to.equal('notUdp');
    });
  });

  it('throws a TypeError for anything but a Buffer', () => {
    const parseFrame = native().parseFrame as (frame: unknown) => ParsedFrame;
    expect(() => parseFrame('not a frame')).to.throw(TypeError);
    expect(() => parseFrame(undefined)).to.throw(TypeError);
    expect(() => parseFrame(new Uint16Array(40))).to.throw(TypeError);
  });
});
