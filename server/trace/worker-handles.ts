/**
 * Names the handles in one worker's trace records from what the supervisor installed in that worker
 * (its WorkerSync) and the rules' definitions. Built per batch of records: lookups are cached for the
 * batch, so a batch costs one pass over each traced rule's outputs, not one per record.
 */
import type { Rule } from '../../gen/mcr/v1/rules';
import type { WorkerSync } from '../forwarding/worker-sync';
import type { HandleResolver, ResolvedOutput } from './record';

export class WorkerHandles implements HandleResolver {
  private readonly inputs = new Map<number, string | undefined>();
  private readonly outputsByRule = new Map<string, Map<number, ResolvedOutput>>();

  constructor(
    private readonly sync: WorkerSync | undefined,
    /** The rule with this id (or name). */
    private readonly findRule: (ref: string) => Rule | undefined,
  ) {}

  inputInterface(handle: number): string | undefined {
    if (!this.inputs.has(handle)) this.inputs.set(handle, this.sync?.captureInterface(handle));
    return this.inputs.get(handle);
  }

  output(ruleId: string, handle: number): ResolvedOutput | undefined {
    let outputs = this.outputsByRule.get(ruleId);
    if (!outputs) {
      outputs = this.outputsOf(ruleId);
      this.outputsByRule.set(ruleId, outputs);
    }
    return outputs.get(handle);
  }

  owns(ruleId: string): boolean {
    return this.sync?.snapshot.rules.has(ruleId) ?? false;
  }

  /** Output handle -> the rule output it sends for, for the rule as installed in this worker. */
  private outputsOf(ruleId: string): Map<number, ResolvedOutput> {
    const byHandle = new Map<number, ResolvedOutput>();
    const installed = this.sync?.snapshot.rules.get(ruleId);
    const rule = this.findRule(ruleId);
    if (!installed || rule?.id !== ruleId) return byHandle;
    for (const { index, handle } of installed.outputs) {
      const output = rule.outputs[index];
      if (output) byHandle.set(handle, { index, interface: output.interface, address: output.address, port: output.port });
    }
    return byHandle;
  }
}
