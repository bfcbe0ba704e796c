/**
 * Rule changes as WatchEvents events (EVENT_KIND_RULE_CHANGED), published by the rule RPCs and by a
 * config file reload alike, so a watcher sees every change whichever way it was made.
 */
import type { Rule } from '../../gen/mcr/v1/rules';
import { EventKind } from '../../gen/mcr/v1/system';
import type { EventBus } from './bus';

/** The rules a change (an ApplyRules, a config reload) added, changed and removed. */
export interface RuleChanges {
  added: readonly Rule[];
  changed: readonly Rule[];
  removed: readonly Rule[];
}

export type RuleChange = 'created' | 'updated' | 'deleted';

export function announceRuleChange(events: EventBus, rule: Rule, change: RuleChange): void {
  events.publish(EventKind.EVENT_KIND_RULE_CHANGED, `rule ${rule.id}${rule.name ? ` (${rule.name})` : ''} ${change}`, {
    rule: { ruleId: rule.id, status: undefined, change },
  });
}

/** One event per rule an apply added, changed or removed; none for those it left alone. */
export function announceApplied(events: EventBus, applied: RuleChanges): void {
  for (const rule of applied.added) announceRuleChange(events, rule, 'created');
  for (const rule of applied.changed) announceRuleChange(events, rule, 'updated');
  for (const rule of applied.removed) announceRuleChange(events, rule, 'deleted');
}

/** Whether an apply changed anything (it wrote the store and bumped its generation). */
export function appliedAnything(applied: RuleChanges): boolean {
  return applied.added.length + applied.changed.length + applied.removed.length > 0;
}
