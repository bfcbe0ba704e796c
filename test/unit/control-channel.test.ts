import { expect } from 'chai';
import { spawnSync } from 'child_process';
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { addonFile, native, type ControlChannel } from '../../native';

const O_CLOEXEC = 0o2000000;
const CHUNK_PAYLOAD = 64 * 1024 - 1;

interface Received {
  data: Buffer;
  fds: number[];
}

/** One wrapped end of a socketpair, recording everything its callbacks are given. */
class Endpoint {
  readonly messages: Received[] = [];
  readonly closeReasons: string[] = [];
  readonly channel: ControlChannel;

  constructor(fd: number) {
    this.channel = new (native().ControlChannel)(
      fd,
      (data, fds) => this.messages.push({ data, fds }),
      (reason) => this.closeReasons.push(reason),
    );
  }
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function fdFlags(fd: number): number {
  const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  return parseInt(/^flags:\s+([0-7]+)/m.exec(info)![1], 8);
}

function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

const tempDirs: string[] = [];

function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-cc-'));
  tempDirs.push(dir);
  return path.join(dir, 'file');
}

describe('native ControlChannel', () => {
  const open: Endpoint[] = [];
  const rawFds: number[] = [];

  /** Two connected channels. */
  function pair(): [Endpoint, Endpoint] {
    const [a, b] = native().socketpair();
    const ends: [Endpoint, Endpoint] = [new Endpoint(a), new Endpoint(b)];
    open.push(...ends);
    return ends;
  }

  /** A channel whose peer is a raw socket the test reads and writes datagram by datagram. */
  function rawPair(): [Endpoint, number] {
    const [a, b] = native().socketpair();
    const end = new Endpoint(a);
    open.push(end);
    rawFds.push(b);
    return [end, b];
  }

  after(() => {
    for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    for (const end of open.splice(0)) end.channel.close();
    for (const fd of rawFds.splice(0)) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed by the test
      }
    }
  });

  it('carries a small message both ways', async () => {
    const [a, b] = pair();
    a.channel.send(Buffer.from('ping'));
    b.channel.send(Buffer.from('pong'), []);
    await waitFor('both messages', () => a.messages.length === 1 && b.messages.length === 1);
    expect(b.messages[0].data.toString()).to.equal('ping');
    expect(b.messages[0].fds).to.deep.equal([]);
    expect(a.messages[0].data.toString()).to.equal('pong');
  });

  it('carries an empty message', async () => {
    const [a, b] = pair();
    a.channel.send(Buffer.alloc(0));
    await waitFor('the message', () => b.messages.length === 1);
    expect(b.messages[0].data.length).to.equal(0);
  });

  it('carries a 5 MB message intact', async () => {
    const [a, b] = pair();
    const big = crypto.randomBytes(5 * 1024 * 1024);
    a.channel.send(big);
    await waitFor('the message', () => b.messages.length === 1);
    expect(b.messages[0].data.length).to.equal(big.length);
    expect(b.messages[0].data.equals(big)).to.equal(true);
  });

  it('copies the data at send(): later changes to the buffer do not travel', async () => {
    const [a, b] = pair();
    const data = Buffer.from('original');
    a.channel.send(data);
    data.write('modified');
    await waitFor('the message', () => b.messages.length === 1);
    expect(b.messages[0].data.toString()).to.equal('original');
  });

  it('passes fds that refer to the same open files, CLOEXEC, leaving the sender its own', async () => {
    const [a, b] = pair();
    const file = tempFile();
    const fd = fs.openSync(file, 'w+');
    const [pipeRead, pipeWrite] = native().socketpair();
    try {
      a.channel.send(Buffer.from('with fds'), [fd, pipeWrite]);
      await waitFor('the message', () => b.messages.length === 1);
      const [fileCopy, pipeCopy] = b.messages[0].fds;
      expect(b.messages[0].fds).to.have.length(2);
      expect(fileCopy).to.not.equal(fd);
      expect(fdFlags(fileCopy) & O_CLOEXEC).to.equal(O_CLOEXEC);

      fs.writeSync(fileCopy, 'written through the received fd');
      expect(fs.readFileSync(file, 'utf8')).to.equal('written through the received fd');
      fs.writeSync(pipeCopy, 'through the pipe');
      const got = Buffer.alloc(64);
      expect(got.toString('utf8', 0, fs.readSync(pipeRead, got))).to.equal('through the pipe');

      fs.closeSync(fileCopy);
      fs.closeSync(pipeCopy);
      expect(fs.fstatSync(fd).isFile()).to.equal(true); // the sender's fd is untouched
    } finally {
      fs.closeSync(fd);
      native().closeFd(pipeRead);
      native().closeFd(pipeWrite);
    }
  });

  it('passes fds with a multi-chunk message (on its first chunk)', async () => {
    const [a, b] = pair();
    const file = tempFile();
    const fd = fs.openSync(file, 'w+');
    try {
      const data = crypto.randomBytes(3 * CHUNK_PAYLOAD + 17);
      a.channel.send(data, [fd]);
      a.channel.send(Buffer.from('after'));
      await waitFor('both messages', () => b.messages.length === 2);
      expect(b.messages[0].data.equals(data)).to.equal(true);
      expect(b.messages[0].fds).to.have.length(1);
      expect(b.messages[1].fds).to.deep.equal([]);
      fs.writeSync(b.messages[0].fds[0], 'x');
      expect(fs.readFileSync(file, 'utf8')).to.equal('x');
      fs.closeSync(b.messages[0].fds[0]);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('keeps the order of 1000 messages of mixed sizes', async () => {
    const [a, b] = pair();
    const sent: Buffer[] = [];
    for (let i = 0; i < 1000; i++) {
      const size = i % 100 === 99 ? CHUNK_PAYLOAD * 2 + i : i * 7;
      const data = Buffer.alloc(Math.max(size, 4), i & 0xff);
      data.writeUInt32BE(i, 0);
      sent.push(data);
      a.channel.send(data);
    }
    await waitFor('1000 messages', () => b.messages.length === 1000);
    b.messages.forEach((m, i) => expect(m.data.equals(sent[i]), `message ${i}`).to.equal(true));
  });

  it('leaks no fds: duplicates are closed once sent', async () => {
    const file = tempFile();
    const fd = fs.openSync(file, 'w+');
    const before = openFdCount();
    const [a, b] = pair();
    for (let i = 0; i < 20; i++) a.channel.send(Buffer.from([i]), [fd, fd]);
    await waitFor('20 messages', () => b.messages.length === 20);
    for (const m of b.messages) m.fds.forEach((received) => fs.closeSync(received));
    a.channel.close();
    b.channel.close();
    fs.closeSync(fd);
    expect(openFdCount()).to.equal(before - 1);
  });

  it('uses the wire format: 1-byte header, chunks of at most 64 KiB', async () => {
    const [end, raw] = rawPair();
    const data = crypto.randomBytes(CHUNK_PAYLOAD + 10);
    end.channel.send(data);
    const chunk = Buffer.alloc(128 * 1024);
    // The chunks are already on their way from the writer thread: these reads do not wait long.
    const first = fs.readSync(raw, chunk);
    expect(first).to.equal(64 * 1024);
    expect(chunk[0]).to.equal(1);
    expect(chunk.subarray(1, first).equals(data.subarray(0, CHUNK_PAYLOAD))).to.equal(true);
    const second = fs.readSync(raw, chunk);
    expect(second).to.equal(11);
    expect(chunk[0]).to.equal(0);
    expect(chunk.subarray(1, second).equals(data.subarray(CHUNK_PAYLOAD))).to.equal(true);

    fs.writeSync(raw, Buffer.from('\x01ab'));
    fs.writeSync(raw, Buffer.from('\x00cd'));
    await waitFor('the message', () => end.messages.length === 1);
    expect(end.messages[0].data.toString()).to.equal('abcd');
  });

  it('calls onClose once with "peer closed" when the peer closes', async () => {
    const [a, b] = pair();
    a.channel.close();
    await waitFor('onClose', () => b.closeReasons.length === 1);
    await sleep(50);
    expect(b.closeReasons).to.deep.equal(['peer closed']);
    expect(a.closeReasons).to.deep.equal([]); // close() itself does not call onClose
  });

  it('close() still hands the socket what was queued, as far as it has room', async () => {
    const [a, b] = pair();
    a.channel.send(Buffer.from('goodbye'), []);
    a.channel.send(Buffer.alloc(100000, 1)); // two chunks: fits as well
    a.channel.close();
    await waitFor('onClose', () => b.closeReasons.length === 1);
    expect(b.messages.map((m) => m.data.length)).to.deep.equal([7, 100000]);
    expect(b.messages[0].data.toString()).to.equal('goodbye');
  });

  it('delivers what arrived before the peer closed, then onClose', async () => {
    const [end, raw] = rawPair();
    fs.writeSync(raw, Buffer.from('\x00last words'));
    native().closeFd(raw);
    await waitFor('onClose', () => end.closeReasons.length === 1);
    expect(end.messages.map((m) => m.data.toString())).to.deep.equal(['last words']);
    expect(end.closeReasons).to.deep.equal(['peer closed']);
  });

  it('closes the channel on a malformed chunk', async () => {
    const [end, raw] = rawPair();
    fs.writeSync(raw, Buffer.from([7, 1, 2]));
    await waitFor('onClose', () => end.closeReasons.length === 1);
    expect(end.closeReasons).to.deep.equal(['bad chunk header 7']);
    expect(end.messages).to.deep.equal([]);
  });

  it('closes the channel on a chunk over 64 KiB', async () => {
    const [end, raw] = rawPair();
    fs.writeSync(raw, Buffer.alloc(64 * 1024 + 1));
    await waitFor('onClose', () => end.closeReasons.length === 1);
    expect(end.closeReasons).to.deep.equal(['chunk larger than 65536 bytes']);
  });

  it('refuses a message over 64 MiB', async function () {
    this.timeout(60000);
    const [end, raw] = rawPair();
    const chunk = Buffer.alloc(64 * 1024, 0x55);
    chunk[0] = 1; // more chunks follow, forever
    let written = 0;
    try {
      // Blocking writes: the channel's reader thread drains them until it gives up.
      while (written <= 64 * 1024 * 1024 + 2 * CHUNK_PAYLOAD) {
        fs.writeSync(raw, chunk);
        written += CHUNK_PAYLOAD;
      }
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).to.equal('EPIPE'); // the channel shut its end down
    }
    await waitFor('onClose', () => end.closeReasons.length === 1);
    expect(end.closeReasons).to.deep.equal(['message exceeds 64 MiB']);
    expect(end.messages).to.deep.equal([]);
  });

  it('runs no callback after close() returns, even when closed from a callback', async () => {
    const [end, raw] = native().socketpair();
    rawFds.push(raw);
    let closed = false;
    let late = 0;
    const seen: number[] = [];
    const channel = new (native().ControlChannel)(
      end,
      (data) => {
        if (closed) late++;
        seen.push(data[0]);
        channel.close();
        closed = true;
      },
      () => {
        if (closed) late++;
      },
    );
    for (let i = 0; i < 8; i++) fs.writeSync(raw, Buffer.from([0, i]));
    await waitFor('the first message', () => seen.length > 0);
    await sleep(100);
    expect(seen).to.deep.equal([0]);
    expect(late).to.equal(0);
  });

  it('drops events still queued at close(), closing the fds they carried', async () => {
    const file = tempFile();
    const fd = fs.openSync(file, 'w');
    const before = openFdCount();
    const [a, b] = pair();
    for (let i = 0; i < 8; i++) a.channel.send(Buffer.from([i]), [fd]);
    // Keep the JS thread busy so that the messages wait in b's event queue, undelivered.
    const until = Date.now() + 200;
    while (Date.now() < until) {
      // spin
    }
    b.channel.close();
    a.channel.close();
    await sleep(100);
    expect(b.messages).to.deep.equal([]);
    expect(openFdCount()).to.equal(before);
    fs.closeSync(fd);
  });

  it('close() is idempotent, and send() after close() throws', () => {
    const [a] = pair();
    a.channel.close();
    a.channel.close();
    expect(() => a.channel.send(Buffer.from('x'))).to.throw(Error).with.property('code', 'ERR_CHANNEL_CLOSED');
    a.channel.ref();
    a.channel.unref();
  });

  it('validates its arguments with TypeError', () => {
    const ControlChannelClass = native().ControlChannel as unknown as new (...args: unknown[]) => ControlChannel;
    const noop = () => undefined;
    expect(() => new ControlChannelClass(-1, noop, noop)).to.throw(TypeError, /fd/);
    expect(() => new ControlChannelClass('3', noop, noop)).to.throw(TypeError, /fd/);
    expect(() => new ControlChannelClass(3, 'x', noop)).to.throw(TypeError, /onMessage/);
    expect(() => new ControlChannelClass(3, noop, undefined)).to.throw(TypeError, /onClose/);

    const [a] = pair();
    const send = a.channel.send.bind(a.channel) as (...args: unknown[]) => void;
    expect(() => send('text')).to.throw(TypeError, /Buffer/);
    expect(() => send(Buffer.from('x'), 3)).to.throw(TypeError, /array/);
    expect(() => send(Buffer.from('x'), [-1])).to.throw(TypeError, /fds\[0\]/);
    expect(() => send(Buffer.from('x'), [1.5])).to.throw(TypeError, /fds\[0\]/);
    expect(() => send(Buffer.from('x'), new Array(65).fill(0))).to.throw(TypeError, /at most 64/);
  });

  it('throws with the errno code for a bad fd, and leaves a non-SEQPACKET fd to the caller', () => {
    const noop = () => undefined;
    expect(() => new (native().ControlChannel)(999999, noop, noop))
      .to.throw(Error, /SO_DOMAIN/)
      .with.property('code', 'EBADF');
    const fd = fs.openSync(tempFile(), 'w');
    try {
      expect(() => new (native().ControlChannel)(fd, noop, noop)).to.throw(Error);
      expect(fs.fstatSync(fd).isFile()).to.equal(true);
    } finally {
      fs.closeSync(fd);
    }
    const [a] = pair();
    expect(() => a.channel.send(Buffer.from('x'), [999999])).to.throw(Error, /dup/).with.property('code', 'EBADF');
  });

  it('passes at most 64 fds', async () => {
    const [a, b] = pair();
    const fd = fs.openSync(tempFile(), 'w');
    try {
      a.channel.send(Buffer.from('many'), new Array(64).fill(fd));
      await waitFor('the message', () => b.messages.length === 1);
      expect(b.messages[0].fds).to.have.length(64);
      b.messages[0].fds.forEach((received) => fs.closeSync(received));
    } finally {
      fs.closeSync(fd);
    }
  });

  describe('in a separate process', () => {
    /** Runs a script with the addon loaded as `addon`; returns how it ended. */
    function runScript(script: string, timeoutMs: number) {
      return spawnSync(process.execPath, ['--expose-gc', '-e', `const addon = require(${JSON.stringify(addonFile())});\n${script}`], {
        timeout: timeoutMs,
        encoding: 'utf8',
      });
    }

    it('an open channel keeps the process alive; unref() lets it exit (teardown closes it)', () => {
      const base = `const [a, b] = addon.socketpair(); const ch = new addon.ControlChannel(a, () => {}, () => {});`;
      const held = runScript(base, 1500);
      expect(held.signal, 'a referenced channel holds the event loop').to.equal('SIGTERM');
      const released = runScript(`${base} ch.unref(); ch.ref(); ch.unref();`, 10000);
      expect(released.status, released.stderr).to.equal(0);
      const closed = runScript(`${base} ch.close();`, 10000);
      expect(closed.status, closed.stderr).to.equal(0);
    });

    it('an unreferenced open channel is not collected', () => {
      const script = `
        const [a, b] = addon.socketpair();
        new addon.ControlChannel(a, (data) => { console.log('got ' + data); process.exit(0); }, () => {});
        global.gc();
        setTimeout(() => {
          global.gc();
          const peer = new addon.ControlChannel(b, () => {}, () => {});
          peer.send(Buffer.from('hello'));
        }, 50);`;
      const result = runScript(script, 10000);
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stdout).to.equal('got hello\n');
    });

    it('an exception thrown by a callback is an uncaught exception', () => {
      const script = `
        process.on('uncaughtException', (e) => { console.log('uncaught ' + e.message); process.exit(0); });
        const [a, b] = addon.socketpair();
        new addon.ControlChannel(a, () => { throw new Error('boom'); }, () => {});
        new addon.ControlChannel(b, () => {}, () => {}).send(Buffer.from('x'));`;
      const result = runScript(script, 10000);
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stdout).to.equal('uncaught boom\n');
    });

    it('survives the teardown of a worker thread with open channels', () => {
      const script = `
        const { Worker } = require('worker_threads');
        const code = 'const addon = require(' + JSON.stringify(${JSON.stringify(addonFile())}) + ');' +
          'const [a, b] = addon.socketpair(); const x = new addon.ControlChannel(a, () => {}, () => {});' +
          'const y = new addon.ControlChannel(b, () => {}, () => {}); x.send(Buffer.alloc(1 << 20));' +
          'require("worker_threads").parentPort.postMessage("up");';
        const worker = new Worker(code, { eval: true });
        worker.on('message', () => worker.terminate().then(() => { console.log('terminated'); }));`;
      const result = runScript(script, 10000);
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stdout).to.equal('terminated\n');
    });
  });
});

