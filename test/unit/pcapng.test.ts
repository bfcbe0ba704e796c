import { expect } from 'chai';

import {
  enhancedPacketBlock,
  interfaceDescriptionBlock,
  LINKTYPE_ETHERNET,
  PcapngStream,
  sectionHeaderBlock,
} from '../../clients/mcrctl/pcapng';
import {
  ENHANCED_PACKET,
  INTERFACE_DESCRIPTION,
  optionText,
  readBlocks,
  readCapture,
  readEnhancedPacket,
  readInterfaceDescription,
  readSectionHeader,
  SECTION_HEADER,
} from '../support/pcapng-reader';

/** 2024-01-02T03:04:05.123456789Z in unix nanoseconds: more than 32 bits in both halves. */
const T = 1_704_164_645_123_456_789n;

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('pcapng writer', () => {
  describe('byte layout, checked against the specification by hand', () => {
    it('a section header without options: magic, version 1.0, unknown section length, length twice', () => {
      expect(sectionHeaderBlock().toString('hex')).to.equal(
        hex('0a0d0d0a 1c000000  4d3c2b1a 0100 0000 ffffffffffffffff  1c000000').toString('hex'),
      );
    });

    it('a packet of 3 bytes without a comment: timestamp halves, lengths, data padded to 4', () => {
      const block = enhancedPacketBlock({ interfaceId: 0, timestampNanos: 0x0000000500000007n, data: Buffer.from('abc'), originalLength: 60 });
      expect(block.toString('hex')).to.equal(
        hex('06000000 24000000  00000000 05000000 07000000 03000000 3c000000  61626300  24000000').toString('hex'),
      );
    });

    it('an interface: link type, snap length, if_tsresol 9 padded, opt_endofopt', () => {
      expect(interfaceDescriptionBlock({ linkType: LINKTYPE_ETHERNET, snapLength: 128 }).toString('hex')).to.equal(
        hex('01000000 20000000  0100 0000 80000000  0900 0100 09000000  0000 0000  20000000').toString('hex'),
      );
    });
  });

  describe('read back', () => {
    it('section header: byte-order magic, version, application option', () => {
      const [block] = readBlocks(sectionHeaderBlock({ application: 'mcrctl 1.2.3' }));
      expect(block.type).to.equal(SECTION_HEADER);
      const section = readSectionHeader(block);
      expect(section).to.deep.include({ magic: 0x1a2b3c4d, major: 1, minor: 0, sectionLength: -1n });
      expect(optionText(section.options, 4)).to.equal('mcrctl 1.2.3');
    });

    it('interface description: Ethernet, snap length, name, description, nanosecond resolution', () => {
      const [block] = readBlocks(interfaceDescriptionBlock({ linkType: LINKTYPE_ETHERNET, snapLength: 2048, name: 'eth0', description: 'mcr trace of rule r-1' }));
      expect(block.type).to.equal(INTERFACE_DESCRIPTION);
      const iface = readInterfaceDescription(block);
      expect(iface.linkType).to.equal(1);
      expect(iface.snapLength).to.equal(2048);
      expect(optionText(iface.options, 2)).to.equal('eth0');
      expect(optionText(iface.options, 3)).to.equal('mcr trace of rule r-1');
      expect(iface.options.find((o) => o.code === 9)?.value).to.deep.equal(Buffer.from([9]));
    });

    for (const size of [60, 61, 62, 63, 64]) {
      it(`a ${size}-byte frame with a comment: lengths, padding, timestamp, data and comment intact`, () => {
        const data = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + 1) & 0xff));
        const comment = 'rule r-abc forwarded: out0 eth1 239.9.9.9:6000 sent; 12.3 us in mcr';
        const [block] = readBlocks(enhancedPacketBlock({ interfaceId: 0, timestampNanos: T, data, originalLength: 1514, comment }));
        expect(block.type).to.equal(ENHANCED_PACKET);
        expect(block.totalLength % 4).to.equal(0);
        // type, length, 5 fixed words, padded data, comment option (header + padded text), endofopt, length
        expect(block.totalLength).to.equal(8 + 20 + Math.ceil(size / 4) * 4 + 4 + Math.ceil(comment.length / 4) * 4 + 4 + 4);
        const packet = readEnhancedPacket(block);
        expect(packet.interfaceId).to.equal(0);
        expect(packet.timestamp).to.equal(T);
        expect(packet.timestampHigh).to.equal(Number(T >> 32n));
        expect(packet.capturedLength).to.equal(size);
        expect(packet.originalLength).to.equal(1514);
        expect(packet.data).to.deep.equal(data);
        expect(packet.padding.length).to.equal((4 - (size % 4)) % 4);
        expect(optionText(packet.options, 1)).to.equal(comment);
      });
    }

    it('a comment in UTF-8 keeps its characters; one beyond 65535 bytes is cut at a character and marked', () => {
      const short = readEnhancedPacket(readBlocks(enhancedPacketBlock({ interfaceId: 0, timestampNanos: T, data: Buffer.alloc(4), originalLength: 4, comment: 'délai 12 µs' }))[0]);
      expect(optionText(short.options, 1)).to.equal('délai 12 µs');

      const long = 'é'.repeat(40_000); // 80000 bytes
      const packet = readEnhancedPacket(readBlocks(enhancedPacketBlock({ interfaceId: 0, timestampNanos: T, data: Buffer.alloc(4), originalLength: 4, comment: long }))[0]);
      const text = optionText(packet.options, 1)!;
      expect(Buffer.byteLength(text)).to.be.at.most(65535);
      expect(text.endsWith('...')).to.equal(true);
      expect(text.slice(0, -3)).to.equal('é'.repeat((65535 - 3) >> 1));
    });

    it('no comment: no options area at all', () => {
      const packet = readEnhancedPacket(readBlocks(enhancedPacketBlock({ interfaceId: 0, timestampNanos: T, data: Buffer.alloc(8), originalLength: 8 }))[0]);
      expect(packet.options).to.deep.equal([]);
    });
  });

  it('refuses what pcapng cannot say', () => {
    const base = { interfaceId: 0, timestampNanos: T, data: Buffer.alloc(10), originalLength: 10 };
    expect(() => enhancedPacketBlock({ ...base, originalLength: 9 })).to.throw(RangeError, /originalLength \(9\) is less than the 10 bytes/);
    expect(() => enhancedPacketBlock({ ...base, timestampNanos: -1n })).to.throw(RangeError, /timestampNanos/);
    expect(() => enhancedPacketBlock({ ...base, timestampNanos: 1n << 64n })).to.throw(RangeError, /timestampNanos/);
    expect(() => interfaceDescriptionBlock({ linkType: 1, snapLength: -1 })).to.throw(RangeError, /snapLength/);
  });

  it('a stream writes the header once when opened, then one block per packet in one write each', () => {
    const writes: Buffer[] = [];
    const stream = PcapngStream.open((bytes) => writes.push(bytes), { application: 'test' }, { linkType: LINKTYPE_ETHERNET, snapLength: 128 });
    expect(writes).to.have.length(1);
    expect(readBlocks(writes[0]).map((b) => b.type)).to.deep.equal([SECTION_HEADER, INTERFACE_DESCRIPTION]);
    stream.packet({ timestampNanos: T, data: Buffer.alloc(42, 1), originalLength: 42, comment: 'one' });
    stream.packet({ timestampNanos: T + 1000n, data: Buffer.alloc(43, 2), originalLength: 100, comment: 'two' });
    expect(writes).to.have.length(3);
    const capture = readCapture(Buffer.concat(writes));
    expect(capture.iface.snapLength).to.equal(128);
    expect(capture.packets.map((p) => [p.interfaceId, p.timestamp, p.capturedLength, p.originalLength, optionText(p.options, 1)])).to.deep.equal([
      [0, T, 42, 42, 'one'],
      [0, T + 1000n, 43, 100, 'two'],
    ]);
  });
});
