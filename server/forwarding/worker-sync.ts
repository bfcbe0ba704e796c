/**
 * Makes one running worker match its plan: opens the privileged sockets it needs (the worker cannot),
 * hands them over, installs the rule table, narrows or widens the capture filters, and closes what is
 * no longer needed. Order keeps traffic of untouched rules flowing: new sockets first, then the new
 * table, then filters, then removals.
 */
import type { DataplaneRule, Native } from '../../native';
import { CanonicalRule, EgressDescription, rulesetHash } from '../../workers/protocol';
import { CaptureFilters } from '../net/capture-filter';
import type { Logger } from '../log';
import type { CaptureSpec, EgressSpec, PlannedRule, WorkerPlan } from './plan';
import type { WorkerProcess } from '../workers/worker-process';

export interface SocketSettings {
  rcvbuf: number;
  sndbuf: number;
}

interface InstalledCapture {
  handle: number;
  ifindex: number;
  /** The supervisor keeps its own copy of the fd: filters are changed and kernel drops read through it. */
  fd: number;
  filterKey: string;
  /** Kernel drops read so far (PACKET_STATISTICS resets on read). */
  kernelDrops: bigint;
}

interface InstalledEgress {
  handle: number;
  spec: EgressSpec;
}

/** A problem installing something a rule needs, keyed by capture interface or egress key. */
export type SyncErrors = Map<string, string>;

function describe(spec: EgressSpec): EgressDescription {
  return { interface: spec.ifname, address: spec.address, port: spec.port, ttl: spec.ttl, tos: spec.tos };
}

function targetsKey(spec: CaptureSpec): string {
  return spec.targets
    .map((t) => `${t.group}:${t.port}:${t.source ?? ''}`)
    .sort()
    .join(',');
}

export class WorkerSync {
  private nextHandle = 1;
  private captures = new Map<string, InstalledCapture>();
  private egress = new Map<string, InstalledEgress>();
  private installedHash = rulesetHash([]);
  /** The installed table with its handles: a socket replaced behind the same description changes it. */
  private installedTable = '[]';
  private installedRules: PlannedRule[] = [];
  private applying = false;
  private forceRules = false;
  private readonly filters: CaptureFilters;

  constructor(
    private readonly worker: WorkerProcess,
    private readonly addon: Native,
    private readonly sockets: SocketSettings,
    private readonly log: Logger,
  ) {
    this.filters = new CaptureFilters(addon);
  }

  /** The hash of the rule set this worker should report. */
  get expectedHash(): string {
    return this.installedHash;
  }

  get rules(): readonly PlannedRule[] {
    return this.installedRules;
  }

  /** True while apply() runs: the worker's reported hash may lag the expected one meanwhile. */
  get busy(): boolean {
    return this.applying;
  }

  /** Makes the next apply() send the whole rule set again even if it looks unchanged (drift repair). */
  resendRules(): void {
    this.forceRules = true;
  }

  /** Capture interface name of an input handle. */
  captureInterface(handle: number): string | undefined {
    for (const [ifname, capture] of this.captures) if (capture.handle === handle) return ifname;
    return undefined;
  }

  /** Handle of the installed egress socket with this key. */
  egressHandle(key: string): number | undefined {
    return this.egress.get(key)?.handle;
  }

  /** Egress key of an output handle. */
  egressKeyOf(handle: number): string | undefined {
    for (const [key, egress] of this.egress) if (egress.handle === handle) return key;
    return undefined;
  }

  /** Accumulated kernel drops per capture interface. */
  kernelDrops(): Map<string, bigint> {
    const drops = new Map<string, bigint>();
    for (const [ifname, capture] of this.captures) {
      try {
        capture.kernelDrops += BigInt(this.addon.packetStatistics(capture.fd).drops);
      } catch (err) {
        this.log.warn('cannot read packet statistics', { interface: ifname, error: (err as Error).message });
      }
      drops.set(ifname, capture.kernelDrops);
    }
    return drops;
  }

  async apply(plan: WorkerPlan): Promise<SyncErrors> {
    this.applying = true;
    try {
      return await this.applyPlan(plan);
    } finally {
      this.applying = false;
    }
  }

  private async applyPlan(plan: WorkerPlan): Promise<SyncErrors> {
    const errors: SyncErrors = new Map();
    for (const spec of plan.captures.values()) await this.ensureCapture(spec, errors);
    for (const spec of plan.egress.values()) await this.ensureEgress(spec, errors);

    const installable = plan.rules.filter((r) => this.captures.has(r.ifname) && !errors.has(r.ifname));
    const table: DataplaneRule[] = [];
    const canonical: CanonicalRule[] = [];
    for (const rule of installable) {
      const outputs = rule.outputs.map((key) => this.egress.get(key)).filter((e): e is InstalledEgress => e !== undefined);
      if (outputs.length === 0) continue;
      table.push({
        id: rule.id,
        input: this.captures.get(rule.ifname)!.handle,
        group: rule.group,
        port: rule.port,
        source: rule.source,
        outputs: outputs.map((e) => e.handle),
        ...(rule.trace ? { trace: rule.trace } : {}),
      });
      canonical.push({
        id: rule.id,
        input: rule.ifname,
        group: rule.group,
        port: rule.port,
        source: rule.source,
        outputs: outputs.map((e) => describe(e.spec)),
        trace: rule.trace,
      });
    }
    const hash = rulesetHash(canonical);
    const tableKey = JSON.stringify(table);
    if (hash !== this.installedHash || tableKey !== this.installedTable || this.forceRules) {
      this.forceRules = false;
      await this.worker.request({ type: 'setRules', rules: table, hash });
      this.installedHash = hash;
      this.installedTable = tableKey;
    }
    this.installedRules = installable;

    for (const spec of plan.captures.values()) this.updateFilter(spec, errors);
    for (const ifname of [...this.captures.keys()]) if (!plan.captures.has(ifname)) await this.removeCapture(ifname);
    for (const key of [...this.egress.keys()]) if (!plan.egress.has(key)) await this.removeEgress(key);
    return errors;
  }

  /** Forgets everything without talking to the worker (it has gone); closes the supervisor's fds. */
  reset(): void {
    for (const capture of this.captures.values()) this.filters.close(capture.fd);
    this.captures.clear();
    this.egress.clear();
    this.installedHash = rulesetHash([]);
    this.installedTable = '[]';
    this.installedRules = [];
  }

  private async ensureCapture(spec: CaptureSpec, errors: SyncErrors): Promise<void> {
    const existing = this.captures.get(spec.ifname);
    if (existing && existing.ifindex === spec.ifindex) return;
    if (existing) await this.removeCapture(spec.ifname); // same name, new interface
    let fd: number;
    try {
      fd = this.filters.open({ ifname: spec.ifname, ifindex: spec.ifindex, rcvbuf: this.sockets.rcvbuf }, spec.targets);
    } catch (err) {
      errors.set(spec.ifname, `cannot capture on ${spec.ifname}: ${(err as Error).message}`);
      return;
    }
    const handle = this.nextHandle++;
    try {
      await this.worker.request({ type: 'addInput', handle, interface: spec.ifname }, [fd]);
    } catch (err) {
      this.filters.close(fd);
      throw err;
    }
    this.captures.set(spec.ifname, { handle, ifindex: spec.ifindex, fd, filterKey: targetsKey(spec), kernelDrops: 0n });
  }

  private async ensureEgress(spec: EgressSpec, errors: SyncErrors): Promise<void> {
    if (this.egress.has(spec.key)) return;
    let fd: number;
    try {
      const { key: _key, ...socket } = spec;
      fd = this.addon.openEgressSocket({ ...socket, sndbuf: this.sockets.sndbuf });
    } catch (err) {
      errors.set(spec.key, `cannot send to ${spec.address}:${spec.port} on ${spec.ifname}: ${(err as Error).message}`);
      return;
    }
    const handle = this.nextHandle++;
    try {
      await this.worker.request({ type: 'addOutput', handle, ...describe(spec) }, [fd]);
    } finally {
      this.addon.closeFd(fd); // the worker holds its own copy now
    }
    this.egress.set(spec.key, { handle, spec });
  }

  private updateFilter(spec: CaptureSpec, errors: SyncErrors): void {
    const capture = this.captures.get(spec.ifname);
    if (!capture) return;
    const key = targetsKey(spec);
    if (key === capture.filterKey) return;
    try {
      this.filters.update(capture.fd, spec.targets);
      capture.filterKey = key;
    } catch (err) {
      errors.set(spec.ifname, `cannot update the capture filter on ${spec.ifname}: ${(err as Error).message}`);
    }
  }

  private async removeCapture(ifname: string): Promise<void> {
    const capture = this.captures.get(ifname)!;
    this.captures.delete(ifname);
    this.filters.close(capture.fd);
    await this.worker.request({ type: 'removeInput', handle: capture.handle });
  }

  private async removeEgress(key: string): Promise<void> {
    const egress = this.egress.get(key)!;
    this.egress.delete(key);
    await this.worker.request({ type: 'removeOutput', handle: egress.handle });
  }
}
