/**
 * The worker's side of the control protocol: turns supervisor requests into data-plane calls.
 * Every request gets exactly one reply; a failing request changes nothing and says why.
 */
import type { Dataplane, DataplaneRule, Native, TracedPacket } from '../native';
import {
  CanonicalRule,
  EgressDescription,
  LogLevel,
  ReplyBody,
  rulesetHash,
  tracedPacketToWire,
  WorkerEvent,
  WorkerReply,
  WorkerRequest,
  Wire,
} from './protocol';

const severity: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** bigint fields become decimal strings, so counters survive JSON. */
export function toWire<T extends object>(values: T[]): Array<Wire<T>> {
  return JSON.parse(JSON.stringify(values, (_key, v) => (typeof v === 'bigint' ? v.toString() : v))) as Array<Wire<T>>;
}

/**
 * Fault injection for the resilience tests, armed only when mcrd runs with --test-hooks:
 * `drift` installs one rule fewer than asked (a resync repairs it), `stuck` also ignores every later
 * rule set (only a restart repairs it).
 */
export type TableFault = 'none' | 'drift' | 'stuck';

export class WorkerRuntime {
  private dataplane?: Dataplane;
  private inputs = new Map<number, string>();
  private outputs = new Map<number, EgressDescription>();
  /** The rules as installed in the data plane. */
  private installed: DataplaneRule[] = [];
  private logLevel: LogLevel = 'info';
  private fault: TableFault = 'none';

  constructor(
    private readonly addon: Native,
    private readonly emit: (event: WorkerEvent) => void,
  ) {}

  handle(request: WorkerRequest, fds: number[]): WorkerReply {
    const { seq } = request;
    try {
      return { ...this.dispatch(request, fds), type: 'reply', seq } as WorkerReply;
    } catch (err) {
      // fds that came with a failed request would otherwise leak.
      for (const fd of fds) this.closeQuietly(fd);
      const message = err instanceof Error ? err.message : String(err);
      this.log('warn', `${request.type} failed: ${message}`);
      return { type: 'reply', seq, ok: false, error: message };
    }
  }

  /** Test hook: corrupts the installed table now (see TableFault). */
  injectFault(fault: Exclude<TableFault, 'none'>): void {
    this.fault = fault;
    if (this.installed.length > 0) this.install(this.installed.slice(1));
    this.log('warn', `test hook: table fault "${fault}" injected`, { rules: this.installed.length });
  }

  close(): void {
    this.dataplane?.close();
    this.dataplane = undefined;
  }

  private dispatch(request: WorkerRequest, fds: number[]): ReplyBody {
    switch (request.type) {
      case 'hello':
        if (this.dataplane) throw new Error('hello received twice');
        this.logLevel = request.logLevel;
        this.dataplane = new this.addon.Dataplane({
          core: request.core,
          batch: request.batch,
          onTrace: (records, lost) => this.forwardTraces(records, lost),
        });
        this.log('info', 'data plane started', { core: request.core, batch: request.batch });
        return { ok: true };
      case 'addInput':
        this.requireFds(fds, 1);
        this.plane().addInput(request.handle, fds[0]);
        this.inputs.set(request.handle, request.interface);
        this.log('debug', 'input added', { handle: request.handle, interface: request.interface });
        return { ok: true };
      case 'addOutput': {
        this.requireFds(fds, 1);
        this.plane().addOutput(request.handle, fds[0]);
        const { interface: iface, address, port, ttl, tos } = request;
        this.outputs.set(request.handle, { interface: iface, address, port, ttl, tos });
        this.log('debug', 'output added', { handle: request.handle, interface: iface, address: `${address}:${port}` });
        return { ok: true };
      }
      case 'removeInput':
        this.plane().removeInput(request.handle);
        this.inputs.delete(request.handle);
        return { ok: true };
      case 'removeOutput':
        this.plane().removeOutput(request.handle);
        this.outputs.delete(request.handle);
        return { ok: true };
      case 'setRules': {
        const hash = this.hashOf(request.rules);
        if (hash !== request.hash) throw new Error(`rule set hash mismatch: computed ${hash}, supervisor sent ${request.hash}`);
        if (this.fault === 'stuck') return { ok: true }; // test hook: pretend, change nothing
        this.install(request.rules);
        this.fault = 'none';
        this.log('debug', 'rules installed', { rules: request.rules.length, hash });
        return { ok: true };
      }
      case 'heartbeat': {
        let packets = 0n;
        let forwarded = 0n;
        for (const c of this.plane().ruleCounters()) {
          packets += c.packets;
          forwarded += c.forwarded;
        }
        return { ok: true, hash: this.hashOf(this.installed), rules: this.installed.length, packets: String(packets), forwarded: String(forwarded) };
      }
      case 'counters': {
        const plane = this.plane();
        return { ok: true, rules: toWire(plane.ruleCounters()), inputs: toWire(plane.inputCounters()) };
      }
      case 'setLogLevel':
        this.logLevel = request.level;
        this.log('info', 'log level set', { level: request.level });
        return { ok: true };
      case 'shutdown':
        this.log('info', 'shutting down');
        return { ok: true };
    }
  }

  /** One message per data-plane callback; the supervisor does the rest (names, verdicts, limits). */
  private forwardTraces(records: TracedPacket[], lost: number): void {
    this.emit({ type: 'trace', records: records.map(tracedPacketToWire), lost });
  }

  private install(rules: DataplaneRule[]): void {
    this.plane().setRules(rules);
    this.installed = rules;
  }

  /** The ruleset hash over what the rules mean (interfaces and destinations, not handle numbers). */
  private hashOf(rules: DataplaneRule[]): string {
    const canonical: CanonicalRule[] = rules.map((r) => ({
      id: r.id,
      input: this.inputs.get(r.input) ?? `#${r.input}`,
      group: r.group,
      port: r.port,
      source: r.source,
      outputs: r.outputs.map((h) => this.outputs.get(h) ?? { interface: `#${h}`, address: '', port: 0, ttl: 0, tos: 0 }),
      trace: r.trace,
    }));
    return rulesetHash(canonical);
  }

  private plane(): Dataplane {
    if (!this.dataplane) throw new Error('no hello received yet');
    return this.dataplane;
  }

  private requireFds(fds: number[], count: number): void {
    if (fds.length !== count) throw new Error(`expected ${count} file descriptor(s), received ${fds.length}`);
  }

  private closeQuietly(fd: number): void {
    try {
      this.addon.closeFd(fd);
    } catch {
      // already closed by the data plane, which took ownership before failing
    }
  }

  private log(level: LogLevel, message: string, meta?: Record<string, unknown>): void {
    if (severity[level] <= severity[this.logLevel]) this.emit({ type: 'log', level, message, meta });
  }
}
