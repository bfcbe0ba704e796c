/**
 * Network-namespace topology for the end-to-end tests.
 *
 *   src                relay (mcrd runs here)                     sink1 / sink2
 *   s0 10.1.0.2/24 ──── in0 10.2.0.1/24
 *                       out1 10.3.0.1/24 ─────────────────────── k1 10.3.0.2/24   (sink1)
 *                       out2 10.4.0.1/24 ─────────────────────── k2 10.4.0.2/24   (sink2)
 *
 * The source sits in a subnet the relay has no route back to, and the relay runs with rp_filter=1, so
 * the relay's kernel drops the source's multicast: exactly the situation mcr exists for.
 *
 * Namespaces are named `mcrt-<4 hex>-<pid>-<role>`: unique per topology, and the pid lets a later run
 * tell a namespace left behind by a dead run (swept) from one of a run still in progress (kept).
 * Interfaces are created directly inside their namespaces, so their short fixed names never meet the
 * root namespace. Every namespace is deleted by destroy(), and by the exit/signal cleanup if the test
 * process dies before its after() hook runs.
 */
import { ChildProcess, execFile, execFileSync, spawn, SpawnOptions } from 'child_process';
import crypto from 'crypto';
import { setTimeout as delay } from 'timers/promises';

import { registerCleanup } from './cleanup';

export const NAMESPACE_PREFIX = 'mcrt-';

export type Role = 'src' | 'relay' | 'sink1' | 'sink2';
const ROLES: readonly Role[] = ['src', 'relay', 'sink1', 'sink2'];

/** Interface names and addresses of the topology (the same in every instance). */
export const NET = {
  src: { ifname: 's0', address: '10.1.0.2' },
  relayIn: { ifname: 'in0', address: '10.2.0.1' },
  relayOut1: { ifname: 'out1', address: '10.3.0.1' },
  relayOut2: { ifname: 'out2', address: '10.4.0.1' },
  sink1: { ifname: 'k1', address: '10.3.0.2' },
  sink2: { ifname: 'k2', address: '10.4.0.2' },
} as const;

/** Each veth pair: [namespace, ifname, address] at both ends. */
const LINKS: ReadonlyArray<readonly [Role, keyof typeof NET, Role, keyof typeof NET]> = [
  ['src', 'src', 'relay', 'relayIn'],
  ['relay', 'relayOut1', 'sink1', 'sink1'],
  ['relay', 'relayOut2', 'sink2', 'sink2'],
];

const COMMAND_TIMEOUT_MS = 10_000;

/** Runs `ip ARGS` synchronously (setup and teardown only: never while a child's output must be read). */
export function ip(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`ip ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** Argument vector that runs `argv` inside namespace `ns`. */
export function inNamespace(ns: string, argv: readonly string[]): string[] {
  return ['netns', 'exec', ns, ...argv];
}

/** Starts `argv` inside namespace `ns` (the child's pid is the command's own: `ip netns exec` execs it). */
export function spawnIn(ns: string, argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn('ip', inNamespace(ns, argv), { stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

/** Runs `ip ARGS` and resolves with its stdout; rejects (with stderr) on failure or after timeoutMs. */
function ipAsync(args: string[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Runs `argv` inside namespace `ns` and resolves with its stdout; rejects (with stderr) on failure. */
export function runIn(ns: string, argv: readonly string[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
  return ipAsync(inNamespace(ns, argv), timeoutMs);
}

function listNamespaces(): string[] {
  // Lines look like "name (id: 3)" or "name".
  return ip(['netns', 'list'])
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0])
    .filter((name) => name.length > 0);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process still inside `ns` (processes the tests started there) and deletes the namespace. */
export function deleteNamespace(ns: string): void {
  let pids: number[] = [];
  try {
    pids = ip(['netns', 'pids', ns]).split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return; // already gone
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  try {
    ip(['netns', 'del', ns]);
  } catch (err) {
    if (listNamespaces().includes(ns)) throw err;
  }
}

/**
 * Deletes namespaces named `<prefix><4 hex>-<pid>-...` whose creating process no longer exists
 * (the tests' prefix by default; the benchmark passes its own).
 */
export function sweepStaleNamespaces(prefix = NAMESPACE_PREFIX): string[] {
  const pattern = new RegExp(`^${prefix}[0-9a-f]{4}-(\\d+)-`);
  const swept: string[] = [];
  for (const ns of listNamespaces()) {
    const match = pattern.exec(ns);
    if (match && !isAlive(Number(match[1]))) {
      deleteNamespace(ns);
      swept.push(ns);
    }
  }
  return swept;
}

export function sysctl(ns: string, settings: Record<string, string | number>): void {
  const args = Object.entries(settings).map(([key, value]) => `${key}=${value}`);
  ip(inNamespace(ns, ['sysctl', '-q', '-w', ...args]));
}

export class Topology {
  /** Namespace name per role. */
  readonly ns: Readonly<Record<Role, string>>;
  private unregister: (() => void) | null;

  private constructor(readonly id: string) {
    this.ns = Object.fromEntries(ROLES.map((role) => [role, `${NAMESPACE_PREFIX}${id}-${process.pid}-${role}`])) as Record<Role, string>;
    this.unregister = registerCleanup(() => this.deleteAll());
  }

  /** Builds the whole topology; on any failure, deletes what was built and rethrows. */
  static create(): Topology {
    sweepStaleNamespaces();
    const topology = new Topology(crypto.randomBytes(2).toString('hex'));
    try {
      topology.build();
    } catch (err) {
      topology.destroy();
      throw err;
    }
    return topology;
  }

  private build(): void {
    for (const role of ROLES) {
      const ns = this.ns[role];
      ip(['netns', 'add', ns]);
      // No IPv6 anywhere (no router solicitations, MLD or DAD noise on the links); set before the
      // veths exist so they inherit it from "default".
      sysctl(ns, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 });
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    for (const [roleA, endA, roleB, endB] of LINKS) {
      ip(['-n', this.ns[roleA], 'link', 'add', NET[endA].ifname, 'type', 'veth', 'peer', 'name', NET[endB].ifname, 'netns', this.ns[roleB]]);
    }
    for (const [roleA, endA, roleB, endB] of LINKS) {
      for (const [role, end] of [[roleA, endA], [roleB, endB]] as const) {
        const ns = this.ns[role];
        ip(['-n', ns, 'addr', 'add', `${NET[end].address}/24`, 'dev', NET[end].ifname]);
        ip(['-n', ns, 'link', 'set', NET[end].ifname, 'up']);
      }
    }
    // Strict reverse-path filtering in the relay (the effective value is the max of "all" and the
    // interface's own), so the kernel itself refuses the source's packets.
    this.setRpFilter(1);
  }

  /**
   * Resolves once every veth end is operationally up. The kernel turns carrier into operstate UP in
   * its link-watch work, which it may defer by up to a second after the link came up: a test that
   * reads a rule's state before then sees "no carrier". Fails after timeoutMs, naming the ends not up.
   */
  async linksUp(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const down: string[] = [];
      for (const [roleA, endA, roleB, endB] of LINKS) {
        for (const [role, end] of [[roleA, endA], [roleB, endB]] as const) {
          // `ip -br link show dev X`: "X@PEER OPERSTATE MAC FLAGS".
          const state = (await ipAsync(['-n', this.ns[role], '-br', 'link', 'show', 'dev', NET[end].ifname])).trim().split(/\s+/)[1];
          if (state !== 'UP') down.push(`${NET[end].ifname} (${role}) ${state}`);
        }
      }
      if (down.length === 0) return;
      if (Date.now() > deadline) throw new Error(`links not operationally up within ${timeoutMs} ms: ${down.join(', ')}`);
      await delay(20);
    }
  }

  /** Sets rp_filter in the relay for "all", "default" and each of its interfaces. */
  setRpFilter(mode: 0 | 1 | 2): void {
    const settings: Record<string, number> = { 'net.ipv4.conf.all.rp_filter': mode, 'net.ipv4.conf.default.rp_filter': mode };
    for (const end of ['relayIn', 'relayOut1', 'relayOut2'] as const) settings[`net.ipv4.conf.${NET[end].ifname}.rp_filter`] = mode;
    sysctl(this.ns.relay, settings);
  }

  /** The interface's received-packet counter, as the kernel of its namespace reports it. */
  async rxPackets(role: Role, ifname: string): Promise<number> {
    const out = await runIn(this.ns[role], ['cat', `/sys/class/net/${ifname}/statistics/rx_packets`]);
    const value = Number(out.trim());
    if (!Number.isInteger(value)) throw new Error(`unexpected rx_packets for ${ifname} in ${this.ns[role]}: ${JSON.stringify(out)}`);
    return value;
  }

  /** Pids of the processes running inside the namespace of `role`. */
  async pids(role: Role): Promise<number[]> {
    return (await ipAsync(['netns', 'pids', this.ns[role]])).split(/\s+/).filter(Boolean).map(Number);
  }

  private deleteAll(): void {
    for (const role of [...ROLES].reverse()) deleteNamespace(this.ns[role]);
  }

  /** Deletes every namespace of the topology (and with them the veths and anything left inside). */
  destroy(): void {
    if (!this.unregister) return;
    this.unregister();
    this.unregister = null;
    this.deleteAll();
  }
}
