/**
 * Typed access to the C++ addon (build/Release/mcr.node).
 *
 * Every function that wraps a syscall throws an Error whose `code` is the errno
 * name ("EPERM") and whose `errno` is the number, with a message naming the call.
 * Addresses are IPv4 dotted quads. File descriptors are plain numbers; functions
 * that "take ownership" close the fd themselves when done with it.
 */
import fs from 'fs';
import path from 'path';

/** One classic BPF instruction: [code, jt, jf, k] (struct sock_filter). */
export type BpfInsn = [code: number, jt: number, jf: number, k: number];

export interface PacketSocketOptions {
  /** Interface to bind to. */
  ifindex: number;
  /** Receive buffer in bytes (set with SO_RCVBUFFORCE, so rmem_max does not cap it). */
  rcvbuf: number;
  /**
   * The filter attached before the socket is bound, so no unfiltered frame is ever queued: a classic
   * program (`filter`) or the fd of a loaded eBPF socket filter (`program`, see loadCaptureProgram).
   */
  filter?: BpfInsn[];
  program?: number;
}

export interface EgressSocketOptions {
  /** Output interface: the socket is bound to it (SO_BINDTODEVICE) and multicast leaves by it (IP_MULTICAST_IF). */
  ifname: string;
  ifindex: number;
  /**
   * 6: an IPv6 socket (AF_INET6), which sends to IPv6 destinations only; its ttl and tos are its hop
   * limit and traffic class. Absent: 4.
   */
  family?: 4 | 6;
  /** Both IP_MULTICAST_TTL and IP_TTL (IPv6: the multicast and unicast hop limits): the socket is not connected, each send names its destination. */
  ttl: number;
  /** IP_TOS byte (DSCP << 2); IPv6: the traffic class. */
  tos: number;
  /** Send buffer in bytes (SO_SNDBUFFORCE). */
  sndbuf: number;
  /**
   * IP_PMTUDISC_DO (DF set; a datagram above the path MTU is refused with EMSGSIZE) instead of
   * IP_PMTUDISC_OMIT (fragmented by the interface's MTU, DF clear): docs/decisions/0060.
   */
  dontFragment: boolean;
  /**
   * Source address of what it sends, of the socket's family ('' or absent: the kernel's choice):
   * bound (bind, port 0; an IPv6 one in the interface's scope), with IP_TRANSPARENT (IPV6_TRANSPARENT)
   * when the host does not have it (unnumbered links, tunnels), so that it is sent from.
   */
  source?: string;
  /**
   * 'esp' (absent: 'udp'): a raw IPPROTO_ESP socket (SOCK_RAW, the supervisor's privilege), which
   * sends each payload as the IP payload of a protocol 50 packet and receives nothing (a drop-all
   * filter): an ESP rule's outputs send through it, to no port.
   */
  protocol?: 'udp' | 'esp';
}

/**
 * How a sender makes each packet's TTL and TOS (docs/decisions/0058-tos-and-ttl-per-packet.md): the
 * TOS byte sent is (received TOS & keepTos) | tos, and the TTL the received one minus 1 when
 * decrementTtl (a packet received with TTL 1 or 0 is not sent: counted as ttlExpired), else `ttl`.
 * `ttl` and `tos` are also the socket's own (openEgressSocket), which a send uses unless told otherwise.
 */
export interface SenderPolicy {
  ttl: number;
  tos: number;
  keepTos: number;
  decrementTtl: boolean;
  /** A payload larger than one packet carries is not sent (counted as tooBig) instead of fragmented. */
  dontFragment: boolean;
}

/** Counters of PACKET_STATISTICS since the previous read (reading resets them in the kernel). */
export interface PacketStatistics {
  packets: number;
  drops: number;
}

/** A rule as installed in a worker's data plane. */
export interface DataplaneRule {
  /** Rule id: counters are keyed by it and survive table swaps. */
  id: string;
  /** Input handle (see Dataplane.addInput). */
  input: number;
  /** IPv4 (dotted quad) or IPv6. */
  group: string;
  /** UDP destination port; 0: ESP (IP protocol 50), which has none. */
  port: number;
  /** Required source address, of the group's family, or '' for any source. */
  source: string;
  /**
   * Required 802.1Q VLAN ID (1-4094) of the frame's outer tag; absent: untagged frames only. The
   * input's socket must have setVlanTags on for tags the kernel took out of the frame to be seen.
   */
  vlan?: number;
  /** Output handles (see Dataplane.addOutput), in the rule's output order. */
  outputs: number[];
  /**
   * Slots in the data plane's counter region (see createCounterRegion) for the rule's counters and
   * one per output; absent: the table keeps the counters itself (they survive swaps by id).
   */
  counterSlot?: number;
  outputSlots?: number[];
  /** Trace this rule's packets (absent: not traced; the packet path then only tests a null pointer). */
  trace?: DataplaneTrace;
}

/** A rule's trace settings in the data plane. Limits (record count, time) are the supervisor's. */
export interface DataplaneTrace {
  /** Record one packet in every `sampleEvery` (1-1000000). */
  sampleEvery: number;
  /** Frame bytes to copy into each record (0-2048). */
  snapLength: number;
}

/** TracedSend.errno of a packet an output did not send because it arrived with TTL 1 or 0 (SenderPolicy.decrementTtl). */
export const SEND_TTL_EXPIRED = -1;

/**
 * One send of a traced packet: the output handle, the result (0 sent, SEND_TTL_EXPIRED, else the
 * errno, EAGAIN when the socket buffer was full) and the TTL and TOS byte it was sent with (0 when
 * its TTL expired).
 */
export interface TracedSend {
  handle: number;
  errno: number;
  ttl: number;
  tos: number;
  /** How many datagrams the message that carried it held (UDP GSO; 1 alone; 0 not sent). */
  segments: number;
  /** Sent as IP fragments (larger than one packet carries on the interface). */
  fragmented: boolean;
}

/** What the data plane recorded for one traced packet. */
export interface TracedPacket {
  ruleId: string;
  /** CLOCK_REALTIME when the kernel received the frame (SO_TIMESTAMPNS), else when its batch was read. */
  timestampNs: bigint;
  /** The input handle it arrived on. */
  input: number;
  /** IPv4 dotted quad, or IPv6 (RFC 5952 text), as destination. */
  source: string;
  /** 0 for ESP, as destinationPort. */
  sourcePort: number;
  destination: string;
  destinationPort: number;
  /** The IP protocol: 17 (UDP) or 50 (ESP). */
  protocol: number;
  ipLength: number;
  ttl: number;
  /** The IPv4 TOS byte (DSCP is tos >> 2). */
  tos: number;
  /** The frame's VLAN ID (0: untagged, or not read: no rule names a VLAN). */
  vlan: number;
  /** One entry per output the rule had installed, in the rule's order (empty: no usable output). */
  sends: TracedSend[];
  /** From the kernel's receipt of the frame to the end of its batch's sends. */
  timeInMcrNs: number;
  frameLength: number;
  /** The first snapLength bytes of the frame. */
  frame: Buffer;
}

export interface OutputCounters {
  handle: number;
  packets: bigint;
  bytes: bigint;
  /** EAGAIN, ENOBUFS: the socket buffer was full. */
  errWouldBlock: bigint;
  /** ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN. */
  errUnreachable: bigint;
  errOther: bigint;
  /** Not sent: received with TTL 1 or 0 by an output that decrements the TTL. */
  ttlExpired: bigint;
  /** Sent (also in packets) as IP fragments: larger than one packet carries on the interface. */
  fragmented: bigint;
  /** Not sent (EMSGSIZE): larger than one packet carries, by an output that does not fragment. */
  tooBig: bigint;
}

export interface RuleCounters {
  id: string;
  /** Packets and UDP payload bytes matched. */
  packets: bigint;
  bytes: bigint;
  /** Packets sent to at least one output. */
  forwarded: bigint;
  /** Packets that no output accepted. */
  sendFailed: bigint;
  /** CLOCK_REALTIME of the last matched packet, ns; 0n = never. */
  lastPacketNs: bigint;
  /** In the rule's output order. */
  outputs: OutputCounters[];
}

/** See Dataplane.routeForTest. Slots are counter-region slots (0: counters of the table's own). */
export interface RouteForTest {
  counterSlot: number;
  outputs: number[];
  outputSlots: number[];
  /** The traced rule's id, '' when the route is not traced. */
  tracedId: string;
}

export interface InputCounters {
  handle: number;
  frames: bigint;
  bytes: bigint;
  unmatched: bigint;
  truncated: bigint;
  notIpv4: bigint;
  badHeader: bigint;
  badLength: bigint;
  fragment: bigint;
  notUdp: bigint;
  /** Frames the kernel merged from several UDP datagrams (split by the data plane), and those datagrams. */
  mergedFrames: bigint;
  mergedDatagrams: bigint;
}

/** What the data-plane parser made of a frame (test hook; same code as the packet path). */
export type ParsedFrame =
  | { ok: true; family: 4 | 6; source: string; group: string; srcPort: number; port: number; payloadOffset: number; payloadLength: number; ttl: number; tos: number; protocol: number }
  | { ok: false; reason: 'truncated' | 'notIpv4' | 'badHeader' | 'badLength' | 'fragment' | 'notUdp' };

export interface Dataplane {
  /**
   * Adds a capture socket; its frames are matched against rules naming `handle`. Takes ownership of
   * `fd` when it succeeds; on a throw the caller keeps it.
   */
  addInput(handle: number, fd: number, counterSlot?: number): void;
  /** Stops reading the input; its fd is closed once no table in use refers to it. */
  removeInput(handle: number): number;
  /**
   * Adds an unconnected egress socket (see openEgressSocket: UDP, or raw ESP) that outputs send through. Takes
   * ownership of `fd` when it succeeds; on a throw the caller keeps it. `policy`: how its outputs make
   * each packet's TTL and TOS (its ttl and tos are the socket's own, as openEgressSocket set them).
   * `mtu`: its interface's (0: unknown), by which payloads are counted as fragmented or too big.
   */
  addSender(handle: number, fd: number, policy: SenderPolicy, mtu: number): void;
  /**
   * Forgets the sender's handle (new outputs cannot name it). Its fd is closed once no output refers
   * to it and no table that may be in use refers to those outputs.
   */
  removeSender(handle: number): void;
  /**
   * Adds an output: datagrams to `address`:`port` through sender `sender` (port 0 exactly when it is
   * an ESP sender), an address of the sender's family (IPv4 dotted quad, or IPv6). `scope`: for an
   * IPv6 address, the index of the interface whose scope a link-local one is in (absent: the
   * sender's bound interface decides).
   */
  addOutput(handle: number, sender: number, address: string, port: number, scope?: number): void;
  /**
   * Forgets the handle. The installed table keeps sending to it until a table without it replaces it;
   * its sender is released once no table that may be in use refers to it.
   */
  removeOutput(handle: number): void;
  /**
   * Builds a new immutable match table and publishes it atomically to the data-plane thread.
   * Throws (and changes nothing) when a rule names an unknown handle or two rules share a match key.
   */
  setRules(rules: DataplaneRule[]): number;
  /**
   * Like setRules, from the installed table: `upserts` replace the rules of the same id or are added,
   * the rules with the ids in `removes` go (unknown ids are ignored; an id also upserted stays,
   * upserted). Counters of kept rules stay. Costs what the change touches, not the table: an upsert
   * equal to the installed rule changes nothing (decision 0044). Throws (and changes nothing) naming
   * `upserts[i]`, and for a match key already taken the installed rule's id.
   */
  updateRules(upserts: DataplaneRule[], removes: string[]): number;
  /** Test hook: the data-plane thread sleeps `ms` (1-60000) at its next turn, as if stalled. */
  stallForTest(ms: number): void;
  /**
   * Test hook: what the published table gives a packet from `input` to group:port from `source`
   * (the exact-source route, else the any-source one), in VLAN `vlan` (0 or absent: untagged), as
   * the packet path finds it; null: no route.
   */
  routeForTest(input: number, group: string, port: number, source: string, vlan?: number): RouteForTest | null;
  /**
   * Test hook: the output handle the published table charges an ICMP error about address:port
   * through sender `sender` to (null: none), and whether it finds the sender by its serial at all.
   */
  outputForTest(sender: number, address: string, port: number): { output: number | null; senderKnown: boolean };
  ruleCounters(): RuleCounters[];
  inputCounters(): InputCounters[];
  /** Stops the thread and closes every fd. */
  close(): void;
}

export interface DataplaneOptions {
  /**
   * CPU to pin the data-plane thread to; -1 = no pinning. A CPU outside this process's affinity
   * (allowedCpus) is refused with EINVAL, the message naming the CPU and the allowed ones.
   */
  core: number;
  /** Frames per recvmmsg / sendmmsg batch (1-1024). */
  batch: number;
  /**
   * Receives traced packets on the JavaScript thread, in batches, oldest first. `lost` counts the
   * records dropped since the previous call because the data plane's trace ring was full (the data
   * plane never waits for JavaScript). Without it, traced rules record nothing.
   */
  /**
   * A counter region's fd (not taken: the data plane maps it): rules and inputs may then keep their
   * counters there, and the data-plane thread bumps its heartbeat there at least every 100 ms.
   */
  counters?: number;
  onTrace?: (records: TracedPacket[], lost: number) => void;
}

export interface ControlChannel {
  /**
   * Queues a message (any size: split into SEQPACKET chunks and joined again on the other side).
   * The fds are duplicated at the call, sent with the first chunk (SCM_RIGHTS), and the duplicates
   * closed once sent; the caller keeps its own. Never blocks the event loop.
   */
  send(data: Buffer, fds?: number[]): void;
  /** Closes the channel; no callback runs after it returns. */
  close(): void;
  /** Bytes sent and not yet taken by the socket (the peer reads slowly, or not at all). */
  queuedBytes(): number;
  /** Whether an open channel keeps the event loop alive (default true). */
  ref(): void;
  unref(): void;
}

export interface ControlChannelConstructor {
  /**
   * Takes ownership of `fd` (one end of an AF_UNIX SOCK_SEQPACKET pair). `onMessage` gets each whole
   * message with the fds that came with it (already CLOEXEC; the receiver owns them). `onClose` runs
   * once, when the peer closes or the channel fails (with the reason).
   */
  new (fd: number, onMessage: (data: Buffer, fds: number[]) => void, onClose: (reason: string) => void): ControlChannel;
}

/** A network interface as rtnetlink reports it. */
export interface LinkInfo {
  index: number;
  name: string;
  /** IFF_UP: administratively up. */
  up: boolean;
  /** IFF_RUNNING: operationally up (up with carrier). */
  running: boolean;
  mtu: number;
  /** Hardware address as lowercase hex pairs ("02:00:00:00:00:01"); '' when the link has none. */
  mac: string;
}

/** An IPv4 address of an interface (IFA_LOCAL, or IFA_ADDRESS when there is no IFA_LOCAL). */
export interface AddressInfo {
  index: number;
  address: string;
  prefixLength: number;
}

export type NetlinkEvent =
  | { kind: 'link'; link: LinkInfo } // RTM_NEWLINK
  | { kind: 'linkDeleted'; link: LinkInfo } // RTM_DELLINK
  | { kind: 'address'; address: AddressInfo } // RTM_NEWADDR (IPv4)
  | { kind: 'addressDeleted'; address: AddressInfo } // RTM_DELADDR (IPv4)
  | { kind: 'overrun' }; // ENOBUFS: events were lost; the consumer must re-dump

export interface NetlinkMonitor {
  /**
   * A full dump (links then IPv4 addresses) done synchronously on the calling thread over a separate
   * socket (so it also works after close()). Throws with the errno on failure.
   */
  dump(): { links: LinkInfo[]; addresses: AddressInfo[] };
  /** Stops the reader thread; no callback runs after it returns. Idempotent. */
  close(): void;
  /** Whether an open monitor keeps the event loop alive (default true). */
  ref(): void;
  unref(): void;
}

export interface NetlinkMonitorConstructor {
  /**
   * Subscribes to rtnetlink link and IPv4 address notifications (RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR;
   * no privilege needed) in the caller's network namespace. `onEvents` gets the events in the
   * kernel's order, in batches (everything read at one wake-up of the reader thread).
   */
  new (onEvents: (events: NetlinkEvent[]) => void): NetlinkMonitor;
}

/**
 * A step of applyMemberships: a join (IP_ADD_MEMBERSHIP, MCAST_JOIN_GROUP for IPv6, or
 * MCAST_JOIN_SOURCE_GROUP), the leave, or close(fd). `ipv6` is a flag added to a join or leave whose
 * addresses are IPv6.
 */
export const MembershipOpKind = { join: 0, leave: 1, close: 2, ipv6: 0x100 } as const;
/**
 * Words per step in applyMemberships' ops: [kind, fd, group, ifindex, source], an IPv4 address in
 * one word (host order), an IPv6 address in four (its bytes as big-endian words).
 */
export const MEMBERSHIP_OP_WORDS = 5;
export const MEMBERSHIP_OP_WORDS_IPV6 = 11;

/** A step of a batch that failed, as joinGroup/leaveGroup/closeFd would have thrown it. */
export interface MembershipFailure {
  /** The step's position in the batch. */
  index: number;
  /** "ENOBUFS" etc. */
  code: string;
  errno: number;
  /** "joinGroup (239.1.2.3 on ifindex 3): IP_ADD_MEMBERSHIP: No such device", "joinGroup (ff3e::1 on ifindex 3): MCAST_JOIN_GROUP: ...". */
  message: string;
}

/** What each step of a batch did. */
export interface MembershipResults {
  /** Per step, in order: 0 = done, else the errno. */
  errno: Int32Array;
  /** The steps that failed, in order. */
  failures: MembershipFailure[];
}

export interface Native {
  /** AF_PACKET SOCK_RAW socket, filter attached before bind, PACKET_IGNORE_OUTGOING, CLOEXEC, non-blocking. */
  openPacketSocket(options: PacketSocketOptions): number;
  /** Replaces the socket's filter (SO_ATTACH_FILTER); atomic in the kernel. */
  attachFilter(fd: number, program: BpfInsn[]): void;
  /** SO_TIMESTAMPNS on or off: frames read from now on carry the kernel's time of their receipt, or not. */
  setReceiveTimestamps(fd: number, on: boolean): void;
  /**
   * PACKET_AUXDATA on or off: frames read from now on carry the VLAN tag the kernel took out of them,
   * or not. The data plane needs it on the capture of an input whose rules name a VLAN.
   */
  setVlanTags(fd: number, on: boolean): void;
  /** Reads and resets PACKET_STATISTICS. */
  packetStatistics(fd: number): PacketStatistics;
  /**
   * The eBPF capture filter (native/sockets/ebpf_filter.h, docs/decisions/0028 and 0066).
   * createCaptureMap: BPF_MAP_CREATE of a hash of (group, port, source) keys of IPv4 (`family` 4, the
   * default) or IPv6 (6) holding at most `capacity`; returns its fd.
   */
  createCaptureMap(capacity: number, family?: 4 | 6): number;
  /**
   * BPF_PROG_LOAD of the capture program on an IPv4 map and, if given, an IPv6 map (without one, IPv6
   * frames are dropped); a verifier refusal's message ends with its log.
   */
  loadCaptureProgram(mapFd: number, map6Fd?: number): number;
  /**
   * Adds / removes keys, read as the map's family: IPv4 (group, port | vlan << 16, source) triples in
   * host byte order; IPv6 (group[4], port | vlan << 16, source[4]), 9 words, each address word four of
   * its bytes read big-endian. Port 0 = the group itself, source 0 = any, VLAN 0 = untagged frames.
   * Additions go in one batch where the kernel has batch updates (else one by one; `oneByOne` forces
   * that path, for its tests).
   */
  updateCaptureMap(mapFd: number, keys: Uint32Array, options?: { oneByOne?: boolean }): void;
  deleteFromCaptureMap(mapFd: number, keys: Uint32Array): void;
  /** SO_ATTACH_BPF: replaces the socket's filter with the program, atomically. */
  attachCaptureProgram(fd: number, programFd: number): void;
  /** BPF_PROG_TEST_RUN on a frame as a packet socket sees it (from the Ethernet header): the verdict, 0 = drop. */
  testRunCaptureProgram(programFd: number, frame: Buffer): number;
  /** The same `repeat` times: the kernel's mean time per run in ns (bench/capture-filter-cost.ts). */
  timeCaptureProgram(programFd: number, frame: Buffer, repeat: number): number;
  /** UDP socket, bound to the device, connected to the destination, non-blocking, CLOEXEC. */
  openEgressSocket(options: EgressSocketOptions): number;
  /** Sets an egress socket's send buffer in bytes (SO_SNDBUFFORCE, falling back to SO_SNDBUF). */
  setSendBuffer(fd: number, bytes: number): void;
  /**
   * An unbound UDP socket of the family (4, the default, or 6) that only holds group memberships of
   * that family (IGMP or MLD joins); IP_MULTICAST_ALL / IPV6_MULTICAST_ALL off.
   */
  openMembershipSocket(family?: 4 | 6): number;
  /**
   * On the interface: IP_ADD_MEMBERSHIP for an IPv4 group, MCAST_JOIN_GROUP for an IPv6 one,
   * MCAST_JOIN_SOURCE_GROUP when a source (of the group's family) is given. `fd` is a membership
   * socket of the group's family.
   */
  joinGroup(fd: number, group: string, ifindex: number, source?: string): void;
  leaveGroup(fd: number, group: string, ifindex: number, source?: string): void;
  /**
   * Runs a batch of membership steps in order on a thread of libuv's pool (the event loop stays free
   * while the kernel works): `ops` holds steps [kind, fd, group, ifindex, source] (MembershipOpKind),
   * MEMBERSHIP_OP_WORDS words each, or MEMBERSHIP_OP_WORDS_IPV6 for a step whose kind has the ipv6
   * flag (its addresses in four words each, see MEMBERSHIP_OP_WORDS); source 0 for any source;
   * group, ifindex and source 0 for a close. A malformed step throws a TypeError and nothing runs. Resolves
   * with each step's result; two batches asked for at once may run at the same time: the caller
   * orders them (server/net/memberships.ts, docs/decisions/0045).
   */
  applyMemberships(ops: Uint32Array): Promise<MembershipResults>;
  closeFd(fd: number): void;
  /** if_nametoindex; 0 when there is no such interface. */
  ifNameToIndex(name: string): number;
  /** socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC). */
  socketpair(): [number, number];
  /** Clears FD_CLOEXEC so the fd survives exec (used for the worker's end of its channel). */
  setInheritable(fd: number): void;
  ControlChannel: ControlChannelConstructor;
  Dataplane: new (options: DataplaneOptions) => Dataplane;
  parseFrame(frame: Buffer): ParsedFrame;
  /**
   * A fresh counter region of `slots` 64-byte slots (a sealed memfd; slot 0 is the header): its fd,
   * to hand to a worker, and this process's shared mapping of it. See native/dataplane/counter_region.h.
   */
  createCounterRegion(slots: number): { fd: number; buffer: ArrayBuffer };
  NetlinkMonitor: NetlinkMonitorConstructor;
  /**
   * Confines the calling process for good (a worker calls it at start-up, before it gets any fd or
   * rule): sets no_new_privs, clears the dumpable flag (processes of the same uid can then neither
   * ptrace it nor reach its memory or fds), and installs the worker's seccomp filter
   * (workerSeccompProgram) on every thread at once (SECCOMP_FILTER_FLAG_TSYNC); threads created
   * later inherit it. Denied calls fail with EPERM (ENOSYS for clone3 and io_uring); a call through
   * another system-call ABI kills the process. docs/security.md lists the denied calls and why.
   * Throws with the errno of the step that failed (the filter is then not installed), or a plain
   * Error naming a thread that could not be synchronized.
   */
  applyWorkerSeccomp(): void;
  /** The classic BPF program (input: struct seccomp_data) applyWorkerSeccomp would install in this process. */
  workerSeccompProgram(): BpfInsn[];
  /**
   * Test hook (mcrd --test-hooks): tries, from inside this process, what a confined worker must not
   * be able to do, `packetFd` being one of its capture sockets: open AF_PACKET, netlink and UDP
   * sockets, re-bind the capture socket to lo, detach its filter, attach an accept-all filter, make
   * its interface promiscuous, fork(), and last execve("/bin/true"). Anything that succeeds is undone
   * where possible; a successful execve replaces the process.
   */
  probeConfinement(packetFd: number): ConfinementAttempt[];
  /**
   * The CPUs the calling thread may run on (sched_getaffinity), ascending: what taskset, a cpuset
   * cgroup (container --cpuset-cpus, Kubernetes' static CPU manager) or systemd's AllowedCPUs= left
   * it. Node has no API for the set itself (os.availableParallelism() only counts it).
   */
  allowedCpus(): number[];
  /**
   * Raises this process's open-file limit (RLIMIT_NOFILE, soft and hard) to at least `wanted`, never
   * lowering it; children started afterwards (the workers) inherit it. Raising the hard limit needs
   * CAP_SYS_RESOURCE; the kernel caps it at fs.nr_open. Returns the limit in force.
   */
  raiseFileLimit(wanted: number): { soft: number; hard: number };
}

/** One attempt of probeConfinement: `error` is the errno name it failed with ("EPERM"), null if it succeeded. */
export interface ConfinementAttempt {
  attempt: string;
  error: string | null;
}

/**
 * Absolute path of the built addon. This module sits in dist/native/ when compiled and in native/
 * under ts-node; the addon is in build/Release/ at the package root either way.
 */
export function addonFile(): string {
  const fromDist = path.resolve(__dirname, '..', '..', 'build', 'Release', 'mcr.node');
  return fs.existsSync(fromDist) ? fromDist : path.resolve(__dirname, '..', 'build', 'Release', 'mcr.node');
}

let loaded: Native | undefined;

/** Loads the addon on first use. */
export function native(): Native {
  if (!loaded) loaded = require(addonFile()) as Native;
  return loaded;
}
