/**
 * Feeds the trace manager: every worker's trace batches (from each worker process as it starts), and
 * rule changes from the event bus (a deleted rule, or one whose match changed, ends its trace).
 */
import type { Rule } from '../../gen/mcr/v1/rules';
import { EventKind } from '../../gen/mcr/v1/system';
import { tracedPacketFromWire, WorkerMessage } from '../../workers/protocol';
import type { EventBus } from '../events/bus';
import type { ForwardingPool, ForwardingSlot } from '../forwarding/worker-sync';
import type { TraceManager } from './manager';
import { WorkerHandles } from './worker-handles';

export interface TraceSources {
  pool: ForwardingPool;
  events: EventBus;
  /** The rule with this id, else with this name. */
  findRule(ref: string): Rule | undefined;
}

/** Connects the sources to `traces`; call before the pool starts so that no worker is missed. */
export function connectTraces(traces: TraceManager, { pool, events, findRule }: TraceSources): void {
  pool.on('started', (slot: ForwardingSlot) => {
    const process = slot.process;
    process?.on('message', (message: WorkerMessage) => {
      if (message.type !== 'trace' || slot.process !== process) return;
      traces.ingest(slot.index, message.records.map(tracedPacketFromWire), message.lost, new WorkerHandles(slot.sync, findRule));
    });
  });
  events.subscribe([EventKind.EVENT_KIND_RULE_CHANGED], (event) => {
    if (event.rule) traces.ruleChanged(event.rule.ruleId);
  });
}
