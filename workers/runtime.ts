/**
 * The worker's side of the control protocol: turns supervisor requests into data-plane calls.
 * Every request gets exactly one reply; a failing request changes nothing and says why.
 */
import type { Dataplane, DataplaneRule, Native, TracedPacket } from '../native';
import {
  canonicalOutput,
  CanonicalOutput,
  hashFromSum,
  LogLevel,
  OutputDescription,
  ReplyBody,
  SenderDescription,
  ruleDigest,
  tracedPacketToWire,
  UpdateRulesRequest,
  WorkerEvent,
  WorkerReply,
  WorkerRequest,
  Wire,
} from './protocol';

const severity: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** The most trace data that may wait in the channel to the supervisor; more is dropped and counted. */
export const TRACE_BACKLOG_BYTES = 32 << 20;

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
  private senders = new Map<number, Omit<SenderDescription, 'handle'>>();
  /** Each output as the ruleset hash describes it (its sender's interface and TTL and TOS policy included). */
  private outputs = new Map<number, CanonicalOutput>();
  /**
   * The rules installed in the data plane: each one's share of the ruleset hash, as this worker
   * understands its handles, by id (the data plane keeps the rules themselves).
   */
  private installed = new Map<string, bigint>();
  /** Sum of the installed rules' digests (the ruleset hash, kept current per change). */
  private digestSum = 0n;
  /** During a full resend: the ids it has named so far. */
  private resent?: Set<string>;
  private logLevel: LogLevel = 'info';
  private fault: TableFault = 'none';

  /** Trace records dropped because the channel was full, so far; those not yet reported as lost. */
  private channelDropped = 0;
  /** Addresses addOutputs refuses (a test hook). */
  private refused = new Set<string>();
  private unreportedLost = 0;
  private droppedLogged = 0;

  constructor(
    private readonly addon: Native,
    private readonly emit: (event: WorkerEvent) => void,
    /** Bytes waiting in the channel to the supervisor. */
    private readonly backlog: () => number = () => 0,
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
    const first = this.installed.keys().next();
    if (!first.done) this.install([], [first.value]);
    this.log('warn', `test hook: table fault "${fault}" injected`, { rules: this.installed.size });
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
        if (request.counters) this.requireFds(fds, 1);
        try {
          this.dataplane = new this.addon.Dataplane({
            core: request.core,
            batch: request.batch,
            onTrace: (records, lost) => this.forwardTraces(records, lost),
            ...(request.counters ? { counters: fds[0] } : {}),
          });
        } finally {
          for (const fd of fds.splice(0)) this.closeQuietly(fd); // the region stays mapped
        }
        this.log('info', 'data plane started', { core: request.core, batch: request.batch });
        return { ok: true };
      case 'addInput':
        this.requireFds(fds, 1);
        this.plane().addInput(request.handle, fds[0], request.counterSlot);
        this.inputs.set(request.handle, request.interface);
        this.log('debug', 'input added', { handle: request.handle, interface: request.interface });
        return { ok: true };
      case 'addSenders':
        this.addSenders(request.senders, fds);
        return { ok: true };
      case 'addOutputs':
        this.requireFds(fds, 0);
        this.addOutputs(request.outputs);
        return { ok: true };
      case 'removeInput': {
        const retired = this.plane().removeInput(request.handle);
        this.inputs.delete(request.handle);
        return { ok: true, retired };
      }
      case 'removeOutputs':
        for (const handle of request.handles) {
          this.plane().removeOutput(handle);
          this.outputs.delete(handle);
        }
        return { ok: true };
      case 'removeSenders':
        for (const handle of request.handles) {
          this.plane().removeSender(handle);
          this.senders.delete(handle);
        }
        return { ok: true };
      case 'updateRules':
        return { ok: true, retired: this.updateRules(request) };
      case 'heartbeat':
        return { ok: true, hash: hashFromSum(this.digestSum), rules: this.installed.size, channelDropped: this.channelDropped };
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

  /**
   * One message per data-plane callback; the supervisor does the rest (names, verdicts, limits). The
   * channel is bounded: when what waits in it exceeds TRACE_BACKLOG_BYTES (mcrd is not reading), the
   * batch is dropped, counted (channelDropped, reported by every heartbeat) and added to the next
   * batch's `lost`, which the trace reports as records lost.
   */
  private forwardTraces(records: TracedPacket[], lost: number): void {
    if (this.backlog() > TRACE_BACKLOG_BYTES) {
      this.channelDropped += records.length;
      this.unreportedLost += records.length + lost;
      if (this.channelDropped - this.droppedLogged >= 1000 || this.droppedLogged === 0) {
        this.log('warn', 'trace records dropped: the channel to mcrd is full', { dropped: this.channelDropped, backlogBytes: this.backlog() });
        this.droppedLogged = this.channelDropped;
      }
      return;
    }
    this.emit({ type: 'trace', records: records.map(tracedPacketToWire), lost: lost + this.unreportedLost });
    this.unreportedLost = 0;
  }

  /**
   * Adds every sender of the message or none: on a failure the ones already added are removed (the
   * data plane closes their fds) and the rest of the fds are left in `fds` for handle() to close.
   */
  private addSenders(senders: SenderDescription[], fds: number[]): void {
    this.requireFds(fds, senders.length);
    const plane = this.plane();
    let added = 0;
    try {
      for (; added < senders.length; added++) {
        const { handle, ttl, tos, keepTos, decrementTtl, dontFragment, mtu } = senders[added];
        plane.addSender(handle, fds[added], { ttl, tos, keepTos, decrementTtl, dontFragment }, mtu);
      }
    } catch (err) {
      for (let i = 0; i < added; i++) plane.removeSender(senders[i].handle);
      fds.splice(0, added); // owned (and closed) by the data plane
      throw err;
    }
    fds.length = 0;
    for (const { handle, ...sender } of senders) this.senders.set(handle, sender);
    this.log('debug', 'senders added', { count: senders.length });
  }

  /** Test hook: addOutputs refuses (whole) every message with an output to one of these addresses. */
  refuseOutputsTo(addresses: string[]): void {
    this.refused = new Set(addresses);
    this.log('warn', 'test hook: outputs to these addresses are refused', { addresses });
  }

  /** Adds every output of the message or none (the data plane checks handles and addresses). */
  private addOutputs(outputs: OutputDescription[]): void {
    const plane = this.plane();
    let added = 0;
    try {
      for (; added < outputs.length; added++) {
        const { handle, sender, address, port } = outputs[added];
        if (!this.senders.has(sender)) throw new Error(`unknown sender handle ${sender}`);
        if (this.refused.has(address)) throw new Error(`test hook: outputs to ${address} are refused`);
        plane.addOutput(handle, sender, address, port);
      }
    } catch (err) {
      for (let i = 0; i < added; i++) plane.removeOutput(outputs[i].handle);
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`outputs[${added}] (handle ${outputs[added]?.handle}): ${message}`);
    }
    for (const { handle, sender, address, port } of outputs) {
      this.outputs.set(handle, canonicalOutput({ ...this.senders.get(sender)!, address, port }));
    }
    this.log('debug', 'outputs added', { count: outputs.length });
  }

  /**
   * Applies one piece of a change (see UpdateRulesRequest), checking the hash first when it has one.
   * Returns the epoch tag of the table it replaced.
   */
  private updateRules(request: UpdateRulesRequest): number {
    const { upserts, resend } = request;
    if (resend === 'first' || resend === 'only') this.resent = new Set();
    else if (resend && !this.resent) throw new Error(`a resend piece "${resend}" without its first piece`);
    const removes = [...request.removes];
    if (this.resent) for (const rule of upserts) this.resent.add(rule.id);
    if (resend === 'last' || resend === 'only') {
      for (const id of this.installed.keys()) if (!this.resent!.has(id)) removes.push(id);
    }
    let sum = this.digestSum;
    const digests = upserts.map((rule) => this.digestOf(rule));
    const removing = new Set(removes);
    for (const id of removing) sum -= this.installed.get(id) ?? 0n;
    upserts.forEach((rule, i) => {
      if (!removing.has(rule.id)) sum -= this.installed.get(rule.id) ?? 0n;
      sum += digests[i];
    });
    sum = BigInt.asUintN(64, sum);
    if (request.hash !== undefined && hashFromSum(sum) !== request.hash) {
      this.resent = undefined;
      throw new Error(`rule set hash mismatch: computed ${hashFromSum(sum)}, supervisor sent ${request.hash}`);
    }
    if (resend === 'last' || resend === 'only') this.resent = undefined;
    if (this.fault === 'stuck') return 0; // test hook: pretend, change nothing
    const retired = this.install(upserts, removes, digests);
    if (request.hash !== undefined) {
      this.fault = 'none';
      this.log('debug', 'rules installed', { rules: this.installed.size, hash: request.hash });
    }
    return retired;
  }

  /** Test hook: the data-plane thread stops for `ms` (see Dataplane.stallForTest). */
  stallDataplane(ms: number): void {
    this.plane().stallForTest(ms);
    this.log('warn', 'test hook: data-plane thread stalled', { ms });
  }

  private install(upserts: DataplaneRule[], removes: string[], digests = upserts.map((rule) => this.digestOf(rule))): number {
    const retired = this.plane().updateRules(upserts, removes);
    for (const id of new Set(removes)) {
      const gone = this.installed.get(id);
      if (gone === undefined) continue;
      this.installed.delete(id);
      this.digestSum -= gone;
    }
    upserts.forEach((rule, i) => {
      this.digestSum += digests[i] - (this.installed.get(rule.id) ?? 0n);
      this.installed.set(rule.id, digests[i]);
    });
    this.digestSum = BigInt.asUintN(64, this.digestSum);
    return retired;
  }

  /** A rule's share of the ruleset hash over what it means (interfaces and destinations, not handle numbers). */
  private digestOf(r: DataplaneRule): bigint {
    return ruleDigest({
      id: r.id,
      input: this.inputs.get(r.input) ?? `#${r.input}`,
      group: r.group,
      port: r.port,
      source: r.source,
      vlan: r.vlan,
      outputs: r.outputs.map((h) => this.outputs.get(h) ?? [`#${h}`, '', 0, 0, 0, 0, false, false]),
      trace: r.trace,
    });
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
