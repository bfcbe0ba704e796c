// The supervisor-side socket functions of the addon, exercised on the loopback interface (as root).
import { execFileSync } from 'child_process';
import { expect } from 'chai';
import dgram from 'dgram';
import fs from 'fs';
import os from 'os';
import { MembershipOpKind, native, type BpfInsn } from '../../native';
import { ipv6Words, parseIPv6 } from '../../server/formats/ipv6';
import { parseIgmp6, parseMcfilter6 } from '../support/igmp';

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

const lo = () => native().ifNameToIndex('lo');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function fdFlags(fd: number): number {
  const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  return parseInt(/^flags:\s+([0-7]+)/m.exec(info)![1], 8);
}

function isOpen(fd: number): boolean {
  return fs.existsSync(`/proc/self/fd/${fd}`);
}

/** Classic BPF accepting Ethernet/IPv4/UDP frames (first fragments) whose destination port is `port`. */
function udpPortFilter(port: number): BpfInsn[] {
  return [
    [0x28, 0, 0, 12], // ldh [12]            ethertype
    [0x15, 0, 8, 0x0800], // jeq IPv4, else drop
    [0x30, 0, 0, 23], // ldb [23]            IP protocol
    [0x15, 0, 6, 17], // jeq UDP, else drop
    [0x28, 0, 0, 20], // ldh [20]            flags + fragment offset
    [0x45, 4, 0, 0x1fff], // jset offset: drop
    [0xb1, 0, 0, 14], // ldxb 4*([14]&0xf)  IP header length
    [0x48, 0, 0, 16], // ldh [x+16]          UDP destination port
    [0x15, 0, 1, port], // jeq port, else drop
    [0x06, 0, 0, 0xffff], // ret accept
    [0x06, 0, 0, 0], // ret drop
  ];
}

interface Frame {
  tos: number;
  ttl: number;
  source: string;
  destination: string;
  port: number;
  payload: Buffer;
}

function parseFrame(frame: Buffer): Frame {
  const ip = frame.subarray(14);
  const udp = ip.subarray((ip[0] & 0x0f) * 4);
  return {
    tos: ip[1],
    ttl: ip[8],
    source: Array.from(ip.subarray(12, 16)).join('.'),
    destination: Array.from(ip.subarray(16, 20)).join('.'),
    port: udp.readUInt16BE(2),
    payload: udp.subarray(8, udp.readUInt16BE(4)),
  };
}

/** The virtio-net header a capture socket (PACKET_VNET_HDR) puts before each frame. */
const VNET_HEADER = 10;

/**
 * Reads frames from a non-blocking capture socket until `count` arrived or `ms` passed (each after
 * its virtio-net header, which for a frame not merged from several says so: gso_type 0).
 */
async function readFrames(fd: number, count: number, ms = 2000): Promise<Frame[]> {
  const frames: Frame[] = [];
  const buffer = Buffer.alloc(65536);
  const deadline = Date.now() + ms;
  while (frames.length < count && Date.now() < deadline) {
    try {
      const length = fs.readSync(fd, buffer);
      expect(buffer[1], 'gso_type of a frame not merged').to.equal(0);
      frames.push(parseFrame(Buffer.from(buffer.subarray(VNET_HEADER, length))));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      await sleep(5);
    }
  }
  return frames;
}

/** A UDP receiver on 127.0.0.1 (ephemeral port), collecting what it gets. */
async function udpReceiver(): Promise<{ socket: dgram.Socket; port: number; received: Buffer[] }> {
  const socket = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (message) => received.push(message));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, port: socket.address().port, received };
}

async function sendUdp(port: number, payloads: string[]): Promise<void> {
  const socket = dgram.createSocket('udp4');
  for (const payload of payloads) {
    await new Promise<void>((resolve, reject) => socket.send(payload, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  }
  socket.close();
}

/** A free UDP port on 127.0.0.1 (bound only long enough to learn it). */
async function freePort(): Promise<number> {
  const { socket, port } = await udpReceiver();
  socket.close();
  return port;
}

function expectErrno(fn: () => unknown, code: string, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected a throw').to.be.instanceOf(Error);
  expect(thrown).to.not.be.instanceOf(TypeError);
  expect((thrown as NodeJS.ErrnoException).code).to.equal(code);
  expect(typeof (thrown as NodeJS.ErrnoException).errno).to.equal('number');
  expect((thrown as Error).message).to.match(message);
}

/** Calls a native function with arguments its TypeScript signature would not allow. */
function untyped(name: keyof ReturnType<typeof native>): (...args: unknown[]) => unknown {
  return native()[name] as unknown as (...args: unknown[]) => unknown;
}

describe('native sockets', () => {
  const fds: number[] = [];
  const track = (fd: number) => {
    fds.push(fd);
    return fd;
  };
  afterEach(() => {
    for (const fd of fds.splice(0)) if (isOpen(fd)) native().closeFd(fd);
  });

  describe('interfaces and descriptors', () => {
    it('ifNameToIndex finds lo and answers 0 for a missing interface', () => {
      expect(lo()).to.be.greaterThan(0);
      expect(lo()).to.equal(Number(fs.readFileSync('/sys/class/net/lo/ifindex', 'utf8')));
      expect(native().ifNameToIndex('nonexistent0')).to.equal(0);
    });

    it('ifNameToIndex rejects what cannot be an interface name', () => {
      expect(() => native().ifNameToIndex('x'.repeat(16))).to.throw(TypeError, /1\.\.15/);
      expect(() => native().ifNameToIndex('')).to.throw(TypeError);
      expect(() => untyped('ifNameToIndex')(7)).to.throw(TypeError, /string/);
    });

    it('socketpair gives two connected CLOEXEC SEQPACKET ends', () => {
      const [a, b] = native().socketpair().map(track);
      expect(a).to.not.equal(b);
      expect(fdFlags(a) & O_CLOEXEC).to.equal(O_CLOEXEC);
      expect(fdFlags(b) & O_CLOEXEC).to.equal(O_CLOEXEC);
      fs.writeSync(a, 'one');
      fs.writeSync(a, 'two');
      const buffer = Buffer.alloc(16);
      // Record boundaries hold: each read returns one datagram.
      expect(buffer.toString('utf8', 0, fs.readSync(b, buffer))).to.equal('one');
      expect(buffer.toString('utf8', 0, fs.readSync(b, buffer))).to.equal('two');
    });

    it('setInheritable clears FD_CLOEXEC', () => {
      const [a] = native().socketpair().map(track);
      native().setInheritable(a);
      expect(fdFlags(a) & O_CLOEXEC).to.equal(0);
      expectErrno(() => native().setInheritable(999999), 'EBADF', /setInheritable \(fd 999999\): F_GETFD/);
      expect(() => untyped('setInheritable')(-1)).to.throw(TypeError, /fd/);
    });

    it('closeFd closes, and reports EBADF for an fd that is not open', () => {
      const [a, b] = native().socketpair();
      track(b);
      native().closeFd(a);
      expect(isOpen(a)).to.equal(false);
      expectErrno(() => native().closeFd(a), 'EBADF', /closeFd/);
      expect(() => untyped('closeFd')('3')).to.throw(TypeError, /fd/);
    });
  });

  describe('openPacketSocket', () => {
    it('opens a non-blocking CLOEXEC socket that sees only what its filter admits, once', async () => {
      const [wanted, other] = [await freePort(), await freePort()];
      const fd = track(native().openPacketSocket({ ifindex: lo(), rcvbuf: 1 << 20, filter: udpPortFilter(wanted) }));
      expect(fdFlags(fd) & (O_NONBLOCK | O_CLOEXEC)).to.equal(O_NONBLOCK | O_CLOEXEC);
      await sendUdp(other, ['not for us']);
      await sendUdp(wanted, ['a', 'b', 'c']);
      await sendUdp(other, ['not for us either']);
      const frames = await readFrames(fd, 4, 500);
      // PACKET_IGNORE_OUTGOING: on lo each datagram would otherwise show up twice (out and in).
      expect(frames.map((f) => f.payload.toString())).to.deep.equal(['a', 'b', 'c']);
      expect(frames.every((f) => f.port === wanted && f.destination === '127.0.0.1')).to.equal(true);
    });

    it('packetStatistics counts admitted frames and resets on read', async () => {
      const port = await freePort();
      const fd = track(native().openPacketSocket({ ifindex: lo(), rcvbuf: 1 << 20, filter: udpPortFilter(port) }));
      expect(native().packetStatistics(fd)).to.deep.equal({ packets: 0, drops: 0 });
      await sendUdp(port, ['1', '2', '3']);
      await sendUdp(await freePort(), ['filtered out']);
      await readFrames(fd, 3);
      expect(native().packetStatistics(fd)).to.deep.equal({ packets: 3, drops: 0 });
      expect(native().packetStatistics(fd)).to.deep.equal({ packets: 0, drops: 0 });
    });

    it('counts drops when the receive buffer is full', async () => {
      const port = await freePort();
      // rcvbuf 1: the kernel raises it to its minimum, a few frames' worth.
      const fd = track(native().openPacketSocket({ ifindex: lo(), rcvbuf: 1, filter: udpPortFilter(port) }));
      await sendUdp(port, new Array(50).fill('x'.repeat(1000)));
      const stats = native().packetStatistics(fd);
      expect(stats.packets).to.equal(50);
      expect(stats.drops).to.be.greaterThan(0);
      expect(stats.drops).to.be.lessThan(50);
    });

    it('attachFilter replaces the program', async () => {
      const [first, second] = [await freePort(), await freePort()];
      const fd = track(native().openPacketSocket({ ifindex: lo(), rcvbuf: 1 << 20, filter: udpPortFilter(first) }));
      await sendUdp(first, ['first']);
      await sendUdp(second, ['second']);
      expect((await readFrames(fd, 2, 300)).map((f) => f.payload.toString())).to.deep.equal(['first']);
      native().attachFilter(fd, udpPortFilter(second));
      await sendUdp(first, ['first again']);
      await sendUdp(second, ['second again']);
      expect((await readFrames(fd, 2, 300)).map((f) => f.payload.toString())).to.deep.equal(['second again']);
    });

    it('rejects malformed options and programs with TypeError', () => {
      const open = untyped('openPacketSocket');
      const attach = untyped('attachFilter');
      const filter = udpPortFilter(1);
      expect(() => open(undefined)).to.throw(TypeError, /options/);
      expect(() => open({ ifindex: 0, rcvbuf: 1, filter })).to.throw(TypeError, /options\.ifindex/);
      expect(() => open({ ifindex: 1.5, rcvbuf: 1, filter })).to.throw(TypeError, /options\.ifindex/);
      expect(() => open({ ifindex: 1, rcvbuf: 0, filter })).to.throw(TypeError, /options\.rcvbuf/);
      expect(() => open({ ifindex: 1, rcvbuf: 1 })).to.throw(TypeError, /options\.filter/);
      const badPrograms: [unknown, RegExp][] = [
        ['not an array', /array/],
        [[], /1\.\.4096/],
        [new Array(4097).fill([0x06, 0, 0, 0]), /1\.\.4096/],
        [[[0x06, 0, 0]], /program\[0\] must be an array/],
        [[[0x06, 0, 0, 0], 'x'], /program\[1\] must be an array/],
        [[[65536, 0, 0, 0]], /program\[0\]\.code/],
        [[[0x06, 256, 0, 0]], /program\[0\]\.jt/],
        [[[0x06, 0, -1, 0]], /program\[0\]\.jf/],
        [[[0x06, 0, 0, 2 ** 32]], /program\[0\]\.k/],
        [[[0x06, 0, 0, 0.5]], /program\[0\]\.k/],
        [[[0x06, 0, 0, '1']], /program\[0\]\.k/],
      ];
      for (const [program, message] of badPrograms) {
        expect(() => attach(0, program), String(program)).to.throw(TypeError, message);
      }
      expect(() => attach(-1, filter)).to.throw(TypeError, /fd/);
      expect(() => untyped('packetStatistics')(null)).to.throw(TypeError, /fd/);
    });

    it('throws errno errors naming the step and the interface', () => {
      expectErrno(
        () => native().openPacketSocket({ ifindex: 999999, rcvbuf: 4096, filter: udpPortFilter(1) }),
        'ENODEV',
        /openPacketSocket \(ifindex 999999\): bind/,
      );
      // The kernel's checker refuses a program that does not end in a return.
      expectErrno(
        () => native().openPacketSocket({ ifindex: lo(), rcvbuf: 4096, filter: [[0x28, 0, 0, 12]] }),
        'EINVAL',
        /openPacketSocket \(ifindex \d+\): SO_ATTACH_FILTER/,
      );
      const [a] = native().socketpair().map(track);
      expectErrno(() => native().packetStatistics(a), 'EOPNOTSUPP', /packetStatistics \(fd \d+\): PACKET_STATISTICS/);
      const file = fs.openSync('/proc/self/status', 'r');
      try {
        expectErrno(() => native().attachFilter(file, udpPortFilter(1)), 'ENOTSOCK', /attachFilter/);
      } finally {
        fs.closeSync(file);
      }
    });
  });

  describe('openEgressSocket', () => {
    const egress = (overrides: Partial<Parameters<ReturnType<typeof native>['openEgressSocket']>[0]>) =>
      track(
        native().openEgressSocket({
          ifname: 'lo',
          ifindex: lo(),
          ttl: 64,
          tos: 0,
          dontFragment: false,
          sndbuf: 1 << 20,
          ...overrides,
        }),
      );

    /** Sends one datagram through the socket `fd` to address:port with sendto, as the data plane does (from a child that inherits it). */
    const sendThrough = (fd: number, address: string, port: number, payload: string): void => {
      const script = 'import socket, sys\ns = socket.socket(fileno=3)\ns.sendto(sys.argv[1].encode(), (sys.argv[2], int(sys.argv[3])))';
      execFileSync('python3', ['-c', script, payload, address, String(port)], { stdio: ['ignore', 'pipe', 'pipe', fd] });
    };

    it('is not connected, and sends to each unicast destination it is given with the TTL and TOS given', async () => {
      const [first, second] = [await udpReceiver(), await udpReceiver()];
      try {
        const capture = track(native().openPacketSocket({ ifindex: lo(), rcvbuf: 1 << 20, filter: udpPortFilter(first.port) }));
        const fd = egress({ ttl: 9, tos: 0xb8 });
        expect(fdFlags(fd) & (O_NONBLOCK | O_CLOEXEC)).to.equal(O_NONBLOCK | O_CLOEXEC);
        // write() names no destination: an unconnected socket refuses it.
        expect(() => fs.writeSync(fd, Buffer.from('nowhere'))).to.throw(/EDESTADDRREQ/);
        sendThrough(fd, '127.0.0.1', first.port, 'relayed');
        sendThrough(fd, '127.0.0.1', second.port, 'also relayed');
        const [frame] = await readFrames(capture, 1);
        expect(frame).to.include({ ttl: 9, tos: 0xb8, destination: '127.0.0.1', port: first.port });
        for (let i = 0; i < 200 && (first.received.length === 0 || second.received.length === 0); i++) await sleep(5);
        expect(first.received.map((b) => b.toString())).to.deep.equal(['relayed']);
        expect(second.received.map((b) => b.toString())).to.deep.equal(['also relayed']);
      } finally {
        first.socket.close();
        second.socket.close();
      }
    });

    it('fragments by the interface MTU with DF clear (IP_PMTUDISC_OMIT), or never (dontFragment: IP_PMTUDISC_DO)', () => {
      // IP_MTU_DISCOVER (10), read from a child that inherits the socket.
      const mode = (fd: number) =>
        execFileSync('python3', ['-c', 'import socket\nprint(socket.socket(fileno=3).getsockopt(socket.IPPROTO_IP, 10))'], { stdio: ['ignore', 'pipe', 'pipe', fd] })
          .toString()
          .trim();
      expect([mode(egress({})), mode(egress({ dontFragment: true }))]).to.deep.equal(['5', '2']);
    });

    it('sends from a source address it is given, also one the host does not have (IP_TRANSPARENT)', () => {
      const local = (fd: number) =>
        execFileSync('python3', ['-c', 'import socket\nprint(socket.socket(fileno=3).getsockname()[0])'], { stdio: ['ignore', 'pipe', 'pipe', fd] })
          .toString()
          .trim();
      expect([local(egress({})), local(egress({ source: '' })), local(egress({ source: '192.0.2.7' }))]).to.deep.equal(['0.0.0.0', '0.0.0.0', '192.0.2.7']);
      expect(() => egress({ source: '192.0.2' })).to.throw(TypeError, /options\.source/);
    });

    it('queues an ICMP error about a destination on its error queue, naming that destination (IP_RECVERR)', async () => {
      const port = await freePort(); // nobody listens: ICMP port unreachable
      const fd = egress({});
      const script = [
        'import socket, struct, sys, time',
        's = socket.socket(fileno=3)',
        "s.sendto(b'x', ('127.0.0.1', int(sys.argv[1])))",
        'for _ in range(200):',
        '    try:',
        '        _, ancillary, _, address = s.recvmsg(0, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)',
        '        break',
        '    except BlockingIOError:',
        '        time.sleep(0.005)',
        "level, kind, data = ancillary[0]",
        "errno, origin, icmpType, icmpCode = struct.unpack('=IBBB', data[:7])",
        "print(level, kind, errno, origin, icmpType, icmpCode, address[0], address[1])",
      ].join('\n');
      const out = execFileSync('python3', ['-c', script, String(port)], { stdio: ['ignore', 'pipe', 'pipe', fd], encoding: 'utf8' }).trim();
      // SOL_IP IP_RECVERR, ECONNREFUSED from SO_EE_ORIGIN_ICMP, type 3 (unreachable) code 3 (port).
      expect(out).to.equal(`0 11 ${os.constants.errno.ECONNREFUSED} 2 3 3 127.0.0.1 ${port}`);
    });

    it('sends to a multicast destination out of the interface with the same TTL (IP_MULTICAST_TTL)', async () => {
      const port = await freePort();
      const group = `239.255.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
      const capture = track(native().openPacketSocket({ ifindex: lo(), rcvbuf: 1 << 20, filter: udpPortFilter(port) }));
      const fd = egress({ ttl: 3, tos: 0x20 });
      sendThrough(fd, group, port, 'to the group');
      const frames = await readFrames(capture, 1);
      expect(frames).to.have.length(1);
      expect(frames[0]).to.include({ ttl: 3, tos: 0x20, destination: group, port });
      expect(frames[0].payload.toString()).to.equal('to the group');
    });

    it('setSendBuffer sets the send buffer (the kernel reports twice the value), and names the fd when it fails', () => {
      const fd = egress({ sndbuf: 1 << 20 });
      const sendBuffer = (): number =>
        Number(
          execFileSync('python3', ['-c', 'import socket\nprint(socket.socket(fileno=3).getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))'], {
            stdio: ['ignore', 'pipe', 'pipe', fd],
            encoding: 'utf8',
          }).trim(),
        );
      expect(sendBuffer()).to.equal(2 << 20);
      native().setSendBuffer(fd, 3 << 20);
      expect(sendBuffer()).to.equal(6 << 20);
      expect(() => untyped('setSendBuffer')(fd, 0)).to.throw(TypeError, /bytes/);
      expect(() => untyped('setSendBuffer')('x', 4096)).to.throw(TypeError, /fd/);
      const file = fs.openSync('/dev/null', 'r');
      try {
        expectErrno(() => native().setSendBuffer(file, 4096), 'ENOTSOCK', new RegExp(`setSendBuffer \\(fd ${file}\\): SO_SNDBUFFORCE`));
      } finally {
        fs.closeSync(file);
      }
    });

    it('rejects malformed options with TypeError', () => {
      const open = untyped('openEgressSocket');
      const good = { ifname: 'lo', ifindex: 1, ttl: 1, tos: 0, sndbuf: 4096 };
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ ifname: 'x'.repeat(16) }, /options\.ifname/],
        [{ ifname: 5 }, /options\.ifname/],
        [{ ifindex: -2 }, /options\.ifindex/],
        [{ ttl: 0 }, /options\.ttl/],
        [{ ttl: 256 }, /options\.ttl/],
        [{ tos: -1 }, /options\.tos/],
        [{ tos: 256 }, /options\.tos/],
        [{ sndbuf: 0 }, /options\.sndbuf/],
        [{ sndbuf: undefined }, /options\.sndbuf/],
      ];
      for (const [override, message] of cases) {
        expect(() => open({ ...good, ...override }), JSON.stringify(override)).to.throw(TypeError, message);
      }
      expect(() => open('lo')).to.throw(TypeError, /options/);
    });

    it('throws errno errors naming the step, interface, TTL and TOS', () => {
      expectErrno(
        () => egress({ ifname: 'nonexistent0', ifindex: 999999 }),
        'ENODEV',
        /openEgressSocket \(nonexistent0 ifindex 999999 ttl 64 tos 0\): SO_BINDTODEVICE/,
      );
      expectErrno(() => egress({ ifindex: 999999, ttl: 5, tos: 4 }), 'EADDRNOTAVAIL', /openEgressSocket \(lo ifindex 999999 ttl 5 tos 4\): IP_MULTICAST_IF/);
    });
  });

  describe('group membership', () => {
    const randomOctet = () => 1 + Math.floor(Math.random() * 250);

    /** Groups /proc/net/igmp lists for lo, as dotted quads. */
    function igmpGroupsOnLo(): string[] {
      const groups: string[] = [];
      let device = '';
      for (const line of fs.readFileSync('/proc/net/igmp', 'utf8').split('\n').slice(1)) {
        const header = /^\d+\s+(\S+)\s*:/.exec(line);
        if (header) {
          device = header[1];
        } else if (device === 'lo' && line.trim()) {
          // The group is the raw (network order) 32-bit value printed as a host-order number.
          const raw = Buffer.alloc(4);
          const value = parseInt(line.trim().split(/\s+/)[0], 16);
          if (os.endianness() === 'LE') raw.writeUInt32LE(value);
          else raw.writeUInt32BE(value);
          groups.push(Array.from(raw).join('.'));
        }
      }
      return groups;
    }

    /** (group, source) pairs /proc/net/mcfilter lists for lo. */
    function sourceFiltersOnLo(): string[] {
      const toDotted = (hex: string) => {
        const raw = Buffer.alloc(4);
        raw.writeUInt32BE(parseInt(hex, 16));
        return Array.from(raw).join('.');
      };
      return fs
        .readFileSync('/proc/net/mcfilter', 'utf8')
        .split('\n')
        .slice(1)
        .map((line) => line.trim().split(/\s+/))
        .filter((fields) => fields[1] === 'lo')
        .map((fields) => `${toDotted(fields[3])} from ${toDotted(fields[2])}`);
    }

    it('opens an unbound CLOEXEC UDP socket', () => {
      const fd = track(native().openMembershipSocket());
      expect(fdFlags(fd) & O_CLOEXEC).to.equal(O_CLOEXEC);
      expect(fs.readlinkSync(`/proc/self/fd/${fd}`)).to.match(/^socket:/);
    });

    it('joins and leaves a group on lo', () => {
      const fd = track(native().openMembershipSocket());
      const group = `239.254.${randomOctet()}.${randomOctet()}`;
      native().joinGroup(fd, group, lo());
      expect(igmpGroupsOnLo()).to.include(group);
      native().leaveGroup(fd, group, lo());
      expect(igmpGroupsOnLo()).to.not.include(group);
    });

    it('joins and leaves a source-specific channel on lo', () => {
      const fd = track(native().openMembershipSocket());
      const group = `232.1.${randomOctet()}.${randomOctet()}`;
      native().joinGroup(fd, group, lo(), '127.0.0.5');
      expect(igmpGroupsOnLo()).to.include(group);
      expect(sourceFiltersOnLo()).to.include(`127.0.0.5 from ${group}`);
      native().leaveGroup(fd, group, lo(), '127.0.0.5');
      expect(igmpGroupsOnLo()).to.not.include(group);
      expect(sourceFiltersOnLo()).to.not.include(`127.0.0.5 from ${group}`);
    });

    it("treats '' as no source", () => {
      const fd = track(native().openMembershipSocket());
      const group = `239.254.${randomOctet()}.${randomOctet()}`;
      native().joinGroup(fd, group, lo(), '');
      expect(igmpGroupsOnLo()).to.include(group);
      native().leaveGroup(fd, group, lo(), '');
      expect(igmpGroupsOnLo()).to.not.include(group);
    });

    it('closing the socket drops its memberships', () => {
      const fd = native().openMembershipSocket();
      const group = `239.254.${randomOctet()}.${randomOctet()}`;
      native().joinGroup(fd, group, lo());
      native().closeFd(fd);
      expect(igmpGroupsOnLo()).to.not.include(group);
    });

    it('rejects malformed arguments with TypeError', () => {
      const join = untyped('joinGroup');
      const leave = untyped('leaveGroup');
      for (const change of [join, leave]) {
        expect(() => change(-1, '239.1.1.1', 1)).to.throw(TypeError, /fd/);
        expect(() => change(3, '10.1.1.1', 1)).to.throw(TypeError, /multicast/);
        expect(() => change(3, '239.1.1', 1)).to.throw(TypeError, /group/);
        expect(() => change(3, '239.1.1.1', 0)).to.throw(TypeError, /ifindex/);
        expect(() => change(3, '239.1.1.1', 1, '239.2.2.2')).to.throw(TypeError, /unicast/);
        expect(() => change(3, '239.1.1.1', 1, '0.0.0.0')).to.throw(TypeError, /unicast/);
        expect(() => change(3, '239.1.1.1', 1, 'nope')).to.throw(TypeError, /source/);
      }
    });

    describe('IPv6 (MLD)', () => {
      const randomGroup = () => `ff3e::${randomOctet().toString(16)}:${randomOctet().toString(16)}`;
      const groupsOnLo = () => parseIgmp6(fs.readFileSync('/proc/net/igmp6', 'utf8')).get('lo') ?? [];
      const filtersOnLo = () => parseMcfilter6(fs.readFileSync('/proc/net/mcfilter6', 'utf8')).get('lo') ?? [];

      it('opens an unbound CLOEXEC socket of either family, and refuses any other', () => {
        const fd = track(native().openMembershipSocket(6));
        expect(fdFlags(fd) & O_CLOEXEC).to.equal(O_CLOEXEC);
        expect(fs.readlinkSync(`/proc/self/fd/${fd}`)).to.match(/^socket:/);
        track(native().openMembershipSocket(4));
        const open = untyped('openMembershipSocket');
        for (const family of [5, 0, '6', 6.5, null]) expect(() => open(family), String(family)).to.throw(TypeError, /family must be 4 or 6/);
      });

      it('joins and leaves a group on lo (MCAST_JOIN_GROUP)', () => {
        const fd = track(native().openMembershipSocket(6));
        const group = randomGroup();
        native().joinGroup(fd, group, lo());
        expect(groupsOnLo()).to.include(group);
        native().leaveGroup(fd, group, lo());
        expect(groupsOnLo()).to.not.include(group);
      });

      it('joins and leaves a source-specific channel on lo (MCAST_JOIN_SOURCE_GROUP)', () => {
        const fd = track(native().openMembershipSocket(6));
        const group = randomGroup();
        native().joinGroup(fd, group, lo(), '2001:db8::5');
        expect(groupsOnLo()).to.include(group);
        expect(filtersOnLo()).to.include(`2001:db8::5>${group}`);
        native().leaveGroup(fd, group, lo(), '2001:db8::5');
        expect(groupsOnLo()).to.not.include(group);
        expect(filtersOnLo()).to.not.include(`2001:db8::5>${group}`);
      });

      it('closing the socket drops its memberships', () => {
        const fd = native().openMembershipSocket(6);
        const group = randomGroup();
        native().joinGroup(fd, group, lo(), '');
        expect(groupsOnLo()).to.include(group);
        native().closeFd(fd);
        expect(groupsOnLo()).to.not.include(group);
      });

      it('rejects malformed arguments with TypeError, a source of the other family too', () => {
        for (const change of [untyped('joinGroup'), untyped('leaveGroup')]) {
          expect(() => change(3, '2001:db8::1', 1)).to.throw(TypeError, /group must be an IPv4 or IPv6 multicast address/);
          expect(() => change(3, 'ff3e::g', 1)).to.throw(TypeError, /group/);
          expect(() => change(3, 'ff3e::1%lo', 1)).to.throw(TypeError, /group/);
          expect(() => change(3, 'ff3e::1', 0)).to.throw(TypeError, /ifindex/);
          expect(() => change(3, 'ff3e::1', 1, 'ff02::1')).to.throw(TypeError, /source must be a unicast IPv6 address/);
          expect(() => change(3, 'ff3e::1', 1, '::')).to.throw(TypeError, /source must be a unicast IPv6 address/);
          expect(() => change(3, 'ff3e::1', 1, '10.0.0.1')).to.throw(TypeError, /source must be a unicast IPv6 address/);
          expect(() => change(3, '232.1.1.1', 1, '2001:db8::1')).to.throw(TypeError, /source must be a unicast IPv4 address/);
        }
      });

      it('throws errno errors naming the group as text and the option', () => {
        const fd = track(native().openMembershipSocket(6));
        expectErrno(() => native().joinGroup(fd, 'ff3e::1', 999999), 'ENODEV', /^joinGroup \(ff3e::1 on ifindex 999999\): MCAST_JOIN_GROUP: No such device$/);
        expectErrno(
          () => native().joinGroup(fd, 'FF3E:0::1', 999999, '2001:DB8::1'),
          'ENODEV',
          /^joinGroup \(2001:db8::1, ff3e::1 on ifindex 999999\): MCAST_JOIN_SOURCE_GROUP: No such device$/,
        );
        const group = randomGroup();
        native().joinGroup(fd, group, lo());
        expectErrno(() => native().joinGroup(fd, group, lo()), 'EADDRINUSE', /MCAST_JOIN_GROUP/);
        native().leaveGroup(fd, group, lo());
        expectErrno(() => native().leaveGroup(fd, group, lo()), 'EADDRNOTAVAIL', /^leaveGroup .*MCAST_LEAVE_GROUP/);
        // An IPv6 group on an IPv4 socket: the kernel has no IPv6 options there.
        const fd4 = track(native().openMembershipSocket(4));
        expectErrno(() => native().joinGroup(fd4, group, lo()), 'ENOPROTOOPT', /MCAST_JOIN_GROUP/);
      });
    });

    it('throws errno errors naming the group and interface', () => {
      const fd = track(native().openMembershipSocket());
      expectErrno(
        () => native().joinGroup(fd, '239.1.2.3', 999999),
        'ENODEV',
        /joinGroup \(239\.1\.2\.3 on ifindex 999999\): IP_ADD_MEMBERSHIP/,
      );
      expectErrno(
        () => native().joinGroup(fd, '232.1.2.3', 999999, '10.0.0.1'),
        'ENODEV',
        /joinGroup \(10\.0\.0\.1, 232\.1\.2\.3 on ifindex 999999\): MCAST_JOIN_SOURCE_GROUP/,
      );
      const group = `239.254.${randomOctet()}.${randomOctet()}`;
      native().joinGroup(fd, group, lo());
      expectErrno(() => native().joinGroup(fd, group, lo()), 'EADDRINUSE', /IP_ADD_MEMBERSHIP/);
      native().leaveGroup(fd, group, lo());
      expectErrno(() => native().leaveGroup(fd, group, lo()), 'EADDRNOTAVAIL', /leaveGroup .*IP_DROP_MEMBERSHIP/);
    });

    describe('applyMemberships: a batch of steps on a background thread', () => {
      const JOIN = MembershipOpKind.join;
      const LEAVE = MembershipOpKind.leave;
      const CLOSE = MembershipOpKind.close;
      /** Host-order value of a dotted quad. */
      const v4 = (text: string) => text.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
      /** The four words of an IPv6 address. */
      const v6 = (text: string) => [...ipv6Words(parseIPv6(text)!)];
      const IPV6 = MembershipOpKind.ipv6;
      const batch = (...steps: number[][]) => new Uint32Array(steps.flat());

      it('runs the steps in order and tells what each did, as joinGroup/leaveGroup would have thrown it', async () => {
        const fd = native().openMembershipSocket();
        const group = `239.254.${randomOctet()}.${randomOctet()}`;
        const step = (kind: number) => [kind, fd, v4(group), lo(), 0];
        // join, join again (refused), leave, leave again (refused), join: joined in the end.
        const first = await native().applyMemberships(batch(step(JOIN), step(JOIN), step(LEAVE), step(LEAVE), step(JOIN)));
        const { EADDRINUSE, EADDRNOTAVAIL } = os.constants.errno;
        expect([...first.errno]).to.deep.equal([0, EADDRINUSE, 0, EADDRNOTAVAIL, 0]);
        expect(first.failures.map(({ index, code, errno }) => ({ index, code, errno }))).to.deep.equal([
          { index: 1, code: 'EADDRINUSE', errno: EADDRINUSE },
          { index: 3, code: 'EADDRNOTAVAIL', errno: EADDRNOTAVAIL },
        ]);
        expect(first.failures[0].message).to.equal(`joinGroup (${group} on ifindex ${lo()}): IP_ADD_MEMBERSHIP: Address already in use`);
        expect(first.failures[1].message).to.match(new RegExp(`^leaveGroup \\(${group.replace(/\./g, '\\.')} on ifindex ${lo()}\\): IP_DROP_MEMBERSHIP: `));
        expect(igmpGroupsOnLo()).to.include(group);
        // A close leaves what the socket holds.
        const second = await native().applyMemberships(batch([CLOSE, fd, 0, 0, 0]));
        expect([...second.errno]).to.deep.equal([0]);
        expect(isOpen(fd)).to.equal(false);
        expect(igmpGroupsOnLo()).to.not.include(group);
      });

      it('joins and leaves source-specific channels, and names a failed one with its source', async () => {
        const fd = track(native().openMembershipSocket());
        const group = `232.1.${randomOctet()}.${randomOctet()}`;
        const joined = await native().applyMemberships(batch([JOIN, fd, v4(group), lo(), v4('127.0.0.5')], [JOIN, fd, v4(group), 999999, v4('10.0.0.1')]));
        expect(sourceFiltersOnLo()).to.include(`127.0.0.5 from ${group}`);
        expect(joined.failures).to.deep.equal([
          {
            index: 1,
            code: 'ENODEV',
            errno: os.constants.errno.ENODEV,
            message: `joinGroup (10.0.0.1, ${group} on ifindex 999999): MCAST_JOIN_SOURCE_GROUP: No such device`,
          },
        ]);
        const left = await native().applyMemberships(batch([LEAVE, fd, v4(group), lo(), v4('127.0.0.5')]));
        expect(left.failures).to.deep.equal([]);
        expect(sourceFiltersOnLo()).to.not.include(`127.0.0.5 from ${group}`);
      });

      it('runs IPv6 steps (11 words) among IPv4 ones (5) in order, naming a failed one with its addresses as text', async () => {
        const fd4 = track(native().openMembershipSocket(4));
        const fd6 = track(native().openMembershipSocket(6));
        const group4 = `239.254.${randomOctet()}.${randomOctet()}`;
        const group6 = `ff3e::${randomOctet().toString(16)}:${randomOctet().toString(16)}`;
        const channel = `ff3e::1:${randomOctet().toString(16)}`;
        const groupsOnLo6 = () => parseIgmp6(fs.readFileSync('/proc/net/igmp6', 'utf8')).get('lo') ?? [];
        const filtersOnLo6 = () => parseMcfilter6(fs.readFileSync('/proc/net/mcfilter6', 'utf8')).get('lo') ?? [];
        const joined = await native().applyMemberships(
          batch(
            [JOIN | IPV6, fd6, ...v6(group6), lo(), 0, 0, 0, 0],
            [JOIN, fd4, v4(group4), lo(), 0],
            [JOIN | IPV6, fd6, ...v6(channel), lo(), ...v6('2001:db8::7')],
            [JOIN | IPV6, fd6, ...v6(group6), lo(), 0, 0, 0, 0],
            [JOIN | IPV6, fd6, ...v6('ff3e::5'), 999999, ...v6('2001:db8::1')],
          ),
        );
        expect([...joined.errno]).to.deep.equal([0, 0, 0, os.constants.errno.EADDRINUSE, os.constants.errno.ENODEV]);
        expect(joined.failures.map(({ index, message }) => ({ index, message }))).to.deep.equal([
          { index: 3, message: `joinGroup (${group6} on ifindex ${lo()}): MCAST_JOIN_GROUP: Address already in use` },
          { index: 4, message: 'joinGroup (2001:db8::1, ff3e::5 on ifindex 999999): MCAST_JOIN_SOURCE_GROUP: No such device' },
        ]);
        expect(groupsOnLo6()).to.include.members([group6, channel]);
        expect(filtersOnLo6()).to.include(`2001:db8::7>${channel}`);
        expect(igmpGroupsOnLo()).to.include(group4);
        const left = await native().applyMemberships(
          batch([LEAVE | IPV6, fd6, ...v6(channel), lo(), ...v6('2001:db8::7')], [LEAVE, fd4, v4(group4), lo(), 0], [LEAVE | IPV6, fd6, ...v6(group6), lo(), 0, 0, 0, 0]),
        );
        expect(left.failures).to.deep.equal([]);
        expect(groupsOnLo6()).to.not.include.members([group6]);
        expect(groupsOnLo6()).to.not.include.members([channel]);
        expect(igmpGroupsOnLo()).to.not.include(group4);
      });

      it('resolves an empty batch with no results', async () => {
        const { errno, failures } = await native().applyMemberships(new Uint32Array(0));
        expect(errno).to.be.instanceOf(Int32Array).with.length(0);
        expect(failures).to.deep.equal([]);
      });

      it('rejects a malformed batch with TypeError before running any of it', () => {
        const apply = untyped('applyMemberships');
        const fd = track(native().openMembershipSocket());
        const group = `239.254.${randomOctet()}.${randomOctet()}`;
        const good = [JOIN, fd, v4(group), lo(), 0];
        expect(() => apply([JOIN, fd, v4(group), lo(), 0])).to.throw(TypeError, /Uint32Array/);
        expect(() => apply(new Int32Array(good))).to.throw(TypeError, /Uint32Array/);
        expect(() => apply(new Uint32Array(4))).to.throw(TypeError, /whole/);
        expect(() => apply(batch(good, [3, fd, v4(group), lo(), 0]))).to.throw(TypeError, /ops\[1\]\.kind/);
        expect(() => apply(batch(good, [JOIN, 2 ** 31, v4(group), lo(), 0]))).to.throw(TypeError, /ops\[1\]\.fd/);
        expect(() => apply(batch(good, [JOIN, fd, v4('10.1.1.1'), lo(), 0]))).to.throw(TypeError, /ops\[1\]\.group must be an IPv4 multicast/);
        expect(() => apply(batch(good, [LEAVE, fd, v4(group), 0, 0]))).to.throw(TypeError, /ops\[1\]\.ifindex/);
        expect(() => apply(batch(good, [JOIN, fd, v4(group), lo(), v4('239.2.2.2')]))).to.throw(TypeError, /ops\[1\]\.source/);
        expect(() => apply(batch(good, [JOIN, fd, v4(group), lo(), v4('255.255.255.255')]))).to.throw(TypeError, /ops\[1\]\.source/);
        expect(() => apply(batch(good, [CLOSE, fd, v4(group), 0, 0]))).to.throw(TypeError, /ops\[1\].*close must be 0/);
        // IPv6 steps: 11 words, their addresses checked as IPv6.
        const good6 = [JOIN | IPV6, fd, ...v6('ff3e::1'), lo(), 0, 0, 0, 0];
        expect(() => apply(batch(good, good6.slice(0, 10)))).to.throw(TypeError, /whole .*ops\[1\] needs 11 words, 10 are left/);
        expect(() => apply(batch(good6, [CLOSE | IPV6, fd, 0, 0, 0]))).to.throw(TypeError, /ops\[1\]\.kind/);
        expect(() => apply(batch(good, [JOIN | IPV6, fd, ...v6('2001:db8::1'), lo(), 0, 0, 0, 0]))).to.throw(TypeError, /ops\[1\]\.group must be an IPv6 multicast/);
        expect(() => apply(batch(good, [JOIN | IPV6, fd, ...v6('ff3e::1'), 0, 0, 0, 0, 0]))).to.throw(TypeError, /ops\[1\]\.ifindex/);
        expect(() => apply(batch(good, [JOIN | IPV6, fd, ...v6('ff3e::1'), lo(), ...v6('ff02::1')]))).to.throw(TypeError, /ops\[1\]\.source must be 0 \(any\) or a unicast IPv6/);
        // An IPv4 step whose group reads as the first word of an IPv6 one (the flag missing).
        expect(() => apply(batch(good, [JOIN, fd, ...v6('2001:db8::1'), lo(), 0, 0, 0, 0]))).to.throw(TypeError, /ops\[1\]\.group must be an IPv4 multicast/);
        expect(igmpGroupsOnLo(), 'the good first step did not run').to.not.include(group);
      });
    });
  });
});
