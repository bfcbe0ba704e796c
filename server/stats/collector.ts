/**
 * Gathers counters from every running worker and shapes them as the API reports them: per rule
 * (with each output in the rule's own order) and per worker input, plus the kernel's drops.
 */
import type { Rule } from '../../gen/mcr/v1/rules';
import type { InputStats, OutputStats, RuleStats } from '../../gen/mcr/v1/stats';
import type { CountersReply } from '../../workers/protocol';
import type { WorkerPool, WorkerSlot } from '../workers/pool';
import { logger } from '../log';

const log = logger('workers');

export interface CollectedStats {
  rules: RuleStats[];
  inputs: InputStats[];
}

type WireRule = CountersReply['rules'][number];
type WireInput = CountersReply['inputs'][number];

function zeroOutput(index: number, rule: Rule): OutputStats {
  const output = rule.outputs[index];
  return {
    index,
    interface: output.interface,
    address: output.address,
    port: output.port,
    packets: 0n,
    bytes: 0n,
    errorsWouldBlock: 0n,
    errorsUnreachable: 0n,
    errorsOther: 0n,
  };
}

function ruleStats(rule: Rule, worker: number, counters: WireRule | undefined, slot: WorkerSlot): RuleStats {
  const outputs = rule.outputs.map((_, i) => zeroOutput(i, rule));
  const planned = slot.sync?.rules.find((r) => r.id === rule.id);
  for (const out of counters?.outputs ?? []) {
    const key = slot.sync?.egressKeyOf(out.handle);
    const position = key && planned ? planned.outputs.indexOf(key) : -1;
    if (position < 0) continue;
    const stats = outputs[planned!.outputIndexes[position]];
    stats.packets = BigInt(out.packets);
    stats.bytes = BigInt(out.bytes);
    stats.errorsWouldBlock = BigInt(out.errWouldBlock);
    stats.errorsUnreachable = BigInt(out.errUnreachable);
    stats.errorsOther = BigInt(out.errOther);
  }
  return {
    ruleId: rule.id,
    name: rule.name,
    worker,
    packetsReceived: BigInt(counters?.packets ?? 0),
    bytesReceived: BigInt(counters?.bytes ?? 0),
    packetsForwarded: BigInt(counters?.forwarded ?? 0),
    drops: { sendFailed: BigInt(counters?.sendFailed ?? 0) },
    lastPacketUnixNanos: BigInt(counters?.lastPacketNs ?? 0),
    outputs,
  };
}

function inputStats(worker: number, counters: WireInput, slot: WorkerSlot, kernelDrops: Map<string, bigint>): InputStats {
  const ifname = slot.sync?.captureInterface(counters.handle) ?? `#${counters.handle}`;
  return {
    worker,
    interface: ifname,
    frames: BigInt(counters.frames),
    bytes: BigInt(counters.bytes),
    unmatched: BigInt(counters.unmatched),
    parseErrors: {
      truncated: BigInt(counters.truncated),
      notIpv4: BigInt(counters.notIpv4),
      badHeader: BigInt(counters.badHeader),
      badLength: BigInt(counters.badLength),
      fragment: BigInt(counters.fragment),
      notUdp: BigInt(counters.notUdp),
    },
    kernelDrops: kernelDrops.get(ifname) ?? 0n,
  };
}

export class StatsCollector {
  constructor(
    private readonly pool: WorkerPool,
    private readonly rules: () => Rule[],
    /** Told each rule's last-packet time whenever counters are read. */
    private readonly onRule: (ruleId: string, lastPacketNs: bigint) => void = () => undefined,
  ) {}

  async collect(): Promise<CollectedStats> {
    const replies = await Promise.all(this.pool.slots.map((slot) => this.countersOf(slot)));
    const byRule = new Map<string, { worker: number; counters: WireRule }>();
    const inputs: InputStats[] = [];
    replies.forEach((reply, worker) => {
      if (!reply) return;
      const slot = this.pool.slots[worker];
      for (const counters of reply.rules) byRule.set(counters.id, { worker, counters });
      const drops = slot.sync?.kernelDrops() ?? new Map<string, bigint>();
      for (const counters of reply.inputs) inputs.push(inputStats(worker, counters, slot, drops));
    });
    const rules = this.rules().map((rule) => {
      const found = byRule.get(rule.id);
      const worker = found?.worker ?? this.ownerOf(rule);
      return ruleStats(rule, worker, found?.counters, this.pool.slots[worker]);
    });
    for (const r of rules) this.onRule(r.ruleId, r.lastPacketUnixNanos);
    return { rules, inputs };
  }

  private ownerOf(rule: Rule): number {
    const slot = this.pool.slots.find((s) => s.sync?.rules.some((r) => r.id === rule.id));
    return slot?.index ?? 0;
  }

  private async countersOf(slot: WorkerSlot): Promise<CountersReply | undefined> {
    if (!slot.running) return undefined;
    try {
      return (await slot.process!.request({ type: 'counters' })) as CountersReply;
    } catch (err) {
      log.warn('cannot read worker counters', { worker: slot.index, error: (err as Error).message });
      return undefined;
    }
  }
}
