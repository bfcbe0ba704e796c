/**
 * The supervisor's side of a worker's counter region (native/dataplane/counter_region.h): a shared
 * memory region mcrd creates for each worker process and hands over with its sockets; the data plane
 * writes the counters there, mcrd reads them there without asking the worker, and they survive the
 * worker. Slots are allocated here: one per rule, one per output of a rule, two per input.
 *
 * Reads are exact: a counter is a little-endian uint64 read as two halves (high, low, high again
 * until the high half is stable) into a Number (exact up to 2^53: 28 years at 10 million per second).
 */
import type { Native } from '../../native';

/** 64-byte slots: 16 uint32 halves. */
const SLOT_HALVES = 16;

/** Word offsets in slot 0 (RegionHeader). */
const HEADER = { heartbeatNs: 2, quiescedEpoch: 3, loops: 4 } as const;

/** Word offsets of a rule's counters (RuleCounters). */
export const RULE_WORDS = { packets: 0, bytes: 1, forwarded: 2, sendFailed: 3, lastPacketNs: 4 } as const;
/** Word offsets of an output's counters (OutputCounters). */
export const OUTPUT_WORDS = { packets: 0, bytes: 1, errWouldBlock: 2, errUnreachable: 3, errOther: 4, ttlExpired: 5, fragmented: 6, tooBig: 7 } as const;
/** Word offsets of an input's counters (InputCounters: rejected[] indexed by ParseStatus, 0 unused). */
export const INPUT_WORDS = {
  frames: 0,
  bytes: 1,
  unmatched: 2,
  truncated: 4,
  notIpv4: 5,
  badHeader: 6,
  badLength: 7,
  fragment: 8,
  notUdp: 9,
  mergedFrames: 10,
  mergedDatagrams: 11,
} as const;

export const RULE_FIELDS = 5;
export const OUTPUT_FIELDS = 8;
export const INPUT_FIELDS = 12;

/**
 * Slots per region: 2^23 (512 MiB of address space, sparse: a page costs memory only once written).
 * 100,000 rules of 64 outputs split over two workers need 3.25 million.
 */
export const REGION_SLOTS = 1 << 23;

export class CounterRegion {
  readonly slots: number;
  private readonly halves: Uint32Array;
  private next = 1;
  private readonly free: number[] = [];
  private readonly freePairs: number[] = [];
  private fd?: number;

  constructor(
    private readonly addon: Native,
    slots = REGION_SLOTS,
  ) {
    const { fd, buffer } = addon.createCounterRegion(slots);
    this.fd = fd;
    this.slots = slots;
    this.halves = new Uint32Array(buffer);
  }

  /** The memfd to hand to the worker; closeFd() once handed over (the mapping stays). */
  get handle(): number {
    if (this.fd === undefined) throw new Error('the counter region fd is closed');
    return this.fd;
  }

  closeFd(): void {
    if (this.fd !== undefined) this.addon.closeFd(this.fd);
    this.fd = undefined;
  }

  /** Slots in use (allocated and not released). */
  get used(): number {
    return this.next - 1 - this.free.length - 2 * this.freePairs.length;
  }

  /** A zeroed slot, or undefined when the region is full. */
  allocate(): number | undefined {
    if (this.free.length > 0) return this.free.pop();
    if (this.next >= this.slots) return undefined;
    return this.next++;
  }

  /** Two consecutive zeroed slots (an input's), or undefined when the region is full. */
  allocatePair(): number | undefined {
    if (this.freePairs.length > 0) return this.freePairs.pop();
    if (this.next + 1 >= this.slots) return undefined;
    const slot = this.next;
    this.next += 2;
    return slot;
  }

  /** Zeroes and frees a slot (or a pair): only once no table the data plane may use names it. */
  release(slot: number, pair = false): void {
    this.halves.fill(0, slot * SLOT_HALVES, (slot + (pair ? 2 : 1)) * SLOT_HALVES);
    (pair ? this.freePairs : this.free).push(slot);
  }

  /** Counter `word` of `slot`. */
  read(slot: number, word: number): number {
    const i = slot * SLOT_HALVES + word * 2;
    const h = this.halves;
    let high = h[i + 1];
    for (;;) {
      const low = h[i];
      const again = h[i + 1];
      if (again === high) return high * 0x1_0000_0000 + low;
      high = again;
    }
  }

  /** Whether the `count` counters of `slot` from word 0 on are all zero (nothing was counted). */
  isZero(slot: number, count: number): boolean {
    const start = slot * SLOT_HALVES;
    for (let i = start; i < start + count * 2; i++) if (this.halves[i] !== 0) return false;
    return true;
  }

  /** `count` counters of `slot` from word 0 on, added into `into` (or max for the words in `maxWords`). */
  addInto(slot: number, count: number, into: number[], maxWord = -1): void {
    for (let w = 0; w < count; w++) {
      const value = this.read(slot, w);
      into[w] = w === maxWord ? Math.max(into[w], value) : into[w] + value;
    }
  }

  /** CLOCK_MONOTONIC (ns) of the data-plane loop's last turn; 0 before its first. */
  get heartbeatNs(): number {
    return this.read(0, HEADER.heartbeatNs);
  }

  /** The reclaimer epoch the data-plane loop last passed a quiescent point at. */
  get quiescedEpoch(): number {
    return this.read(0, HEADER.quiescedEpoch);
  }

  /** Turns of the data-plane loop so far. */
  get loops(): number {
    return this.read(0, HEADER.loops);
  }
}
