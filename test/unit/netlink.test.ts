/**
 * The native NetlinkMonitor against a real kernel, inside a network namespace this test creates.
 *
 * The test process stays in the root namespace. Each scenario runs in a child started with
 * `ip netns exec` (this very file run as a script, see the bottom): the child changes links and
 * addresses with `ip`, records what its monitors deliver, and prints a JSON report as its last line
 * of output. The assertions are made here, on the report. Children end on their own (no
 * process.exit), so a monitor that wrongly held the event loop shows up as a timeout. One scenario
 * runs the child as an unprivileged user, with this process making the change it waits for.
 */
import { execFileSync, spawn } from 'child_process';
import { requireRoot } from '../support/fixture';
import { expect } from 'chai';
import crypto from 'crypto';
import { isDeepStrictEqual } from 'util';

import { native, type AddressInfo, type LinkInfo, type NetlinkEvent, type NetlinkMonitor } from '../../native';
import { registerCleanup } from '../support/cleanup';
import { NAMESPACE_PREFIX, inNamespace, runIn, sweepStaleNamespaces } from '../support/netns';
import { runScenarioChild } from '../support/scenario-child';

const SCENARIO_TIMEOUT_MS = 30_000;
const NOBODY = 65534;
const BURST_CHANGES = 200;
// Far more notifications than a 4 MiB receive buffer and the monitor's queue hold together.
const OVERRUN_CHANGES = 10_000;

interface Snapshot {
  links: LinkInfo[];
  addresses: AddressInfo[];
}

// ---------------------------------------------------------------------------------------------
// Inside the namespace: an interface table kept the way a consumer keeps it, and the scenarios.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `commands` (one `ip` command line each) in a single `ip -batch`: a burst of changes. */
function ipBatch(commands: string[]): void {
  execFileSync('ip', ['-batch', '-'], { input: `${commands.join('\n')}\n`, timeout: 20_000, stdio: ['pipe', 'ignore', 'pipe'] });
}

/** Links by index and IPv4 addresses, built from a dump and then from events; an overrun re-dumps. */
class InterfaceTable {
  private links = new Map<number, LinkInfo>();
  private addresses = new Map<string, AddressInfo>();

  constructor(snapshot: Snapshot) {
    this.load(snapshot);
  }

  load(snapshot: Snapshot): void {
    this.links = new Map(snapshot.links.map((link) => [link.index, link]));
    this.addresses = new Map(snapshot.addresses.map((address) => [InterfaceTable.key(address), address]));
  }

  apply(event: NetlinkEvent, dump: () => Snapshot): void {
    switch (event.kind) {
      case 'link':
        this.links.set(event.link.index, event.link);
        break;
      case 'linkDeleted':
        this.links.delete(event.link.index);
        break;
      case 'address':
        this.addresses.set(InterfaceTable.key(event.address), event.address);
        break;
      case 'addressDeleted':
        this.addresses.delete(InterfaceTable.key(event.address));
        break;
      case 'overrun':
        this.load(dump());
        break;
    }
  }

  link(name: string): LinkInfo | undefined {
    return [...this.links.values()].find((link) => link.name === name);
  }

  addressesOf(index: number): string[] {
    return [...this.addresses.values()].filter((a) => a.index === index).map((a) => a.address);
  }

  snapshot(): Snapshot {
    return sortSnapshot({ links: [...this.links.values()], addresses: [...this.addresses.values()] });
  }

  private static key(address: AddressInfo): string {
    return `${address.index} ${address.address}/${address.prefixLength}`;
  }
}

function sortSnapshot(snapshot: Snapshot): Snapshot {
  return {
    links: [...snapshot.links].sort((a, b) => a.index - b.index),
    addresses: [...snapshot.addresses].sort((a, b) => a.index - b.index || a.address.localeCompare(b.address)),
  };
}

/** A monitor whose events are logged and folded into a table. */
class Recorder {
  readonly events: NetlinkEvent[] = [];
  batches = 0;
  readonly monitor: NetlinkMonitor;
  readonly table: InterfaceTable;

  constructor() {
    this.monitor = new (native().NetlinkMonitor)((events) => this.receive(events));
    this.table = new InterfaceTable(this.monitor.dump());
  }

  private receive(events: NetlinkEvent[]): void {
    this.batches++;
    for (const event of events) {
      this.events.push(event);
      this.table.apply(event, () => this.monitor.dump());
    }
  }

  /** Waits until the table satisfies `condition`; false after timeoutMs (the report says so). */
  async until(condition: (table: InterfaceTable) => boolean, timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition(this.table)) {
      if (Date.now() > deadline) return false;
      await sleep(5);
    }
    return true;
  }

  /** Whether the table built from events equals a fresh dump (given up to 2 s for late events). */
  async consistent(): Promise<boolean> {
    const deadline = Date.now() + 2000;
    while (!isDeepStrictEqual(this.table.snapshot(), sortSnapshot(this.monitor.dump()))) {
      if (Date.now() > deadline) return false;
      await sleep(10);
    }
    return true;
  }

  close(): void {
    this.monitor.close();
  }
}

/** Events of one step of the `events` scenario. */
interface StepReport {
  name: string;
  events: NetlinkEvent[];
  reached: boolean;
  consistent: boolean;
}

const scenarios: Record<string, () => Promise<unknown>> = {
  async dump() {
    ip('link', 'add', 'nl0', 'type', 'veth', 'peer', 'name', 'nl1');
    ip('link', 'set', 'dev', 'nl0', 'address', '02:00:00:00:00:01', 'mtu', '1400', 'up');
    ip('addr', 'add', '10.77.0.1/24', 'dev', 'nl0');
    const monitor = new (native().NetlinkMonitor)(() => {});
    try {
      return { dump: monitor.dump(), ipLinks: JSON.parse(ip('-j', 'link', 'show')), ipAddresses: JSON.parse(ip('-j', '-4', 'addr', 'show')) };
    } finally {
      monitor.close();
    }
  },

  async events() {
    const recorder = new Recorder();
    const index = (name: string) => recorder.table.link(name)?.index ?? -1;
    let va = -1;
    const steps: Array<[name: string, commands: string[][], reached: (t: InterfaceTable) => boolean]> = [
      ['create a veth pair', [['link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb']], (t) => !!t.link('va') && !!t.link('vb')],
      ['bring va up', [['link', 'set', 'va', 'up']], (t) => t.link('va')?.up === true],
      ['bring vb up', [['link', 'set', 'vb', 'up']], (t) => !!t.link('va')?.running && !!t.link('vb')?.running],
      ['change the MTU of va', [['link', 'set', 'va', 'mtu', '1400']], (t) => t.link('va')?.mtu === 1400],
      ['add an address to va', [['addr', 'add', '10.77.1.1/24', 'dev', 'va']], (t) => t.addressesOf(va).includes('10.77.1.1')],
      ['remove the address', [['addr', 'del', '10.77.1.1/24', 'dev', 'va']], (t) => t.addressesOf(va).length === 0],
      ['take va down', [['link', 'set', 'va', 'down']], (t) => t.link('va')?.up === false && t.link('vb')?.running === false],
      [
        'delete the pair with an address on va',
        [['addr', 'add', '10.77.2.1/30', 'dev', 'va'], ['link', 'del', 'va']],
        (t) => !t.link('va') && !t.link('vb') && t.addressesOf(va).length === 0,
      ],
    ];
    const report: { va: number; vb: number; steps: StepReport[] } = { va: -1, vb: -1, steps: [] };
    for (const [name, commands, reachedWhen] of steps) {
      const first = recorder.events.length;
      for (const command of commands) ip(...command);
      const reached = await recorder.until(reachedWhen);
      if (report.va < 0) [report.va, report.vb] = [index('va'), index('vb')];
      va = report.va;
      report.steps.push({ name, events: recorder.events.slice(first), reached, consistent: await recorder.consistent() });
    }
    recorder.close();
    return report;
  },

  async burst() {
    return flapReport(BURST_CHANGES);
  },

  async overrun() {
    return flapReport(OVERRUN_CHANGES);
  },

  async close() {
    ip('link', 'add', 'ca', 'type', 'veth', 'peer', 'name', 'cb');
    const witness = new Recorder();
    let closed = false;
    let callsBeforeClose = 0;
    let callsAfterClose = 0;
    const monitor = new (native().NetlinkMonitor)(() => (closed ? callsAfterClose++ : callsBeforeClose++));
    // The event loop is blocked meanwhile: the notification waits in the monitor when it closes.
    ip('link', 'set', 'ca', 'up');
    monitor.close();
    closed = true;
    monitor.close();
    monitor.ref();
    monitor.unref();
    const dumpAfterClose = monitor.dump().links.some((link) => link.name === 'ca');
    ip('link', 'set', 'ca', 'mtu', '1300');
    const witnessed = await witness.until((t) => t.link('ca')?.mtu === 1300);
    await sleep(100);

    // A monitor that closes itself from inside its callback gets exactly one call.
    let selfClosingCalls = 0;
    const selfClosing: NetlinkMonitor = new (native().NetlinkMonitor)(() => {
      selfClosingCalls++;
      selfClosing.close();
      selfClosing.close();
    });
    ip('link', 'set', 'ca', 'mtu', '1310');
    await witness.until((t) => t.link('ca')?.mtu === 1310);
    await sleep(100);
    ip('link', 'set', 'ca', 'mtu', '1320');
    await witness.until((t) => t.link('ca')?.mtu === 1320);
    await sleep(100);
    witness.close();
    const witnessSawUp = witness.events.some((e) => e.kind === 'link' && e.link.name === 'ca' && e.link.up);
    return { callsBeforeClose, callsAfterClose, dumpAfterClose, witnessed, witnessSawUp, selfClosingCalls };
  },

  // Ends with an unref()ed monitor still open and events pending: the process must exit by itself.
  async unrefOpen() {
    ip('link', 'add', 'ua', 'type', 'veth', 'peer', 'name', 'ub');
    const monitor = new (native().NetlinkMonitor)(() => {});
    monitor.unref();
    monitor.ref();
    monitor.unref();
    ip('link', 'set', 'ua', 'up');
    return { open: true };
  },

  // Exits with a referenced monitor open and events pending: the environment cleanup closes it.
  async exitWhileOpen() {
    const monitor = new (native().NetlinkMonitor)(() => {});
    ip('link', 'add', 'xa', 'type', 'veth', 'peer', 'name', 'xb');
    setImmediate(() => process.exit(0)); // after the report is written
    return { open: !!monitor };
  },

  // Run as an unprivileged user; the test process brings up0 up once this prints "ready".
  async unprivileged() {
    const recorder = new Recorder();
    const before = recorder.table.link('up0') ?? null;
    process.stdout.write('ready\n');
    const reached = await recorder.until((t) => t.link('up0')?.up === true, 10_000);
    recorder.close();
    const events = recorder.events.filter((e) => e.kind === 'link' && e.link.name === 'up0');
    return { uid: process.getuid?.(), before, reached, events };
  },
};

/**
 * Flaps fa `changes` times in one `ip -batch` (the event loop blocked meanwhile, as a busy consumer
 * would be), then sets its MTU to 1280 as the last change, and reports what the monitor made of it.
 */
async function flapReport(changes: number) {
  ip('link', 'add', 'fa', 'type', 'veth', 'peer', 'name', 'fb');
  ip('link', 'set', 'fb', 'up');
  const recorder = new Recorder();
  const flaps = Array.from({ length: changes }, (_, i) => `link set fa ${i % 2 === 0 ? 'up' : 'down'}`);
  ipBatch([...flaps, 'link set fa mtu 1280']);
  const reached = await recorder.until((t) => t.link('fa')?.mtu === 1280);
  const consistent = await recorder.consistent();
  // Still reading after the burst (and after an overrun, if there was one).
  ip('link', 'set', 'fa', 'mtu', '1300');
  const reachedAfter = await recorder.until((t) => t.link('fa')?.mtu === 1300);
  recorder.close();
  const final = recorder.table.link('fa') ?? null;
  ip('link', 'del', 'fa');
  const fa = recorder.events.flatMap((e) => (e.kind === 'link' && e.link.name === 'fa' ? [e.link] : []));
  return {
    reached,
    consistent,
    reachedAfter,
    final,
    events: recorder.events.length,
    batches: recorder.batches,
    overruns: recorder.events.filter((e) => e.kind === 'overrun').length,
    faUp: fa.map((link) => link.up),
  };
}

// ---------------------------------------------------------------------------------------------
// The tests (root namespace side).

/** The namespace the scenarios run in (lo up, no IPv6). */
class Namespace {
  readonly name = `${NAMESPACE_PREFIX}${crypto.randomBytes(2).toString('hex')}-${process.pid}-nl`;
  private unregister: (() => void) | null = registerCleanup(() => this.remove());

  constructor() {
    try {
      ip('netns', 'add', this.name);
      ip('netns', 'exec', this.name, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
      ip('-n', this.name, 'link', 'set', 'lo', 'up');
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  private argv(scenario: string): string[] {
    return [process.execPath, '-r', require.resolve('ts-node/register/transpile-only'), __filename, scenario];
  }

  /** Runs a scenario and parses its report; rejects with its stderr when it fails. */
  async run<T>(scenario: string): Promise<T> {
    return lastJsonLine<T>(await runIn(this.name, this.argv(scenario), SCENARIO_TIMEOUT_MS));
  }

  /**
   * Runs a scenario as user nobody; when it prints "ready", runs `onReady` (from this process).
   * Resolves with its report.
   */
  runUnprivileged<T>(scenario: string, onReady: () => void): Promise<T> {
    const argv = inNamespace(this.name, ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...this.argv(scenario)]);
    return new Promise((resolve, reject) => {
      const child = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'], timeout: SCENARIO_TIMEOUT_MS });
      let stdout = '';
      let stderr = '';
      let readied = false;
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (!readied && stdout.includes('ready\n')) {
          readied = true;
          try {
            onReady();
          } catch (err) {
            child.kill('SIGKILL');
            reject(err);
          }
        }
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        if (code === 0) resolve(lastJsonLine<T>(stdout));
        else reject(new Error(`${scenario} as nobody failed (${signal ?? code}): ${stderr.trim()}`));
      });
    });
  }

  private remove(): void {
    try {
      for (const pid of ip('netns', 'pids', this.name).split(/\s+/).filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
      ip('netns', 'del', this.name);
    } catch {
      // already gone
    }
  }

  destroy(): void {
    this.unregister?.();
    this.unregister = null;
    this.remove();
  }
}

function lastJsonLine<T>(output: string): T {
  const lines = output.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

/** Whether `actual` has every field of `pattern` (recursively) with the same value. */
function matches(actual: unknown, pattern: unknown): boolean {
  if (typeof pattern !== 'object' || pattern === null) return actual === pattern;
  if (typeof actual !== 'object' || actual === null) return false;
  return Object.entries(pattern).every(([key, value]) => matches((actual as Record<string, unknown>)[key], value));
}

/** Asserts that events matching `patterns` occur in `events` in that order (others may come between). */
function expectInOrder(step: StepReport, patterns: object[]): void {
  let next = 0;
  for (const event of step.events) if (next < patterns.length && matches(event, patterns[next])) next++;
  expect(next, `step "${step.name}": no ${JSON.stringify(patterns[next])} (in order) among ${JSON.stringify(step.events)}`).to.equal(
    patterns.length,
  );
}

const link = (index: number, fields: Partial<LinkInfo>) => ({ kind: 'link', link: { index, ...fields } });
const linkDeleted = (index: number, fields: Partial<LinkInfo>) => ({ kind: 'linkDeleted', link: { index, ...fields } });
const address = (index: number, addr: string, prefixLength: number) => ({ kind: 'address', address: { index, address: addr, prefixLength } });
const addressDeleted = (index: number, addr: string, prefixLength: number) => ({
  kind: 'addressDeleted',
  address: { index, address: addr, prefixLength },
});

interface FlapReport {
  reached: boolean;
  consistent: boolean;
  reachedAfter: boolean;
  final: LinkInfo | null;
  events: number;
  batches: number;
  overruns: number;
  faUp: boolean[];
}

/** The number of up/down transitions in a sequence of `up` values. */
function transitions(ups: boolean[]): number {
  return ups.filter((up, i) => i > 0 && up !== ups[i - 1]).length;
}

if (require.main === module) {
  // Started by Namespace.run(): run one scenario, print its report.
  runScenarioChild(scenarios);
} else {
  describe('native NetlinkMonitor', () => {
    it('refuses a callback that is not a function', () => {
      const Monitor = native().NetlinkMonitor as unknown as new (onEvents: unknown) => NetlinkMonitor;
      expect(() => new Monitor(undefined)).to.throw(TypeError, /onEvents must be a function/);
      expect(() => new Monitor({})).to.throw(TypeError, /onEvents must be a function/);
    });

    describe('in a network namespace', function () {
      this.timeout(SCENARIO_TIMEOUT_MS + 10_000);
      let ns: Namespace | undefined;

      before(function () {
        requireRoot(); // ip netns: fail, never skip
        sweepStaleNamespaces();
        ns = new Namespace();
      });
      after(() => ns?.destroy());

      it('dumps lo and a veth with its MTU and MAC, and the IPv4 addresses, as ip sees them', async () => {
        interface IpLink { ifindex: number; ifname: string; flags: string[]; mtu: number; address: string }
        interface IpAddress { ifindex: number; addr_info: Array<{ local: string; prefixlen: number }> }
        const { dump, ipLinks, ipAddresses } = await ns!.run<{ dump: Snapshot; ipLinks: IpLink[]; ipAddresses: IpAddress[] }>('dump');

        expect(dump.links.find((l) => l.name === 'lo')).to.deep.equal({ index: 1, name: 'lo', up: true, running: true, mtu: 65536, mac: '00:00:00:00:00:00' });
        const nl0 = dump.links.find((l) => l.name === 'nl0');
        // Up, but its peer is down: no carrier, so not running.
        expect(nl0).to.include({ up: true, running: false, mtu: 1400, mac: '02:00:00:00:00:01' });
        expect(dump.links.find((l) => l.name === 'nl1')).to.include({ up: false, running: false, mtu: 1500 });
        expect(dump.links.map(({ index, name, up, mtu, mac }) => ({ index, name, up, mtu, mac }))).to.deep.equal(
          ipLinks.map((l) => ({ index: l.ifindex, name: l.ifname, up: l.flags.includes('UP'), mtu: l.mtu, mac: l.address })),
        );

        expect(dump.addresses).to.deep.include({ index: nl0!.index, address: '10.77.0.1', prefixLength: 24 });
        expect(dump.addresses).to.deep.include({ index: 1, address: '127.0.0.1', prefixLength: 8 });
        expect(dump.addresses).to.deep.equal(
          ipAddresses.flatMap((a) => a.addr_info.map((info) => ({ index: a.ifindex, address: info.local, prefixLength: info.prefixlen }))),
        );
      });

      it('reports creation, up/down, MTU and address changes and deletion in order', async () => {
        const { va, vb, steps } = await ns!.run<{ va: number; vb: number; steps: StepReport[] }>('events');
        expect(va).to.be.greaterThan(1);
        expect(vb).to.be.greaterThan(1).and.not.equal(va);
        for (const step of steps) {
          expect(step.reached, `step "${step.name}" never reached its state; events: ${JSON.stringify(step.events)}`).to.equal(true);
          expect(step.consistent, `step "${step.name}": the table built from events differs from a dump`).to.equal(true);
        }
        const [create, vaUp, vbUp, mtu, added, removed, down, deleted] = steps;
        expectInOrder(create, [link(va, { name: 'va', up: false, running: false })]);
        expectInOrder(create, [link(vb, { name: 'vb', up: false, running: false })]);
        expectInOrder(vaUp, [link(va, { up: true, running: false })]);
        expectInOrder(vbUp, [link(vb, { up: true }), link(va, { up: true, running: true })]);
        expectInOrder(mtu, [link(va, { mtu: 1400 })]);
        expectInOrder(added, [address(va, '10.77.1.1', 24)]);
        expectInOrder(removed, [addressDeleted(va, '10.77.1.1', 24)]);
        expectInOrder(down, [link(va, { up: false, running: false })]);
        expectInOrder(deleted, [address(va, '10.77.2.1', 30), addressDeleted(va, '10.77.2.1', 30), linkDeleted(va, { name: 'va', mtu: 1400 })]);
        expectInOrder(deleted, [linkDeleted(vb, { name: 'vb' })]);
        // Nothing else was reported about other interfaces, and nothing was lost.
        const all = steps.flatMap((s) => s.events);
        expect(all.filter((e) => e.kind === 'overrun')).to.deep.equal([]);
        expect(all.filter((e) => 'link' in e && ![va, vb].includes(e.link.index))).to.deep.equal([]);
      });

      it(`delivers a burst of ${BURST_CHANGES} up/down changes in batches and ends in the dumped state`, async () => {
        const report = await ns!.run<FlapReport>('burst');
        expect(report).to.include({ reached: true, consistent: true, reachedAfter: true, overruns: 0 });
        expect(report.final).to.include({ name: 'fa', up: false, mtu: 1300 });
        // The kernel may coalesce changes, but both states were seen, and the last is "down".
        expect(transitions(report.faUp)).to.be.greaterThan(1);
        expect(report.faUp[report.faUp.length - 1]).to.equal(false);
        expect(report.batches, 'one callback per batch, not per event').to.be.lessThan(report.events / 10);
      });

      it('reports an overrun when the consumer falls far behind, and keeps reading after it', async () => {
        const report = await ns!.run<FlapReport>('overrun');
        expect(report.overruns).to.be.greaterThan(0);
        expect(report).to.include({ reached: true, consistent: true, reachedAfter: true });
        expect(report.final).to.include({ name: 'fa', up: false, mtu: 1300 });
      });

      it('delivers nothing after close(), which is idempotent, also when called from the callback', async () => {
        const report = await ns!.run<Record<string, unknown>>('close');
        expect(report).to.deep.equal({
          callsBeforeClose: 0, // the pending notification was dropped, not delivered late
          callsAfterClose: 0,
          dumpAfterClose: true,
          witnessed: true,
          witnessSawUp: true,
          selfClosingCalls: 1,
        });
      });

      it('lets the process exit when unref()ed, and closes at exit when left open', async () => {
        expect(await ns!.run('unrefOpen')).to.deep.equal({ open: true });
        expect(await ns!.run('exitWhileOpen')).to.deep.equal({ open: true });
      });

      it('works for an unprivileged user', async () => {
        ip('-n', ns!.name, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1');
        const report = await ns!.runUnprivileged<{ uid: number; before: LinkInfo | null; reached: boolean; events: NetlinkEvent[] }>(
          'unprivileged',
          () => ip('-n', ns!.name, 'link', 'set', 'up0', 'up'),
        );
        expect(report.uid).to.equal(NOBODY);
        expect(report.before).to.include({ name: 'up0', up: false });
        expect(report.reached).to.equal(true);
        expect(report.events.some((e) => matches(e, { kind: 'link', link: { name: 'up0', up: true } }))).to.equal(true);
      });
    });
  });
}
