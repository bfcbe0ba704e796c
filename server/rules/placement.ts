/**
 * Which worker owns a rule: a stable hash of (group, port), so every packet of a flow is handled by
 * one worker (never reordered) and the placement is the same on every start and every host.
 * See docs/decisions/0004-rule-ids-and-placement.md.
 */
import { ipv4Bytes, parseIPv4 } from '../formats/addresses';

const FNV32_OFFSET_BASIS = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;

/** FNV-1a, 32 bits, over the group's 4 bytes in network order, then the port's 2 bytes (big-endian). */
export function stableHash(group: string, port: number): number {
  const address = parseIPv4(group);
  if (address === undefined) throw new TypeError(`stableHash: ${JSON.stringify(group)} is not an IPv4 address`);
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`stableHash: port ${port} is not 0-65535`);
  let hash = FNV32_OFFSET_BASIS;
  for (const byte of [...ipv4Bytes(address), port >>> 8, port & 0xff]) {
    hash = Math.imul(hash ^ byte, FNV32_PRIME) >>> 0;
  }
  return hash;
}

/**
 * The worker, 0..workers-1, that owns (group, port). The hash is reduced with its high bits
 * (floor(hash * workers / 2^32)) rather than `hash % workers`: FNV-1a's low k bits depend only on the
 * low k bits of each input byte, so with 2, 4 or 8 workers `%` would put every group that differs
 * only in higher bits (239.1.1.1, .5, .9, ... with the same even RTP port) on the same worker.
 */
export function workerFor(group: string, port: number, workers: number): number {
  if (!Number.isInteger(workers) || workers < 1 || workers > 0xffff) throw new RangeError(`workerFor: ${workers} workers`);
  // hash < 2^32 and workers < 2^16: the product is exact in a double.
  return Math.floor((stableHash(group, port) * workers) / 0x1_0000_0000);
}

/** What placement looks at in a rule's input. */
export interface PlacedInput {
  interface: string;
  group: string;
  port: number;
}

/**
 * Which worker owns each rule: workerFor over every worker, except for an input interface with a
 * CPU preference (mcrd --interface-cpus), whose rules are spread the same way over the workers on
 * those CPUs only. Every rule of one (interface, group, port) still lands on one worker, so each
 * capture socket's filter lists a (group, port) once and a flow is never split.
 * See docs/decisions/0014-cpu-placement.md.
 */
export class RulePlacement {
  /**
   * `interfaceWorkers`: interface -> the workers (indexes below `workers`, ascending, at least one)
   * its rules go to.
   */
  constructor(
    readonly workers: number,
    private readonly interfaceWorkers: ReadonlyMap<string, readonly number[]> = new Map(),
  ) {
    for (const [name, list] of interfaceWorkers) {
      if (list.length === 0 || list.some((w) => !Number.isInteger(w) || w < 0 || w >= workers)) {
        throw new RangeError(`RulePlacement: workers [${list.join(', ')}] of ${name} are not among 0-${workers - 1}`);
      }
    }
  }

  workerOf(input: PlacedInput): number {
    const subset = this.interfaceWorkers.get(input.interface);
    if (!subset) return workerFor(input.group, input.port, this.workers);
    return subset[workerFor(input.group, input.port, subset.length)];
  }
}
