/**
 * A pcapng writer (the PCAP Next Generation capture file format, draft-ietf-opsawg-pcapng), for what
 * mcrctl needs: one section, one interface with nanosecond timestamps, and an Enhanced Packet Block
 * per packet with an optional comment. The header (section and interface) is written once and each
 * packet as it comes, so that a capture can be read while it is being written
 * (`mcrctl trace RULE --pcap | wireshark -k -i -`).
 *
 * Every block is: block type (u32), block total length (u32), body, block total length again; the
 * body and every option value are padded with zeros to a multiple of 4 bytes. Options are a list of
 * (code u16, value length u16, value, padding) ended by opt_endofopt. Everything is written
 * little-endian; a reader learns that from the byte-order magic in the section header.
 */

const BLOCK_SECTION_HEADER = 0x0a0d0d0a;
const BLOCK_INTERFACE_DESCRIPTION = 0x00000001;
const BLOCK_ENHANCED_PACKET = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const VERSION_MAJOR = 1;
const VERSION_MINOR = 0;

/** Option codes: general, then of the section header, then of the interface description. */
const OPT_ENDOFOPT = 0;
const OPT_COMMENT = 1;
const SHB_USERAPPL = 4;
const IF_NAME = 2;
const IF_DESCRIPTION = 3;
const IF_TSRESOL = 9;
/** if_tsresol value: timestamps count units of 10^-9 s. */
const TSRESOL_NANOSECONDS = 9;

/** Link type of Ethernet frames (LINKTYPE_ETHERNET). */
export const LINKTYPE_ETHERNET = 1;

/** The largest option value: its length is a u16. */
const MAX_OPTION_BYTES = 0xffff;
const TRUNCATED_MARK = '...';

/** `data` followed by zeros up to the next multiple of 4 bytes. */
function padded(data: Uint8Array): Buffer {
  const out = Buffer.alloc((data.length + 3) & ~3);
  out.set(data);
  return out;
}

/** UTF-8 of `text`, cut at a character boundary (and marked) if it exceeds an option's maximum. */
function optionText(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= MAX_OPTION_BYTES) return bytes;
  const room = MAX_OPTION_BYTES - TRUNCATED_MARK.length;
  let kept = '';
  let size = 0;
  for (const char of text) {
    const charBytes = Buffer.byteLength(char, 'utf8');
    if (size + charBytes > room) break;
    kept += char;
    size += charBytes;
  }
  return Buffer.from(kept + TRUNCATED_MARK, 'utf8');
}

function option(code: number, value: Uint8Array): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16LE(code, 0);
  head.writeUInt16LE(value.length, 2);
  return Buffer.concat([head, padded(value)]);
}

/** The options area: the options given, then opt_endofopt; nothing at all when there are none. */
function optionList(options: ReadonlyArray<Buffer | undefined>): Buffer {
  const present = options.filter((o): o is Buffer => o !== undefined);
  return present.length === 0 ? Buffer.alloc(0) : Buffer.concat([...present, option(OPT_ENDOFOPT, Buffer.alloc(0))]);
}

function textOption(code: number, text: string | undefined): Buffer | undefined {
  return text === undefined || text === '' ? undefined : option(code, optionText(text));
}

/** A block of `type` around `body` (whose length is already a multiple of 4). */
function block(type: number, body: Buffer): Buffer {
  const total = body.length + 12;
  const out = Buffer.alloc(total);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(total, 4);
  body.copy(out, 8);
  out.writeUInt32LE(total, total - 4);
  return out;
}

function u32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`${what} must be an unsigned 32-bit integer, got ${value}`);
  return value;
}

export interface SectionOptions {
  /** The application that wrote the file (shb_userappl), e.g. "mcrctl 0.1.0". */
  application?: string;
}

/** A Section Header Block: byte-order magic, version 1.0, section length unknown (-1). */
export function sectionHeaderBlock(options: SectionOptions = {}): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  fixed.writeUInt16LE(VERSION_MAJOR, 4);
  fixed.writeUInt16LE(VERSION_MINOR, 6);
  fixed.writeBigInt64LE(-1n, 8);
  return block(BLOCK_SECTION_HEADER, Buffer.concat([fixed, optionList([textOption(SHB_USERAPPL, options.application)])]));
}

export interface InterfaceOptions {
  /** LINKTYPE_ value of the packets, e.g. LINKTYPE_ETHERNET. */
  linkType: number;
  /** The most bytes of a packet captured (0: no limit). */
  snapLength: number;
  /** if_name, e.g. the capture interface. */
  name?: string;
  /** if_description, free text. */
  description?: string;
}

/** An Interface Description Block whose timestamps are in nanoseconds (if_tsresol 9). */
export function interfaceDescriptionBlock(options: InterfaceOptions): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16LE(options.linkType, 0);
  fixed.writeUInt16LE(0, 2); // reserved
  fixed.writeUInt32LE(u32(options.snapLength, 'snapLength'), 4);
  const opts = optionList([
    textOption(IF_NAME, options.name),
    textOption(IF_DESCRIPTION, options.description),
    option(IF_TSRESOL, Buffer.from([TSRESOL_NANOSECONDS])),
  ]);
  return block(BLOCK_INTERFACE_DESCRIPTION, Buffer.concat([fixed, opts]));
}

export interface Packet {
  /** The interface's index in its section (0 for the first Interface Description Block). */
  interfaceId: number;
  /** Nanoseconds since the Unix epoch (the interface's resolution). */
  timestampNanos: bigint;
  /** The bytes captured: the first bytes of the packet, or all of it. */
  data: Uint8Array;
  /** The packet's length on the wire; at least data.length. */
  originalLength: number;
  /** opt_comment, shown by Wireshark as the packet comment. */
  comment?: string;
}

/** An Enhanced Packet Block. */
export function enhancedPacketBlock(packet: Packet): Buffer {
  if (packet.timestampNanos < 0n || packet.timestampNanos >= 1n << 64n) throw new RangeError(`timestampNanos must fit in 64 unsigned bits, got ${packet.timestampNanos}`);
  if (u32(packet.originalLength, 'originalLength') < packet.data.length) {
    throw new RangeError(`originalLength (${packet.originalLength}) is less than the ${packet.data.length} bytes captured`);
  }
  const fixed = Buffer.alloc(20);
  fixed.writeUInt32LE(u32(packet.interfaceId, 'interfaceId'), 0);
  fixed.writeUInt32LE(Number(packet.timestampNanos >> 32n), 4);
  fixed.writeUInt32LE(Number(packet.timestampNanos & 0xffffffffn), 8);
  fixed.writeUInt32LE(packet.data.length, 12);
  fixed.writeUInt32LE(packet.originalLength, 16);
  const body = Buffer.concat([fixed, padded(packet.data), optionList([textOption(OPT_COMMENT, packet.comment)])]);
  return block(BLOCK_ENHANCED_PACKET, body);
}

/**
 * A capture being written through `write`: the section header and the interface description are
 * written when it is opened, then one Enhanced Packet Block per packet() call, each in one write.
 */
export class PcapngStream {
  private constructor(private readonly write: (bytes: Buffer) => void) {}

  /** Writes the header (one section, one interface) and returns the stream for the packets. */
  static open(write: (bytes: Buffer) => void, section: SectionOptions, iface: InterfaceOptions): PcapngStream {
    write(Buffer.concat([sectionHeaderBlock(section), interfaceDescriptionBlock(iface)]));
    return new PcapngStream(write);
  }

  /** Writes a packet of the (only) interface. */
  packet(packet: Omit<Packet, 'interfaceId'>): void {
    this.write(enhancedPacketBlock({ ...packet, interfaceId: 0 }));
  }
}
