/**
 * A run of some sections only (`--only control-plane`) must not wipe the other sections from
 * latest.md, which the README quotes: the sections this run did not measure are taken over from the
 * previous latest.json, each marked with the run it comes from (pure: unit-tested).
 */
import type { Results } from '../results';

export function withCarriedOver(results: Results, previous: Results | null): Results {
  if (!previous) return results;
  const merged: Results = { ...results, carriedOver: [] };
  const from = (section: string) => {
    // Already carried over once: keep naming the run that measured it.
    const earlier = previous.carriedOver?.find((c) => c.section === section);
    return earlier ?? { section, startedAt: previous.startedAt, command: previous.command, plan: previous.plan, machine: previous.machine };
  };
  const measuredForwarding = results.plan.sections.includes('forwarding');
  if (!measuredForwarding && (previous.ceiling?.length || previous.relays?.length)) {
    Object.assign(merged, {
      ceiling: previous.ceiling,
      relays: previous.relays,
      scale: previous.scale ?? [],
      bars: previous.bars ?? [],
      notes: previous.notes ?? [],
      ...(previous.kernelMulticastRouting ? { kernelMulticastRouting: previous.kernelMulticastRouting } : {}),
    });
    merged.carriedOver!.push(from('forwarding'));
  }
  if (!results.plan.sections.includes('control-plane') && previous.controlPlane) {
    merged.controlPlane = previous.controlPlane;
    merged.carriedOver!.push(from('control-plane'));
  }
  if (merged.carriedOver!.length === 0) delete merged.carriedOver;
  return merged;
}

/** The previous latest.json, or null when there is none or it cannot be read. */
export function parsePrevious(text: string | null): Results | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as Results;
    return value && typeof value === 'object' && typeof value.startedAt === 'string' ? value : null;
  } catch {
    return null;
  }
}
