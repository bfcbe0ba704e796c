/**
 * The capture filters of the supervisor's AF_PACKET sockets, whichever kind the kernel takes.
 *
 * - eBPF (preferred): one BPF_PROG_TYPE_SOCKET_FILTER program per socket (native/sockets/ebpf_filter.cc)
 *   looking (group, port, source), (group, port, any) and (group: any protocol but UDP, ESP included) up in a hash map this class keeps in
 *   step with the socket's targets by adding and deleting single keys, so the kernel matches exactly
 *   at any rule count and a change never touches the keys of other flows. A map that would overflow is
 *   replaced by a larger one, filled before its program is swapped in (SO_ATTACH_BPF is atomic).
 * - classic (fallback): the generated program of bpf.ts, exact up to 4096 instructions, beyond that
 *   admitting all IPv4 multicast.
 *
 * Which kind is used is decided once per process by trying it (creating a map, loading the program),
 * not assumed: a kernel without the bpf() syscall, a seccomp'd container or a verifier refusal selects
 * classic, logged once with the reason and exposed as mcr_capture_filter_info. MCR_CAPTURE_FILTER=classic
 * forces classic (a diagnostic). Only the supervisor calls bpf(); a worker only reads the filtered socket.
 * See docs/decisions/0028-ebpf-capture-filter.md and 0029-capture-filter-fallback.md.
 */
import type { Native } from '../../native';
import { logger } from '../log';
import { isMulticast, isUnicast, parseIPv4 } from '../formats/addresses';
import { buildCaptureFilter, CaptureTarget } from './bpf';

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
  let map: number | undefined;
  try {
    map = addon.createCaptureMap(1);
    addon.closeFd(addon.loadCaptureProgram(map));
    return { kind: 'ebpf', reason: 'supported', detail: 'the kernel accepted the map and the program' };
  } catch (err) {
    return { kind: 'classic', reason: 'unsupported', detail: (err as Error).message };
  } finally {
    if (map !== undefined) addon.closeFd(map);
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

/** A map key as the addon takes it: the VLAN ID in the high 16 bits of the port's word. */
type Triple = [group: number, portAndVlan: number, source: number];
/** Map keys by a text made of the target's own strings: cheap to build and compare, parsed only when new. */
type Keys = Map<string, Triple>;

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

/** A key text as the program's key, host byte order; throws TypeError on an address that does not fit. */
function tripleOf(text: string): Triple {
  const [group, port, source, vlan] = text.split('|');
  const address = parseIPv4(group);
  if (address === undefined || !isMulticast(address)) throw new TypeError(`capture target group ${JSON.stringify(group)} is not an IPv4 multicast address`);
  const portAndVlan = Number(port) + Number(vlan ?? 0) * 0x1_0000;
  if (!source) return [address, portAndVlan, 0];
  const parsed = parseIPv4(source);
  if (parsed === undefined || !isUnicast(parsed)) throw new TypeError(`capture target source ${JSON.stringify(source)} is not a unicast IPv4 address`);
  return [address, portAndVlan, parsed];
}

/** The map keys admitting `targets`: each (group, port, source or 0 = any) and each (group, 0, 0). */
export function captureKeys(targets: Iterable<CaptureTarget>): Keys {
  const keys: Keys = new Map();
  for (const text of keyTexts(targets)) keys.set(text, tripleOf(text));
  return keys;
}

function triples(keys: Iterable<Triple>): Uint32Array {
  const flat: number[] = [];
  for (const triple of keys) flat.push(...triple);
  return Uint32Array.from(flat);
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

interface EbpfSocket {
  kind: 'ebpf';
  ifname: string;
  map: number;
  capacity: number;
  keys: Keys;
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
      let filter: { map: number; program: number; capacity: number; keys: Keys } | undefined;
      try {
        filter = this.loadFilled(captureKeys(targets.values()));
      } catch (err) {
        if (err instanceof TypeError || err instanceof RangeError) throw err;
        log.warn('capture filter: eBPF refused for this socket, using classic BPF', { interface: ifname, detail: (err as Error).message });
      }
      if (filter) {
        let fd: number;
        try {
          fd = this.addon.openPacketSocket({ ifindex, rcvbuf, program: filter.program });
        } catch (err) {
          this.addon.closeFd(filter.map);
          throw err;
        } finally {
          this.addon.closeFd(filter.program); // the socket holds the program, the program the map
        }
        this.sockets.set(fd, { kind: 'ebpf', ifname, map: filter.map, capacity: filter.capacity, keys: filter.keys, uses: usesOf(targets), targets });
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
    const newKeys = new Map<string, Triple>();
    const goneKeys = new Map<string, Triple>();
    for (const [text, change] of delta) {
      const uses = socket.uses.get(text) ?? 0;
      if (uses === 0 && change > 0) newKeys.set(text, tripleOf(text));
      else if (uses > 0 && uses + change === 0) goneKeys.set(text, socket.keys.get(text)!);
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
      // New keys go in before old ones leave, so the map must hold both for a moment.
      if (socket.keys.size + newKeys.size > socket.capacity) {
        const keys: Keys = new Map();
        for (const [text, triple] of socket.keys) if (!goneKeys.has(text)) keys.set(text, triple);
        for (const [text, triple] of newKeys) keys.set(text, triple);
        this.replace(fd, socket, keys);
      } else {
        if (newKeys.size > 0) this.addon.updateCaptureMap(socket.map, triples(newKeys.values()));
        for (const [text, triple] of newKeys) socket.keys.set(text, triple);
        if (goneKeys.size > 0) this.addon.deleteFromCaptureMap(socket.map, triples(goneKeys.values()));
        for (const text of goneKeys.keys()) socket.keys.delete(text);
      }
      commitUses();
    } catch (err) {
      // The map may be part-way (over-admitting at worst): replace the program with a classic one.
      commitUses();
      log.warn('capture filter: eBPF map update failed, using classic BPF on this socket', { interface: socket.ifname, detail: (err as Error).message });
      const classic: ClassicSocket = { kind: 'classic', ifname: socket.ifname, exact: true, targets: socket.targets };
      this.addon.attachFilter(fd, this.classicProgram(classic, classic.targets.values()));
      this.addon.closeFd(socket.map);
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
    if (socket?.kind === 'ebpf') this.addon.closeFd(socket.map);
    this.addon.closeFd(fd);
  }

  /** A new map holding `keys` and the program on it. */
  private loadFilled(keys: Keys): { map: number; program: number; capacity: number; keys: Keys } {
    const capacity = capacityFor(keys.size);
    const map = this.addon.createCaptureMap(capacity);
    try {
      if (keys.size > 0) this.addon.updateCaptureMap(map, triples(keys.values()));
      return { map, program: this.addon.loadCaptureProgram(map), capacity, keys };
    } catch (err) {
      this.addon.closeFd(map);
      throw err;
    }
  }

  /** Swaps in a larger map, filled before its program replaces the old one. */
  private replace(fd: number, socket: EbpfSocket, keys: Keys): void {
    const filter = this.loadFilled(keys);
    try {
      this.addon.attachCaptureProgram(fd, filter.program);
    } catch (err) {
      this.addon.closeFd(filter.map);
      throw err;
    } finally {
      this.addon.closeFd(filter.program);
    }
    this.addon.closeFd(socket.map);
    Object.assign(socket, { map: filter.map, capacity: filter.capacity, keys });
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
