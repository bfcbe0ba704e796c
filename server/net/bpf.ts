/**
 * The kernel capture filter of a worker's AF_PACKET socket: a classic BPF program that admits only
 * frames addressed to the worker's (group, port) targets, so the worker never sees (or wakes for)
 * anything else. See docs/decisions/0003-capture-filter.md.
 *
 * The socket is SOCK_RAW, so offsets start at the Ethernet header. The program
 *   - drops frames the host sends itself (pkttype PACKET_OUTGOING: never relay our own output);
 *   - takes a frame's VLAN from the tag the kernel took out of it (0: untagged), and admits only
 *     VLANs the targets name (0 for rules without one: a tagged frame belongs to them only when a
 *     rule names its VLAN, docs/decisions/0061);
 *   - follows one in-band 802.1Q tag, then requires IPv4;
 *   - for UDP that is not a fragment and has a sane IHL, accepts only a listed (group, port);
 *   - for anything else to a listed group (fragments, other protocols, IHL < 5) accepts, so the data
 *     plane counts what it drops instead of the kernel hiding it, and relays ESP to a group with an
 *     ESP target (port 0, which no UDP lookup holds);
 *   - returns 0 (drop) for everything else.
 *
 * Conditional jumps (jt, jf) are 8-bit forward offsets, so the program is built from structured
 * pieces: `when` runs a block when a test holds and otherwise continues after it, using an unbounded
 * `ja` to skip blocks longer than 255 instructions; lookups are binary searches whose leaves are
 * short linear scans. Every jump is thereby in range by construction, and a packet costs
 * O(log targets) instructions. When the exact program would not fit in the kernel's 4096
 * instructions, a coarse one admits all IPv4 multicast and the data plane's exact match does the rest.
 */
import type { BpfInsn } from '../../native';
import { isMulticast, parseIPv4 } from '../formats/addresses';

export interface CaptureTarget {
  group: string;
  /** UDP destination port; 0: ESP to the group (admitted as any protocol but UDP to a listed group is). */
  port: number;
  /**
   * The rule's source ('' or absent: any). The classic program does not match sources (the data
   * plane does); the eBPF filter (capture-filter.ts) does.
   */
  source?: string;
  /** The rule's 802.1Q VLAN ID (absent or 0: untagged frames). */
  vlan?: number;
}

export interface CaptureFilter {
  program: BpfInsn[];
  /** False when the program is the coarse all-multicast one (the exact one did not fit). */
  exact: boolean;
}

// Classic BPF encoding (linux/filter.h, linux/bpf_common.h).
const BPF_LD = 0x00;
const BPF_LDX = 0x01;
const BPF_ST = 0x02;
const BPF_ALU = 0x04;
const BPF_JMP = 0x05;
const BPF_RET = 0x06;
const BPF_MISC = 0x07;
const BPF_W = 0x00;
const BPF_H = 0x08;
const BPF_B = 0x10;
const BPF_IMM = 0x00;
const BPF_ABS = 0x20;
const BPF_IND = 0x40;
const BPF_MEM = 0x60;
const BPF_ADD = 0x00;
const BPF_AND = 0x50;
const BPF_LSH = 0x60;
const BPF_JA = 0x00;
const BPF_JEQ = 0x10;
const BPF_JGT = 0x20;
const BPF_JGE = 0x30;
const BPF_JSET = 0x40;
const BPF_K = 0x00;
const BPF_X = 0x08;
const BPF_TAX = 0x00;

/** BPF_MAXINSNS. */
export const MAX_PROGRAM_LENGTH = 4096;
/** Largest jt/jf. */
const MAX_CONDITIONAL_JUMP = 255;

// Ancillary data, loaded with BPF_LD|BPF_ABS at SKF_AD_OFF (-0x1000, as the unsigned k) + n.
const SKF_AD_OFF = 0x1_0000_0000 - 0x1000;
const SKF_AD_PKTTYPE = 4;
const SKF_AD_VLAN_TAG = 28;
const SKF_AD_VLAN_TAG_PRESENT = 44;
const PACKET_OUTGOING = 4;

/** Return value that accepts a frame: the number of bytes kept, here any whole frame. */
export const ACCEPT = 0x40000;
const REJECT = 0;

// Frame layout. X holds the length of an in-band VLAN tag (0 or 4) from the Ethernet type on, so
// IPv4 fields are read with indirect loads at ETH_HLEN + field offset.
const ETH_HLEN = 14;
const ETH_TYPE = 12;
const VLAN_HLEN = 4;
const ETH_P_IP = 0x0800;
const ETH_P_8021Q = 0x8100;
const IP_VERSION_IHL = 0;
const IP_FRAGMENT = 6;
const IP_PROTOCOL = 9;
const IP_DESTINATION = 16;
const IP_MIN_IHL = 5;
/** MF flag and fragment offset: any of them set means a fragment. */
const IP_FRAGMENT_MASK = 0x3fff;
const IPPROTO_UDP = 17;
const UDP_DESTINATION_PORT = 2;
const MULTICAST_MASK = 0xf000_0000;
const MULTICAST_PREFIX = 0xe000_0000;
/** The VLAN ID bits of a tag control field (after priority and DEI). */
const VLAN_VID_MASK = 0x0fff;

// Scratch memory slots.
const M_DESTINATION = 0;
const M_PORT = 1;
const M_VLAN = 2;

/** Linear scans at the leaves of the binary searches: tried in order, shortest first (fastest per packet). */
const LEAF_SIZES = [8, 32, MAX_CONDITIONAL_JUMP];

const ret = (k: number): BpfInsn => [BPF_RET | BPF_K, 0, 0, k];
const ldAbs = (size: number, k: number): BpfInsn => [BPF_LD | size | BPF_ABS, 0, 0, k];
const ldInd = (size: number, k: number): BpfInsn => [BPF_LD | size | BPF_IND, 0, 0, k];
const ldMem = (slot: number): BpfInsn => [BPF_LD | BPF_W | BPF_MEM, 0, 0, slot];
const st = (slot: number): BpfInsn => [BPF_ST, 0, 0, slot];
const ldxImm = (k: number): BpfInsn => [BPF_LDX | BPF_W | BPF_IMM, 0, 0, k];
const alu = (op: number, k: number): BpfInsn => [BPF_ALU | op | BPF_K, 0, 0, k];
const aluX = (op: number): BpfInsn => [BPF_ALU | op | BPF_X, 0, 0, 0];
const tax = (): BpfInsn => [BPF_MISC | BPF_TAX, 0, 0, 0];
const ja = (distance: number): BpfInsn => [BPF_JMP | BPF_JA, 0, 0, distance];

/** Drops everything. */
export const DROP_ALL: BpfInsn[] = [ret(REJECT)];

/**
 * `if ((A op k) === holds) { block }`, continuing after the block when the test fails or the block
 * falls off its end. Blocks longer than a conditional jump can skip are skipped with `ja`.
 */
function when(op: number, k: number, block: BpfInsn[], holds = true): BpfInsn[] {
  const code = BPF_JMP | op | BPF_K;
  const n = block.length;
  if (n <= MAX_CONDITIONAL_JUMP) return [holds ? [code, 0, n, k] : [code, n, 0, k], ...block];
  // Into the block past the `ja` when the test comes out as wanted, else onto the `ja` over it.
  return [holds ? [code, 1, 0, k] : [code, 0, 1, k], ja(n), ...block];
}

/** Accepts when A is one of `values` (at most MAX_CONDITIONAL_JUMP of them), rejects otherwise. */
function anyOf(values: number[]): BpfInsn[] {
  const n = values.length;
  // The i-th test jumps n - i forward: past the rest of the tests and the reject, to the accept.
  return [...values.map((value, i): BpfInsn => [BPF_JMP | BPF_JEQ | BPF_K, n - i, 0, value]), ret(REJECT), ret(ACCEPT)];
}

/**
 * Binary search on A over `items` (sorted by key): splits with `jgt` until at most `leafSize` remain,
 * then runs `leaf` on them. Every leaf must end every path in a return.
 */
function bisect<T extends { key: number }>(items: T[], leafSize: number, leaf: (items: T[]) => BpfInsn[]): BpfInsn[] {
  if (items.length <= leafSize) return leaf(items);
  const middle = Math.ceil(items.length / 2);
  const low = items.slice(0, middle);
  const high = items.slice(middle);
  return [...when(BPF_JGT, low[low.length - 1].key, bisect(high, leafSize, leaf)), ...bisect(low, leafSize, leaf)];
}

/** Accepts when A is in `sorted` (ascending, unique), rejects otherwise. */
function member(sorted: number[], leafSize: number): BpfInsn[] {
  const keys = sorted.map((key) => ({ key }));
  return bisect(keys, leafSize, (items) => anyOf(items.map((item) => item.key)));
}

/** Runs the body of the case whose key A equals; rejects when there is none. */
function dispatch(cases: Array<{ key: number; body: BpfInsn[] }>, leafSize: number): BpfInsn[] {
  return bisect(cases, leafSize, (items) => [...items.flatMap(({ key, body }) => when(BPF_JEQ, key, body)), ret(REJECT)]);
}

/**
 * Rejects frames sent by this host and anything but IPv4 (after at most one in-band 802.1Q tag);
 * falls through for IPv4 with X = the in-band tag's length and M_VLAN = the frame's VLAN ID (the tag
 * the kernel took out of it; 0 when it had none).
 */
function ipv4Frames(): BpfInsn[] {
  return [
    ldAbs(BPF_W, SKF_AD_OFF + SKF_AD_PKTTYPE),
    ...when(BPF_JEQ, PACKET_OUTGOING, [ret(REJECT)]),
    ldAbs(BPF_W, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT),
    ...when(BPF_JEQ, 0, [ldAbs(BPF_W, SKF_AD_OFF + SKF_AD_VLAN_TAG), alu(BPF_AND, VLAN_VID_MASK)], false),
    st(M_VLAN),
    ldxImm(0),
    ldAbs(BPF_H, ETH_TYPE),
    ...when(BPF_JEQ, ETH_P_8021Q, [ldxImm(VLAN_HLEN), ldAbs(BPF_H, ETH_TYPE + VLAN_HLEN)]),
    ...when(BPF_JEQ, ETH_P_IP, [ret(REJECT)], false),
  ];
}

/** Targets as numbers, deduplicated, grouped by the outer key: group -> ports or port -> groups. */
type Index = Map<number, Set<number>>;

/** A target as numbers: group, port, VLAN ID (0: untagged). */
type Target = [group: number, port: number, vlan: number];

function index(targets: Target[], byPort: boolean): Index {
  const result: Index = new Map();
  for (const [group, port] of targets) {
    const [outer, inner] = byPort ? [port, group] : [group, port];
    let set = result.get(outer);
    if (!set) result.set(outer, (set = new Set()));
    set.add(inner);
  }
  return result;
}

const ascending = (values: Iterable<number>): number[] => [...values].sort((a, b) => a - b);

/** Runs `body` with the targets of the frame's VLAN; rejects a frame of a VLAN no target names. */
function byVlan(targets: Target[], leafSize: number, body: (targets: Target[]) => BpfInsn[]): BpfInsn[] {
  const vlans = new Map<number, Target[]>();
  for (const target of targets) {
    const list = vlans.get(target[2]);
    if (list) list.push(target);
    else vlans.set(target[2], [target]);
  }
  const cases = ascending(vlans.keys()).map((key) => ({ key, body: body(vlans.get(key)!) }));
  return [...ipv4Frames(), ldMem(M_VLAN), ...dispatch(cases, leafSize)];
}

/**
 * The exact program. UDP is looked up by group then port (`byPort` false) or by port then group;
 * which is shorter depends on the targets (few groups with many ports, or many groups on few ports).
 */
function exactProgram(targets: Target[], byPort: boolean, leafSize: number): BpfInsn[] {
  return byVlan(targets, leafSize, (ofVlan) => exactForVlan(ofVlan, byPort, leafSize));
}

/** exactProgram's body for the targets of one VLAN. */
function exactForVlan(targets: Target[], byPort: boolean, leafSize: number): BpfInsn[] {
  const lookup = index(
    targets.filter(([, port]) => port !== 0),
    byPort,
  );
  const [outerSlot, innerSlot] = byPort ? [M_PORT, M_DESTINATION] : [M_DESTINATION, M_PORT];
  const cases = ascending(lookup.keys()).map((key) => ({
    key,
    body: [ldMem(innerSlot), ...member(ascending(lookup.get(key)!), leafSize)],
  }));
  const groups = ascending(new Set(targets.map(([group]) => group)));

  const udpToTarget = [
    alu(BPF_LSH, 2), // A = IP header length (IHL * 4)
    aluX(BPF_ADD), // + X, the in-band VLAN tag's length
    tax(), // X = offset of the UDP header, counted from ETH_HLEN
    ldInd(BPF_H, ETH_HLEN + UDP_DESTINATION_PORT),
    st(M_PORT),
    ldMem(outerSlot),
    ...dispatch(cases, leafSize),
  ];
  const udp = [
    ldInd(BPF_H, ETH_HLEN + IP_FRAGMENT),
    ...when(
      BPF_JSET,
      IP_FRAGMENT_MASK,
      [ldInd(BPF_B, ETH_HLEN + IP_VERSION_IHL), alu(BPF_AND, 0x0f), ...when(BPF_JGE, IP_MIN_IHL, udpToTarget)],
      false,
    ),
  ];
  return [
    ldInd(BPF_W, ETH_HLEN + IP_DESTINATION),
    st(M_DESTINATION),
    ldInd(BPF_B, ETH_HLEN + IP_PROTOCOL),
    // UDP that is not a fragment and has a usable header returns inside this block ...
    ...when(BPF_JEQ, IPPROTO_UDP, udp),
    // ... everything else to one of the groups is the data plane's to count.
    ldMem(M_DESTINATION),
    ...member(groups, leafSize),
  ];
}

/** Any IPv4 to 224.0.0.0/4 in a VLAN the targets name, still without outgoing frames. */
function coarseProgram(targets: Target[]): BpfInsn[] {
  return byVlan(targets, MAX_CONDITIONAL_JUMP, () => [
    ldInd(BPF_W, ETH_HLEN + IP_DESTINATION),
    alu(BPF_AND, MULTICAST_MASK),
    ...when(BPF_JEQ, MULTICAST_PREFIX, [ret(ACCEPT)]),
    ret(REJECT),
  ]);
}

function parseTarget({ group, port, vlan }: CaptureTarget): Target {
  const address = parseIPv4(group);
  if (address === undefined || !isMulticast(address)) throw new TypeError(`capture target group ${JSON.stringify(group)} is not an IPv4 multicast address`);
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`capture target port ${port} is not 0-65535`);
  if (vlan !== undefined && (!Number.isInteger(vlan) || vlan < 0 || vlan > 4094)) throw new RangeError(`capture target VLAN ${vlan} is not 0-4094`);
  return [address, port, vlan ?? 0];
}

/** The filter admitting exactly `targets` (duplicates allowed), or the coarse one when that is too long. */
export function buildCaptureFilter(targets: CaptureTarget[]): CaptureFilter {
  if (targets.length === 0) return { program: DROP_ALL.map((insn): BpfInsn => [...insn]), exact: true };
  const parsed = targets.map(parseTarget);
  for (const leafSize of LEAF_SIZES) {
    const [byGroup, byPort] = [exactProgram(parsed, false, leafSize), exactProgram(parsed, true, leafSize)];
    const shorter = byPort.length < byGroup.length ? byPort : byGroup;
    if (shorter.length <= MAX_PROGRAM_LENGTH) return { program: shorter, exact: true };
  }
  return { program: coarseProgram(parsed), exact: false };
}
