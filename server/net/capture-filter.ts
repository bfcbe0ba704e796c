/**
 * The capture filters of the supervisor's AF_PACKET sockets, whichever kind the kernel takes.
 *
 * - eBPF (preferred): one BPF_PROG_TYPE_SOCKET_FILTER program per socket (native/sockets/ebpf_filter.cc)
 *   looking (group, port, source), (group, port, any) and (group: any protocol but UDP, ESP included) up in a hash map this class keeps in
 *   step with the socket's targets by adding and deleting single keys, so the kernel matches exactly
 *   at any rule count and a change never touches the keys of other flows. IPv6 targets' keys live in
 *   a second map, made (with a program that reads IPv6) when a socket gets its first IPv6 target, so
 *   that IPv4 keys stay 12 bytes (docs/decisions/0066). A map that would overflow (or is missing) is
 *   replaced by a larger one, filled before its program is swapped in (SO_ATTACH_BPF is atomic).
 * - classic (fallback): the generated program of bpf.ts, exact up to 4096 instructions, beyond that
 *   admitting all multicast of the targets' families.
 *
 * Which kind is used is decided once per process by trying it (creating a map, loading the program),
 * not assumed: a kernel without the bpf() syscall, a seccomp'd container or a verifier refusal selects
 * classic, logged once with the reason and exposed as mcr_capture_filter_info. MCR_CAPTURE_FILTER=classic
 * forces classic (a diagnostic). Only the supervisor calls bpf(); a worker only reads the filtered socket.
 * See docs/decisions/0028-ebpf-capture-filter.md and 0029-capture-filter-fallback.md.
 */
import type { Native } from '../../native';
import { familyOfText, type IpFamily } from '../formats/ip-address';
import { logger } from '../log';
import { buildCaptureFilter, captureGroup, captureSource, CaptureTarget } from './bpf';

export type CaptureFilterKind = 'ebpf' | 'classic';

export interface CaptureFilterChoice {
  kind: CaptureFilterKind;
  /** Bounded, for the metric: why this kind. */
  reason: 'supported' | 'forced' | 'unsupported';
  /** For the log: the refusal's message, or what forced it. */
  detail: string;
}

/** Diagnostic: `classic` makes mcrd use the classic program even where eBPF works. */
export const CAPTURE_FILTER_ENV = 'MCR_CAPTURE_FILTER';

/** Smallest map capacity (keys); a map is sized at twice its keys, rounded up to a power of two. */
const MIN_CAPACITY = 1024;

const log = logger('net');

/** Tries what the eBPF filter needs (a map and the program on it) and says which kind to use. */
export function probeCaptureFilter(addon: Native, env: NodeJS.ProcessEnv = process.env): CaptureFilterChoice {
  const forced = env[CAPTURE_FILTER_ENV];
  if (forced === 'classic') return { kind: 'classic', reason: 'forced', detail: `${CAPTURE_FILTER_ENV}=classic` };
  const maps: number[] = [];
  try {
    // Both maps and the program that reads both: the largest program a socket gets.
    for (const family of FAMILIES) maps.push(addon.createCaptureMap(1, family));
    addon.closeFd(addon.loadCaptureProgram(maps[0], maps[1]));
    return { kind: 'ebpf', reason: 'supported', detail: 'the kernel accepted the maps and the program' };
  } catch (err) {
    return { kind: 'classic', reason: 'unsupported', detail: (err as Error).message };
  } finally {
    for (const map of maps) addon.closeFd(map);
  }
}

let processChoice: CaptureFilterChoice | undefined;

/** The kind this process uses: probed and logged on first use. */
export function captureFilterChoice(addon: Native): CaptureFilterChoice {
  if (processChoice) return processChoice;
  processChoice = probeCaptureFilter(addon);
  const meta = { filter: processChoice.kind, reason: processChoice.reason, detail: processChoice.detail };
  if (processChoice.reason === 'unsupported') {
    log.warn('capture filter: eBPF refused, using classic BPF (exact up to about 670 flows per socket, then all multicast)', meta);
  } else {
    log.info(`capture filter: ${processChoice.kind === 'ebpf' ? 'eBPF hash map' : 'classic BPF'}`, meta);
  }
  return processChoice;
}

/** The choice made so far, if any (for mcr_capture_filter_info). */
export function currentCaptureFilterChoice(): CaptureFilterChoice | undefined {
  return processChoice;
}

const FAMILIES: readonly IpFamily[] = [4, 6];

/**
 * A map key as the addon takes it: the group's words, the port with the VLAN ID in its high 16 bits,
 * the source's words (0: any). Three words for IPv4, nine for IPv6 (captureGroup and captureSource in bpf.ts).
 */
type KeyWords = number[];
/** Map keys by a text made of the target's own strings: cheap to build and compare, parsed only when new. */
type Keys = Map<string, KeyWords>;

/** A target as a text: `group|port|source` (port 0: ESP), with `|vlan` after it for a target in a VLAN (validated). */
function targetText({ group, port, source = '', vlan = 0 }: CaptureTarget): string {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`capture target port ${port} is not 0-65535`);
  if (!Number.isInteger(vlan) || vlan < 0 || vlan > 4094) throw new RangeError(`capture target VLAN ${vlan} is not 0-4094`);
  return `${group}|${port}|${source}${vlan === 0 ? '' : `|${vlan}`}`;
}

/**
 * The texts of the keys admitting one target: `group|port|source`, and `group|0|`, which the program
 * looks up for any protocol but UDP (and which alone admits an ESP target, port 0: the data plane
 * matches its source); each with `|vlan` after it for a target in a VLAN.
 */
function targetTexts(target: CaptureTarget): string[] {
  const exact = targetText(target);
  const anyPort = `${target.group}|0|${target.vlan ? `|${target.vlan}` : ''}`;
  return target.port === 0 || exact === anyPort ? [anyPort] : [exact, anyPort];
}

/** The texts of the keys admitting `targets`: `group|port|source` for each, `group|0|` for each group. */
function keyTexts(targets: Iterable<CaptureTarget>): Set<string> {
  const texts = new Set<string>();
  for (const target of targets) for (const text of targetTexts(target)) texts.add(text);
  return texts;
}

/** A key text as the program's key; throws TypeError on an address that does not fit. */
function keyWordsOf(text: string): KeyWords {
  const [group, port, source, vlan] = text.split('|');
  const address = captureGroup(group);
  return [...address.words, Number(port) + Number(vlan ?? 0) * 0x1_0000, ...captureSource(source, address.family)];
}

/** The family of a key text's map: IPv6 groups are the texts with a colon. */
const familyOf = (text: string): IpFamily => familyOfText(text.slice(0, text.indexOf('|')));

/** The map keys admitting `targets`: each (group, port, source or 0 = any) and each (group, 0, 0), of either family. */
export function captureKeys(targets: Iterable<CaptureTarget>): Keys {
  const keys: Keys = new Map();
  for (const text of keyTexts(targets)) keys.set(text, keyWordsOf(text));
  return keys;
}

/** `keys` split by the map they go to. */
export function keysByFamily(keys: Keys): Record<IpFamily, Keys> {
  const split: Record<IpFamily, Keys> = { 4: new Map(), 6: new Map() };
  for (const [text, words] of keys) split[familyOf(text)].set(text, words);
  return split;
}

function flat(keys: Iterable<KeyWords>): Uint32Array {
  const words: number[] = [];
  for (const key of keys) words.push(...key);
  return Uint32Array.from(words);
}

function capacityFor(keys: number): number {
  return Math.max(MIN_CAPACITY, 2 ** Math.ceil(Math.log2(2 * keys)));
}

/** A socket's targets by their exact key text (`group|port|source`). */
type Targets = Map<string, CaptureTarget>;

function targetsOf(targets: Iterable<CaptureTarget>): Targets {
  const map: Targets = new Map();
  for (const target of targets) map.set(targetText(target), target);
  return map;
}

/** One family's map on a socket: its fd, how many keys it can hold, the keys it holds. */
interface FamilyMap {
  fd: number;
  capacity: number;
  keys: Keys;
}

interface EbpfSocket {
  kind: 'ebpf';
  ifname: string;
  /** The IPv4 map always; the IPv6 one from the socket's first IPv6 target on (kept until it closes). */
  maps: Map<IpFamily, FamilyMap>;
  /** How many of the targets need each key (the `group|0|` key is shared by a group's ports). */
  uses: Map<string, number>;
  targets: Targets;
}

interface ClassicSocket {
  kind: 'classic';
  ifname: string;
  /** False while the program is the coarse all-multicast one (logged when it becomes so). */
  exact: boolean;
  targets: Targets;
}

function usesOf(targets: Targets): Map<string, number> {
  const uses = new Map<string, number>();
  for (const target of targets.values()) for (const text of targetTexts(target)) uses.set(text, (uses.get(text) ?? 0) + 1);
  return uses;
}

export interface CaptureSocketOptions {
  /** For log messages. */
  ifname: string;
  ifindex: number;
  rcvbuf: number;
}

/** Opens capture sockets with their filter in place and keeps each filter matching its targets. */
export class CaptureFilters {
  private readonly sockets = new Map<number, EbpfSocket | ClassicSocket>();

  /** `kind` overrides the process's choice (tests). */
  constructor(
    private readonly addon: Native,
    private readonly kind?: CaptureFilterKind,
  ) {}

  /** The filter kind on a socket this opened. */
  kindOf(fd: number): CaptureFilterKind | undefined {
    return this.sockets.get(fd)?.kind;
  }

  /** An AF_PACKET socket on the interface admitting exactly `targets` (bound only once filtered). */
  open(options: CaptureSocketOptions, targetList: Iterable<CaptureTarget>): number {
    const { ifname, ifindex, rcvbuf } = options;
    const targets = targetsOf(targetList);
    if ((this.kind ?? captureFilterChoice(this.addon).kind) === 'ebpf') {
      let filter: { made: Map<IpFamily, FamilyMap>; program: number } | undefined;
      try {
        const keys = keysByFamily(captureKeys(targets.values()));
        // An IPv6 map only with IPv6 targets: a socket without keeps the program that drops IPv6.
        const fresh = new Map<IpFamily, Keys>([[4, keys[4]]]);
        if (keys[6].size > 0) fresh.set(6, keys[6]);
        filter = this.loadFilled(fresh);
      } catch (err) {
        if (err instanceof TypeError || err instanceof RangeError) throw err;
        log.warn('capture filter: eBPF refused for this socket, using classic BPF', { interface: ifname, detail: (err as Error).message });
      }
      if (filter) {
        let fd: number;
        try {
          fd = this.addon.openPacketSocket({ ifindex, rcvbuf, program: filter.program });
        } catch (err) {
          for (const map of filter.made.values()) this.addon.closeFd(map.fd);
          throw err;
        } finally {
          this.addon.closeFd(filter.program); // the socket holds the program, the program the maps
        }
        this.sockets.set(fd, { kind: 'ebpf', ifname, maps: filter.made, uses: usesOf(targets), targets });
        return fd;
      }
    }
    const socket: ClassicSocket = { kind: 'classic', ifname, exact: true, targets };
    const fd = this.addon.openPacketSocket({ ifindex, rcvbuf, filter: this.classicProgram(socket, targets.values()) });
    this.sockets.set(fd, socket);
    return fd;
  }

  /** Makes the socket's filter admit exactly `targets` (the difference with what it admits goes to patch()). */
  update(fd: number, targets: Iterable<CaptureTarget>): void {
    const socket = this.socketOf(fd);
    const wanted = targetsOf(targets);
    const added = [...wanted].filter(([text]) => !socket.targets.has(text)).map(([, target]) => target);
    const removed = [...socket.targets].filter(([text]) => !wanted.has(text)).map(([, target]) => target);
    this.patch(fd, added, removed);
  }

  /**
   * Adds `added` to the targets the socket's filter admits and takes `removed` out: in O(change) for
   * eBPF. New keys are added before old ones are deleted, and keys that stay are never touched, so no
   * frame of an unchanged flow is refused. Validated before anything changes.
   */
  patch(fd: number, added: readonly CaptureTarget[], removed: readonly CaptureTarget[]): void {
    const socket = this.socketOf(fd);
    const adding = targetsOf(added);
    const removing = targetsOf(removed);
    for (const text of adding.keys()) if (socket.targets.has(text)) adding.delete(text);
    for (const text of removing.keys()) if (!socket.targets.has(text) || adding.has(text)) removing.delete(text);
    if (adding.size === 0 && removing.size === 0) return;
    const after = () => {
      for (const [text, target] of adding) socket.targets.set(text, target);
      for (const text of removing.keys()) socket.targets.delete(text);
    };
    if (socket.kind === 'classic') {
      const targets = new Map(socket.targets);
      for (const [text, target] of adding) targets.set(text, target);
      for (const text of removing.keys()) targets.delete(text);
      this.addon.attachFilter(fd, this.classicProgram(socket, targets.values()));
      after();
      return;
    }
    // Key uses after the change; keys going from no use to some are parsed (validated) here.
    const delta = new Map<string, number>();
    for (const target of adding.values()) for (const text of targetTexts(target)) delta.set(text, (delta.get(text) ?? 0) + 1);
    for (const target of removing.values()) for (const text of targetTexts(target)) delta.set(text, (delta.get(text) ?? 0) - 1);
    const newKeys: Keys = new Map();
    const goneKeys: Keys = new Map();
    for (const [text, change] of delta) {
      const uses = socket.uses.get(text) ?? 0;
      if (uses === 0 && change > 0) newKeys.set(text, keyWordsOf(text));
      else if (uses > 0 && uses + change === 0) goneKeys.set(text, socket.maps.get(familyOf(text))!.keys.get(text)!);
    }
    const [keysIn, keysOut] = [keysByFamily(newKeys), keysByFamily(goneKeys)];
    // New keys go in before old ones leave, so a map must hold both for a moment: a family whose map
    // cannot (or which has none yet) gets a new one with its keys after the change; the others change in place.
    const fresh = new Map<IpFamily, Keys>();
    const inPlace: Array<[IpFamily, FamilyMap]> = [];
    for (const family of FAMILIES) {
      const map = socket.maps.get(family);
      if (keysIn[family].size > 0 && (!map || map.keys.size + keysIn[family].size > map.capacity)) {
        const keys: Keys = new Map();
        for (const [text, words] of map?.keys ?? []) if (!keysOut[family].has(text)) keys.set(text, words);
        for (const [text, words] of keysIn[family]) keys.set(text, words);
        fresh.set(family, keys);
      } else if (map) {
        inPlace.push([family, map]);
      }
    }
    const commitUses = () => {
      for (const [text, change] of delta) {
        const uses = (socket.uses.get(text) ?? 0) + change;
        if (uses > 0) socket.uses.set(text, uses);
        else socket.uses.delete(text);
      }
      after();
    };
    try {
      for (const [family, map] of inPlace) {
        const keys = keysIn[family];
        if (keys.size > 0) this.addon.updateCaptureMap(map.fd, flat(keys.values()));
        for (const [text, words] of keys) map.keys.set(text, words);
      }
      if (fresh.size > 0) this.replace(fd, socket, fresh);
      for (const [family, map] of inPlace) {
        const keys = keysOut[family];
        if (keys.size > 0) this.addon.deleteFromCaptureMap(map.fd, flat(keys.values()));
        for (const text of keys.keys()) map.keys.delete(text);
      }
      commitUses();
    } catch (err) {
      // The maps may be part-way (over-admitting at worst): replace the program with a classic one.
      commitUses();
      log.warn('capture filter: eBPF map update failed, using classic BPF on this socket', { interface: socket.ifname, detail: (err as Error).message });
      const classic: ClassicSocket = { kind: 'classic', ifname: socket.ifname, exact: true, targets: socket.targets };
      this.addon.attachFilter(fd, this.classicProgram(classic, classic.targets.values()));
      for (const map of socket.maps.values()) this.addon.closeFd(map.fd);
      this.sockets.set(fd, classic);
    }
  }

  private socketOf(fd: number): EbpfSocket | ClassicSocket {
    const socket = this.sockets.get(fd);
    if (!socket) throw new Error(`capture filter: fd ${fd} was not opened here`);
    return socket;
  }

  /** Closes the socket (the supervisor's copy) and its map. */
  close(fd: number): void {
    const socket = this.sockets.get(fd);
    this.sockets.delete(fd);
    if (socket?.kind === 'ebpf') for (const map of socket.maps.values()) this.addon.closeFd(map.fd);
    this.addon.closeFd(fd);
  }

  /**
   * New maps for the families of `fresh`, each holding its keys, and a program on them and on the
   * other families' maps in `kept` (an IPv4 map is in one or the other).
   */
  private loadFilled(fresh: Map<IpFamily, Keys>, kept = new Map<IpFamily, FamilyMap>()): { made: Map<IpFamily, FamilyMap>; program: number } {
    const made = new Map<IpFamily, FamilyMap>();
    try {
      for (const [family, keys] of fresh) {
        const capacity = capacityFor(keys.size);
        const map: FamilyMap = { fd: this.addon.createCaptureMap(capacity, family), capacity, keys };
        made.set(family, map);
        if (keys.size > 0) this.addon.updateCaptureMap(map.fd, flat(keys.values()));
      }
      const fdOf = (family: IpFamily) => (made.get(family) ?? kept.get(family))?.fd;
      return { made, program: this.addon.loadCaptureProgram(fdOf(4)!, fdOf(6)) };
    } catch (err) {
      for (const map of made.values()) this.addon.closeFd(map.fd);
      throw err;
    }
  }

  /** Swaps in new maps for the families of `fresh` (larger, or the first IPv6 one), filled before their program replaces the old one. */
  private replace(fd: number, socket: EbpfSocket, fresh: Map<IpFamily, Keys>): void {
    const filter = this.loadFilled(fresh, socket.maps);
    try {
      this.addon.attachCaptureProgram(fd, filter.program);
    } catch (err) {
      for (const map of filter.made.values()) this.addon.closeFd(map.fd);
      throw err;
    } finally {
      this.addon.closeFd(filter.program);
    }
    for (const [family, map] of filter.made) {
      const old = socket.maps.get(family);
      if (old) this.addon.closeFd(old.fd);
      socket.maps.set(family, map);
    }
  }

  /** The classic program for `targets`; logs when the socket's filter stops (or starts again) being exact. */
  private classicProgram(socket: ClassicSocket, targets: Iterable<CaptureTarget>) {
    const filter = buildCaptureFilter([...targets]);
    if (filter.exact !== socket.exact) {
      if (filter.exact) log.info('capture filter exact again', { interface: socket.ifname });
      else log.warn('capture filter too large for the kernel: admitting all multicast', { interface: socket.ifname });
      socket.exact = filter.exact;
    }
    return filter.program;
  }
}
