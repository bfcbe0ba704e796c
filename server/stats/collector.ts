/**
 * Gathers counters from every running worker and shapes them as the API reports them: per rule
 * (with each output in the rule's own order) and per worker input, plus the kernel's drops. Totals
 * go through a ledger, so they never go backwards when a worker restarts or a rule moves, and carry
 * rates over the latest sampling window. Concurrent callers share one collection.
 */
import type { Rule } from '../../gen/mcr/v1/rules';
import type { InputStats, OutputStats, RuleStats } from '../../gen/mcr/v1/stats';
import type { CountersReply } from '../../workers/protocol';
import type { WorkerPool, WorkerSlot } from '../workers/pool';
import { logger, rateLimited } from '../log';
import { CounterLedger } from './ledger';

const log = rateLimited(logger('workers'));

export interface CollectedStats {
  rules: RuleStats[];
  inputs: InputStats[];
  collectedUnixNanos: bigint;
}

type WireRule = CountersReply['rules'][number];
type WireOutput = WireRule['outputs'][number];
type WireInput = CountersReply['inputs'][number];

const OUTPUT_FIELDS = ['packets', 'bytes', 'errWouldBlock', 'errUnreachable', 'errOther'] as const;
const INPUT_FIELDS = ['frames', 'bytes', 'unmatched', 'truncated', 'notIpv4', 'badHeader', 'badLength', 'fragment', 'notUdp'] as const;

/** A reading's origin: counters of another worker process (or capture socket) start a new series. */
function sourceOf(slot: WorkerSlot): string {
  return `${slot.index}#${slot.process?.pid ?? 0}`;
}

export class StatsCollector {
  private readonly ledger = new CounterLedger();
  private inFlight?: Promise<CollectedStats>;
  private knownRules = new Set<string>();
  /** Latest last-packet time seen per rule: a restarted worker starts again from "never". */
  private readonly lastPacket = new Map<string, bigint>();

  constructor(
    private readonly pool: WorkerPool,
    private readonly rules: () => Rule[],
    /** The worker a rule belongs to when no running worker reports it (e.g. while it restarts). */
    private readonly plannedWorker: (rule: Rule) => number,
    /** Told each rule's last-packet time whenever counters are read. */
    private readonly onRule: (ruleId: string, lastPacketNs: bigint) => void = () => undefined,
  ) {}

  /** Reads every worker's counters; calls made while a collection runs share its result. */
  collect(): Promise<CollectedStats> {
    if (!this.inFlight) {
      this.inFlight = this.gather().finally(() => {
        this.inFlight = undefined;
      });
    }
    return this.inFlight;
  }

  private async gather(): Promise<CollectedStats> {
    const replies = await Promise.all(this.pool.slots.map((slot) => this.countersOf(slot)));
    const now = process.hrtime.bigint();
    const byRule = new Map<string, { slot: WorkerSlot; counters: WireRule }>();
    const inputs: InputStats[] = [];
    replies.forEach((reply, index) => {
      if (!reply) return;
      const slot = this.pool.slots[index];
      for (const counters of reply.rules) byRule.set(counters.id, { slot, counters });
      const drops = slot.sync?.kernelDrops() ?? new Map<string, bigint>();
      for (const counters of reply.inputs) inputs.push(this.inputStats(slot, counters, drops, now));
    });
    const rules = this.rules().map((rule) => {
      const found = byRule.get(rule.id);
      return this.ruleStats(rule, found?.slot ?? this.ownerOf(rule), found?.counters, now);
    });
    this.forgetDeleted(rules);
    for (const r of rules) this.onRule(r.ruleId, r.lastPacketUnixNanos);
    return { rules, inputs, collectedUnixNanos: BigInt(Date.now()) * 1_000_000n };
  }

  /** Cumulative value of a counter: recorded when read now, the ledger's total otherwise. */
  private total(key: string, source: string | undefined, value: string | bigint | undefined, now: bigint): bigint {
    return source !== undefined && value !== undefined ? this.ledger.record(key, source, BigInt(value), now) : this.ledger.total(key);
  }

  private ruleStats(rule: Rule, slot: WorkerSlot | undefined, counters: WireRule | undefined, now: bigint): RuleStats {
    const source = counters && slot ? sourceOf(slot) : undefined;
    const key = `rule:${rule.id}:`;
    const wireOutputs = this.outputsInRuleOrder(rule, slot, counters);
    const outputs: OutputStats[] = rule.outputs.map((output, index) => {
      const wire = wireOutputs[index];
      const [packets, bytes, wouldBlock, unreachable, other] = OUTPUT_FIELDS.map((field) =>
        this.total(`${key}out${index}:${field}`, wire ? source : undefined, wire?.[field], now),
      );
      return {
        index,
        interface: output.interface,
        address: output.address,
        port: output.port,
        packets,
        bytes,
        errorsWouldBlock: wouldBlock,
        errorsUnreachable: unreachable,
        errorsOther: other,
        packetsPerSecond: this.ledger.rate(`${key}out${index}:packets`),
        bitsPerSecond: this.ledger.rate(`${key}out${index}:bytes`) * 8,
      };
    });
    const sum = (pick: (o: OutputStats) => bigint) => outputs.reduce((acc, o) => acc + pick(o), 0n);
    return {
      ruleId: rule.id,
      name: rule.name,
      worker: slot?.index ?? this.plannedWorker(rule),
      packetsReceived: this.total(`${key}packets`, source, counters?.packets, now),
      bytesReceived: this.total(`${key}bytes`, source, counters?.bytes, now),
      packetsForwarded: this.total(`${key}forwarded`, source, counters?.forwarded, now),
      drops: {
        sendFailed: this.total(`${key}sendFailed`, source, counters?.sendFailed, now),
        noBuffer: sum((o) => o.errorsWouldBlock),
        unreachable: sum((o) => o.errorsUnreachable),
        sendError: sum((o) => o.errorsOther),
      },
      lastPacketUnixNanos: this.latestPacket(rule.id, BigInt(counters?.lastPacketNs ?? 0)),
      outputs,
      packetsPerSecond: this.ledger.rate(`${key}packets`),
      bitsPerSecond: this.ledger.rate(`${key}bytes`) * 8,
    };
  }

  private latestPacket(ruleId: string, reported: bigint): bigint {
    const latest = reported > (this.lastPacket.get(ruleId) ?? 0n) ? reported : this.lastPacket.get(ruleId) ?? 0n;
    if (latest > 0n) this.lastPacket.set(ruleId, latest);
    return latest;
  }

  /** The worker's output counters placed at the index of the rule output they belong to. */
  private outputsInRuleOrder(rule: Rule, slot: WorkerSlot | undefined, counters: WireRule | undefined): Array<WireOutput | undefined> {
    const placed: Array<WireOutput | undefined> = rule.outputs.map(() => undefined);
    const installed = slot?.sync?.snapshot.rules.get(rule.id);
    if (!installed || !counters) return placed;
    for (const out of counters.outputs) {
      const match = installed.outputs.find((o) => o.handle === out.handle);
      if (match) placed[match.index] = out;
    }
    return placed;
  }

  private inputStats(slot: WorkerSlot, counters: WireInput, kernelDrops: Map<string, bigint>, now: bigint): InputStats {
    const ifname = slot.sync?.captureInterface(counters.handle) ?? `#${counters.handle}`;
    const source = `${sourceOf(slot)}/${counters.handle}`;
    const key = `input:${slot.index}:${ifname}:`;
    const [frames, bytes, unmatched, truncated, notIpv4, badHeader, badLength, fragment, notUdp] = INPUT_FIELDS.map((field) =>
      this.total(`${key}${field}`, source, counters[field], now),
    );
    return {
      worker: slot.index,
      interface: ifname,
      frames,
      bytes,
      unmatched,
      parseErrors: { truncated, notIpv4, badHeader, badLength, fragment, notUdp },
      kernelDrops: this.total(`${key}kernelDrops`, source, kernelDrops.get(ifname) ?? 0n, now),
    };
  }

  private forgetDeleted(rules: RuleStats[]): void {
    const live = new Set(rules.map((r) => r.ruleId));
    for (const id of this.knownRules) {
      if (live.has(id)) continue;
      this.ledger.forget(`rule:${id}:`);
      this.lastPacket.delete(id);
    }
    this.knownRules = live;
  }

  private ownerOf(rule: Rule): WorkerSlot | undefined {
    return this.pool.slots.find((s) => s.sync?.snapshot.rules.has(rule.id));
  }

  private async countersOf(slot: WorkerSlot): Promise<CountersReply | undefined> {
    if (!slot.running) return undefined;
    try {
      return (await slot.process!.request({ type: 'counters' })) as CountersReply;
    } catch (err) {
      log.warn(`worker-counters-${slot.index}`, 'cannot read worker counters', { worker: slot.index, error: (err as Error).message });
      return undefined;
    }
  }
}
