/**
 * The worker's side of the control protocol: turns supervisor requests into data-plane calls.
 * Every request gets exactly one reply; a failing request changes nothing and says why.
 */
import type { Dataplane, DataplaneRule, Native } from '../native';
import { LogLevel, ReplyBody, rulesetHash, WorkerEvent, WorkerReply, WorkerRequest, Wire } from './protocol';

const severity: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** bigint fields become decimal strings, so counters survive JSON. */
export function toWire<T extends object>(values: T[]): Array<Wire<T>> {
  return JSON.parse(JSON.stringify(values, (_key, v) => (typeof v === 'bigint' ? v.toString() : v))) as Array<Wire<T>>;
}

export class WorkerRuntime {
  private dataplane?: Dataplane;
  private rules: DataplaneRule[] = [];
  private hash = rulesetHash([]);
  private logLevel: LogLevel = 'info';

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

  close(): void {
    this.dataplane?.close();
    this.dataplane = undefined;
  }

  private dispatch(request: WorkerRequest, fds: number[]): ReplyBody {
    switch (request.type) {
      case 'hello':
        if (this.dataplane) throw new Error('hello received twice');
        this.logLevel = request.logLevel;
        this.dataplane = new this.addon.Dataplane({ core: request.core, batch: request.batch });
        this.log('info', 'data plane started', { core: request.core, batch: request.batch });
        return { ok: true };
      case 'addInput':
        this.requireFds(fds, 1);
        this.plane().addInput(request.handle, fds[0]);
        this.log('debug', 'input added', { handle: request.handle, interface: request.interface });
        return { ok: true };
      case 'addOutput':
        this.requireFds(fds, 1);
        this.plane().addOutput(request.handle, fds[0]);
        this.log('debug', 'output added', { handle: request.handle, interface: request.interface, address: `${request.address}:${request.port}` });
        return { ok: true };
      case 'removeInput':
        this.plane().removeInput(request.handle);
        return { ok: true };
      case 'removeOutput':
        this.plane().removeOutput(request.handle);
        return { ok: true };
      case 'setRules': {
        const hash = rulesetHash(request.rules);
        if (hash !== request.hash) throw new Error(`rule set hash mismatch: computed ${hash}, supervisor sent ${request.hash}`);
        this.plane().setRules(request.rules);
        this.rules = request.rules;
        this.hash = hash;
        this.log('debug', 'rules installed', { rules: request.rules.length, hash });
        return { ok: true };
      }
      case 'heartbeat':
        return { ok: true, hash: this.hash, rules: this.rules.length };
      case 'counters': {
        const plane = this.plane();
        return { ok: true, rules: toWire(plane.ruleCounters()), inputs: toWire(plane.inputCounters()) };
      }
      case 'setLogLevel':
        this.logLevel = request.level;
        return { ok: true };
      case 'shutdown':
        this.log('info', 'shutting down');
        return { ok: true };
    }
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
