/**
 * A strict little-endian pcapng reader for the tests of the writer (mcrctl trace --pcap): it splits a
 * file into blocks and decodes the three kinds mcrctl writes, and throws on anything malformed (a
 * block whose two length fields differ, a length not a multiple of 4, non-zero padding, options
 * without opt_endofopt) so that a test reading the bytes back also checks their layout.
 */

export const SECTION_HEADER = 0x0a0d0d0a;
export const INTERFACE_DESCRIPTION = 0x00000001;
export const ENHANCED_PACKET = 0x00000006;

export interface RawBlock {
  type: number;
  /** Offset of the block in the file. */
  offset: number;
  totalLength: number;
  /** The bytes between the leading length field and the trailing one. */
  body: Buffer;
}

export interface PcapngOption {
  code: number;
  value: Buffer;
}

export interface SectionHeader {
  magic: number;
  major: number;
  minor: number;
  sectionLength: bigint;
  options: PcapngOption[];
}

export interface InterfaceDescription {
  linkType: number;
  snapLength: number;
  options: PcapngOption[];
}

export interface EnhancedPacket {
  interfaceId: number;
  timestampHigh: number;
  timestampLow: number;
  /** (high << 32) | low. */
  timestamp: bigint;
  capturedLength: number;
  originalLength: number;
  data: Buffer;
  /** The bytes after the data up to the options: must be zeros. */
  padding: Buffer;
  options: PcapngOption[];
}

/** Splits `bytes` into blocks, checking each one's framing. */
export function readBlocks(bytes: Buffer): RawBlock[] {
  const blocks: RawBlock[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < 12) throw new Error(`${bytes.length - offset} trailing bytes at ${offset}: too short for a block`);
    const type = bytes.readUInt32LE(offset);
    const totalLength = bytes.readUInt32LE(offset + 4);
    if (totalLength % 4 !== 0 || totalLength < 12) throw new Error(`block at ${offset}: total length ${totalLength} is not a multiple of 4 of at least 12`);
    if (offset + totalLength > bytes.length) throw new Error(`block at ${offset}: total length ${totalLength} runs past the end (${bytes.length})`);
    const trailing = bytes.readUInt32LE(offset + totalLength - 4);
    if (trailing !== totalLength) throw new Error(`block at ${offset}: leading length ${totalLength}, trailing length ${trailing}`);
    blocks.push({ type, offset, totalLength, body: bytes.subarray(offset + 8, offset + totalLength - 4) });
    offset += totalLength;
  }
  return blocks;
}

function zeros(bytes: Buffer, what: string): void {
  if (bytes.some((b) => b !== 0)) throw new Error(`${what}: padding is not zeros: ${bytes.toString('hex')}`);
}

/** Decodes an options area (possibly empty); it must end with opt_endofopt exactly at its end. */
export function readOptions(area: Buffer): PcapngOption[] {
  const options: PcapngOption[] = [];
  if (area.length === 0) return options;
  let offset = 0;
  for (;;) {
    if (area.length - offset < 4) throw new Error(`options end without opt_endofopt at ${offset} of ${area.length}`);
    const code = area.readUInt16LE(offset);
    const length = area.readUInt16LE(offset + 2);
    if (code === 0) {
      if (length !== 0 || offset + 4 !== area.length) throw new Error(`opt_endofopt at ${offset} has length ${length} or is not last (${area.length})`);
      return options;
    }
    const paddedLength = (length + 3) & ~3;
    if (offset + 4 + paddedLength > area.length) throw new Error(`option ${code} at ${offset} runs past its block`);
    options.push({ code, value: area.subarray(offset + 4, offset + 4 + length) });
    zeros(area.subarray(offset + 4 + length, offset + 4 + paddedLength), `option ${code}`);
    offset += 4 + paddedLength;
  }
}

export function readSectionHeader(block: RawBlock): SectionHeader {
  if (block.type !== SECTION_HEADER) throw new Error(`block at ${block.offset} is type 0x${block.type.toString(16)}, not a section header`);
  const b = block.body;
  return { magic: b.readUInt32LE(0), major: b.readUInt16LE(4), minor: b.readUInt16LE(6), sectionLength: b.readBigInt64LE(8), options: readOptions(b.subarray(16)) };
}

export function readInterfaceDescription(block: RawBlock): InterfaceDescription {
  if (block.type !== INTERFACE_DESCRIPTION) throw new Error(`block at ${block.offset} is type 0x${block.type.toString(16)}, not an interface description`);
  const b = block.body;
  if (b.readUInt16LE(2) !== 0) throw new Error('interface description: reserved field is not 0');
  return { linkType: b.readUInt16LE(0), snapLength: b.readUInt32LE(4), options: readOptions(b.subarray(8)) };
}

export function readEnhancedPacket(block: RawBlock): EnhancedPacket {
  if (block.type !== ENHANCED_PACKET) throw new Error(`block at ${block.offset} is type 0x${block.type.toString(16)}, not an enhanced packet`);
  const b = block.body;
  const capturedLength = b.readUInt32LE(12);
  const dataEnd = 20 + capturedLength;
  const paddedEnd = 20 + ((capturedLength + 3) & ~3);
  if (paddedEnd > b.length) throw new Error(`enhanced packet at ${block.offset}: captured length ${capturedLength} runs past the block`);
  const timestampHigh = b.readUInt32LE(4);
  const timestampLow = b.readUInt32LE(8);
  const padding = b.subarray(dataEnd, paddedEnd);
  zeros(padding, `packet data at ${block.offset}`);
  return {
    interfaceId: b.readUInt32LE(0),
    timestampHigh,
    timestampLow,
    timestamp: (BigInt(timestampHigh) << 32n) | BigInt(timestampLow),
    capturedLength,
    originalLength: b.readUInt32LE(16),
    data: b.subarray(20, dataEnd),
    padding,
    options: readOptions(b.subarray(paddedEnd)),
  };
}

/** The text of the first option with `code`, or undefined. */
export function optionText(options: readonly PcapngOption[], code: number): string | undefined {
  return options.find((o) => o.code === code)?.value.toString('utf8');
}

/** A whole capture as mcrctl writes it: one section header, one interface, then packets. */
export function readCapture(bytes: Buffer): { section: SectionHeader; iface: InterfaceDescription; packets: EnhancedPacket[] } {
  const [first, second, ...rest] = readBlocks(bytes);
  if (!first || !second) throw new Error(`a capture needs a section header and an interface description; got ${bytes.length} bytes`);
  return { section: readSectionHeader(first), iface: readInterfaceDescription(second), packets: rest.map(readEnhancedPacket) };
}
