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
 *   - follows one in-band 802.1Q tag, then requires IPv4 (or IPv6, if some target is IPv6);
 *   - for IPv4 UDP that is not a fragment and has a sane IHL, accepts only a listed (group, port);
 *   - for IPv6 whose next header right after the fixed header is UDP, accepts only a listed (group,
 *     port): extension headers are not walked here (the eBPF filter walks them), so a packet with any
 *     is admitted by its group alone (docs/decisions/0066);
 *   - for anything else to a listed group (fragments, other protocols, IHL < 5) accepts, so the data
 *     plane counts what it drops instead of the kernel hiding it, and relays ESP to a group with an
 *     ESP target (port 0, which no UDP lookup holds);
 *   - returns 0 (drop) for everything else.
 *
 * Conditional jumps (jt, jf) are 8-bit forward offsets, so the program is built from structured
 * pieces: `when` runs a block when a test holds and otherwise continues after it, using an unbounded
 * `ja` to skip blocks longer than 255 instructions; lookups are binary searches whose leaves are
 * short linear scans. Every jump is thereby in range by construction, and a packet costs
 * O(log targets) instructions; an IPv6 group is found word by word (a trie of such searches). When
 * the exact program would not fit in the kernel's 4096 instructions, a coarse one admits all IPv4
 * multicast (and all IPv6 multicast, ff00::/8, if some target is IPv6) and the data plane's exact
 * match does the rest.
 */
import type { BpfInsn } from '../../native';
import { isMulticast, isUnicast, parseIPv4 } from '../formats/addresses';
import { familyOfText, type IpFamily } from '../formats/ip-address';
import { formatIPv6, ipv6Words, isMulticast6, isUnspecified6, parseIPv6 } from '../formats/ipv6';

export interface CaptureTarget {
  /** A multicast group: IPv4 dotted quad, or IPv6 in canonical text (RFC 5952). */
  group: string;
  /** UDP destination port; 0: ESP to the group (admitted as any protocol but UDP to a listed group is). */
  port: number;
  /**
   * The rule's source ('' or absent: any), of the group's family. The classic program does not match
   * sources (the data plane does); the eBPF filter (capture-filter.ts) does.
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

/**
 * A target's address as both filters compare it (here and capture-filter.ts): an IPv4 dotted quad as
 * one 32-bit word, an IPv6 address as four (each four of its bytes read big-endian), which is how
 * both filters load and store them. See docs/decisions/0066.
 */
export interface CaptureAddress {
  family: IpFamily;
  words: number[];
}

/**
 * The bytes of the IPv6 address `text` (server/formats/ipv6.ts) if it is written canonically (RFC
 * 5952), else undefined. The filters key their books by the targets' own strings, so two spellings
 * of one address would be two keys of which removing one would unadmit the other: the rules hand
 * canonical text over, and anything else is refused rather than silently doubled (formatIPv6 never
 * writes the embedded-IPv4 forms, which no group and no source a rule can name needs).
 */
function canonicalIPv6(text: string): Uint8Array | undefined {
  const bytes = parseIPv6(text);
  return bytes !== undefined && formatIPv6(bytes) === text ? bytes : undefined;
}

/** A target's group: IPv4 (dotted quad) or IPv6 (canonical) multicast; TypeError otherwise. */
export function captureGroup(text: string): CaptureAddress {
  if (familyOfText(text) === 6) {
    const bytes = canonicalIPv6(text);
    if (bytes === undefined || !isMulticast6(bytes)) throw new TypeError(`capture target group ${JSON.stringify(text)} is not an IPv6 multicast address in canonical form`);
    return { family: 6, words: Array.from(ipv6Words(bytes)) };
  }
  const address = parseIPv4(text);
  if (address === undefined || !isMulticast(address)) throw new TypeError(`capture target group ${JSON.stringify(text)} is not an IPv4 multicast address`);
  return { family: 4, words: [address] };
}

/** A target's source ('': any, all words 0) in its group's family; TypeError unless a unicast address of it. */
export function captureSource(text: string, family: IpFamily): number[] {
  if (family === 4) {
    if (!text) return [0];
    const address = parseIPv4(text);
    if (address === undefined || !isUnicast(address)) throw new TypeError(`capture target source ${JSON.stringify(text)} is not a unicast IPv4 address`);
    return [address];
  }
  if (!text) return [0, 0, 0, 0];
  const bytes = canonicalIPv6(text);
  if (bytes === undefined || isMulticast6(bytes) || isUnspecified6(bytes)) {
    throw new TypeError(`capture target source ${JSON.stringify(text)} is not a unicast IPv6 address in canonical form`);
  }
  return Array.from(ipv6Words(bytes));
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
const SKF_AD_VLAN_TAG = 44;
const SKF_AD_VLAN_TAG_PRESENT = 48;
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
const ETH_P_IPV6 = 0x86dd;
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
// IPv6 fixed header fields; its destination is loaded one 32-bit word at a time.
const IP6_NEXT_HEADER = 6;
const IP6_DESTINATION = 24;
const IP6_HEADER = 40;
/** The first byte of an IPv6 multicast address (ff00::/8). */
const IP6_MULTICAST_BYTE = 0xff;
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
 * Rejects frames sent by this host; leaves A = the ethertype after at most one in-band 802.1Q tag,
 * X = the in-band tag's length and M_VLAN = the frame's VLAN ID (the tag the kernel took out of it; 0
 * when it had none).
 */
function linkHeader(): BpfInsn[] {
  return [
    ldAbs(BPF_W, SKF_AD_OFF + SKF_AD_PKTTYPE),
    ...when(BPF_JEQ, PACKET_OUTGOING, [ret(REJECT)]),
    ldAbs(BPF_W, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT),
    ...when(BPF_JEQ, 0, [ldAbs(BPF_W, SKF_AD_OFF + SKF_AD_VLAN_TAG), alu(BPF_AND, VLAN_VID_MASK)], false),
    st(M_VLAN),
    ldxImm(0),
    ldAbs(BPF_H, ETH_TYPE),
    ...when(BPF_JEQ, ETH_P_8021Q, [ldxImm(VLAN_HLEN), ldAbs(BPF_H, ETH_TYPE + VLAN_HLEN)]),
  ];
}

/** Targets as numbers, deduplicated, grouped by the outer key: group -> ports or port -> groups. */
type Index = Map<number, Set<number>>;

/** A target as numbers: group, port, VLAN ID (0: untagged). */
type Target = [group: number, port: number, vlan: number];
/** An IPv6 target: the group's four words (bytes read big-endian), port, VLAN ID. */
type Target6 = [group: number[], port: number, vlan: number];

/** Both families' targets of one program. */
interface Targets {
  v4: Target[];
  v6: Target6[];
}

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

/** `items` by `keyOf`, each list in the order of `items`. */
function groupBy<T, K>(items: Iterable<T>, keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const list = groups.get(key);
    if (list) list.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/** Each VLAN's targets' case, whose body `body` makes from them: for a dispatch on the frame's VLAN. */
function vlanCases<T extends Target | Target6>(targets: T[], body: (ofVlan: T[]) => BpfInsn[]): Array<{ key: number; body: BpfInsn[] }> {
  const vlans = groupBy(targets, (target) => target[2]);
  return ascending(vlans.keys()).map((key) => ({ key, body: body(vlans.get(key)!) }));
}

/**
 * A whole program: each family's frames run the body of their VLAN's targets of that family; frames
 * of a VLAN (or family) no target names are rejected. Without IPv6 targets, IPv6 is rejected with
 * everything else that is not IPv4, as before IPv6 targets existed (the same program).
 */
function program(targets: Targets, leafSize: number, v4: (ofVlan: Target[]) => BpfInsn[], v6: (ofVlan: Target6[]) => BpfInsn[]): BpfInsn[] {
  const ipv6 = targets.v6.length === 0 ? [] : when(BPF_JEQ, ETH_P_IPV6, [ldMem(M_VLAN), ...dispatch(vlanCases(targets.v6, v6), leafSize)]);
  return [...linkHeader(), ...ipv6, ...when(BPF_JEQ, ETH_P_IP, [ret(REJECT)], false), ldMem(M_VLAN), ...dispatch(vlanCases(targets.v4, v4), leafSize)];
}

/** exactProgram's IPv4 body for the targets of one VLAN. */
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

/** An IPv6 group and what to run when it is the frame's destination (no body: accept it). */
interface GroupCase {
  words: number[];
  body?: BpfInsn[];
}

/**
 * Runs the body of the case whose group is the frame's IPv6 destination, rejects when none is; with
 * no bodies (`cases` of groups alone), accepts a member. The destination is read a word at a time:
 * the words all `cases` share are compared once, then the one with the most distinct values is
 * searched (binary search) and each branch goes on with the words left. Groups of one prefix (which
 * share all but their group ID) then cost one search, as IPv4 groups do, and a program about as
 * long. `cases` are distinct groups, all with bodies or none.
 */
function groupLookup(cases: GroupCase[], leafSize: number, words: readonly number[] = [0, 1, 2, 3]): BpfInsn[] {
  const load = (word: number) => ldInd(BPF_W, ETH_HLEN + IP6_DESTINATION + 4 * word);
  const byWord = new Map(words.map((word) => [word, groupBy(cases, (c) => c.words[word])]));
  const shared = words.filter((word) => byWord.get(word)!.size === 1);
  const checks = shared.flatMap((word) => [load(word), ...when(BPF_JEQ, cases[0].words[word], [ret(REJECT)], false)]);
  const rest = words.filter((word) => byWord.get(word)!.size > 1);
  if (rest.length === 0) return [...checks, ...(cases[0].body ?? [ret(ACCEPT)])];
  const word = rest.reduce((best, w) => (byWord.get(w)!.size > byWord.get(best)!.size ? w : best));
  const branches = byWord.get(word)!;
  const values = ascending(branches.keys());
  if (rest.length === 1 && !cases[0].body) return [...checks, load(word), ...member(values, leafSize)];
  const others = rest.filter((w) => w !== word);
  return [...checks, load(word), ...dispatch(values.map((key) => ({ key, body: groupLookup(branches.get(key)!, leafSize, others) })), leafSize)];
}

/** The distinct groups of `targets`, each with its targets. */
const byGroup6 = (targets: Target6[]) => groupBy(targets, ([words]) => words.join(':'));

/** exactProgram's IPv6 body for the targets of one VLAN: as IPv4's, with UDP only right after the fixed header. */
function exact6ForVlan(targets: Target6[], byPort: boolean, leafSize: number): BpfInsn[] {
  const udpTargets = targets.filter(([, port]) => port !== 0);
  const loadPort = ldInd(BPF_H, ETH_HLEN + IP6_HEADER + UDP_DESTINATION_PORT);
  const groupsOf = (list: Target6[]): GroupCase[] => [...byGroup6(list).values()].map(([[words]]) => ({ words }));
  const portsOf = (list: Target6[]) => ascending(new Set(list.map(([, port]) => port)));
  const udp = byPort
    ? [loadPort, ...dispatch([...groupBy(udpTargets, ([, port]) => port)].sort(([a], [b]) => a - b).map(([key, list]) => ({ key, body: groupLookup(groupsOf(list), leafSize) })), leafSize)]
    : groupLookup([...byGroup6(udpTargets).values()].map((list) => ({ words: list[0][0], body: [loadPort, ...member(portsOf(list), leafSize)] })), leafSize);
  return [
    ldInd(BPF_B, ETH_HLEN + IP6_NEXT_HEADER),
    // UDP right after the fixed header returns inside this block ...
    ...when(BPF_JEQ, IPPROTO_UDP, udp),
    // ... everything else to one of the groups (extension headers included) is the data plane's.
    ...groupLookup(groupsOf(targets), leafSize),
  ];
}

/**
 * The exact program. UDP is looked up by group then port (`byPort` false) or by port then group;
 * which is shorter depends on the targets (few groups with many ports, or many groups on few ports).
 */
function exactProgram(targets: Targets, byPort: boolean, byPort6: boolean, leafSize: number): BpfInsn[] {
  return program(
    targets,
    leafSize,
    (ofVlan) => exactForVlan(ofVlan, byPort, leafSize),
    (ofVlan) => exact6ForVlan(ofVlan, byPort6, leafSize),
  );
}

/** Any IPv4 to 224.0.0.0/4 (and IPv6 to ff00::/8) in a VLAN the targets of its family name, still without outgoing frames. */
function coarseProgram(targets: Targets): BpfInsn[] {
  return program(
    targets,
    MAX_CONDITIONAL_JUMP,
    () => [ldInd(BPF_W, ETH_HLEN + IP_DESTINATION), alu(BPF_AND, MULTICAST_MASK), ...when(BPF_JEQ, MULTICAST_PREFIX, [ret(ACCEPT)]), ret(REJECT)],
    () => [ldInd(BPF_B, ETH_HLEN + IP6_DESTINATION), ...when(BPF_JEQ, IP6_MULTICAST_BYTE, [ret(ACCEPT)]), ret(REJECT)],
  );
}

function parseTargets(targets: CaptureTarget[]): Targets {
  const parsed: Targets = { v4: [], v6: [] };
  for (const { group, port, vlan } of targets) {
    const address = captureGroup(group);
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`capture target port ${port} is not 0-65535`);
    if (vlan !== undefined && (!Number.isInteger(vlan) || vlan < 0 || vlan > 4094)) throw new RangeError(`capture target VLAN ${vlan} is not 0-4094`);
    if (address.family === 4) parsed.v4.push([address.words[0], port, vlan ?? 0]);
    else parsed.v6.push([address.words, port, vlan ?? 0]);
  }
  return parsed;
}

/** The filter admitting exactly `targets` (duplicates allowed), or the coarse one when that is too long. */
export function buildCaptureFilter(targets: CaptureTarget[]): CaptureFilter {
  if (targets.length === 0) return { program: DROP_ALL.map((insn): BpfInsn => [...insn]), exact: true };
  const parsed = parseTargets(targets);
  // Which lookup order is shorter, for each family (IPv6's only matters when it has targets).
  const orders = parsed.v6.length === 0 ? [[false, false], [true, false]] : [[false, false], [true, false], [false, true], [true, true]];
  for (const leafSize of LEAF_SIZES) {
    let shortest: BpfInsn[] | undefined;
    for (const [byPort, byPort6] of orders) {
      const candidate = exactProgram(parsed, byPort, byPort6, leafSize);
      if (!shortest || candidate.length < shortest.length) shortest = candidate;
    }
    if (shortest!.length <= MAX_PROGRAM_LENGTH) return { program: shortest!, exact: true };
  }
  return { program: coarseProgram(parsed), exact: false };
}
