/** mcr.v1.RuleService: create, read, update and delete forwarding rules, or apply a whole rule set. */
import { status } from '@grpc/grpc-js';

import {
  ApplyRulesRequest,
  ApplyRulesView,
  ApplyRulesResponse,
  CreateRuleRequest,
  CreateRuleResponse,
  DeleteRuleRequest,
  DeleteRuleResponse,
  GetRuleRequest,
  GetRuleResponse,
  ListRulesRequest,
  ListRulesResponse,
  Rule,
  RuleServiceServer,
  RuleState,
  UpdateRuleRequest,
  UpdateRuleResponse,
} from '../../gen/mcr/v1/rules';
import type { EventBus } from '../events/bus';
import type { Forwarder } from '../forwarding/forwarder';
import type { RuleStore } from '../rules/store';
import { checkUpdateMask } from '../rules/update-mask';
import { announceApplied, announceRuleChange, appliedAnything } from '../events/rule-changes';
import { unknownRule } from '../rules/errors';
import { applyAnswer } from './apply-answer';
import { encodeWholeAnswer } from './apply-answer-encoding';
import { ApiError } from './errors';
import { cappedReason } from './message-limits';
import { checkedTogether, pageCursor, sizeInList, takePage } from './paging';
import { filterQuery, ruleMatcher } from './rule-filter';
import { ruleListing } from './rule-listing';
import { CallGate, unary } from './unary';

export interface RuleServiceDeps {
  store: RuleStore;
  forwarder: Forwarder;
  gate: CallGate;
  events: EventBus;
}

/**
 * How long, from its arrival, a change may take before it is answered. It is on disk first; then it
 * waits for the workers to confirm it, which healthy workers do in a few milliseconds. A worker that
 * is hung or restarting must not hold the API up: past this budget the reply says what is known (the
 * rule is stored; its status may say "being installed") and the workers catch up on their own.
 */
export const CHANGE_BUDGET_MS = 80;

/** Waits for the forwarding sync, but not past the change's budget. */
function settle(sync: Promise<void>, arrivedAt: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, arrivedAt + CHANGE_BUDGET_MS - Date.now()));
    void sync.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function nowNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

function requireRef(ref: string): string {
  if (!ref) throw new ApiError(status.INVALID_ARGUMENT, 'rule', 'required: a rule id or name');
  return ref;
}

export function ruleService({ store, forwarder, gate, events }: RuleServiceDeps): RuleServiceServer {
  const statusOf = (rule: Rule) => {
    // Copied only when its reason is cut (a whole answer has 20,000 statuses).
    const status = forwarder.status(rule);
    const reason = cappedReason(status.reason);
    return reason === status.reason ? status : { ...status, reason };
  };
  const withStatus = (rule: Readonly<Rule>): Rule => ({ ...rule, status: statusOf(rule) });
  const listing = ruleListing(store);
  /** A rule only validated (validate_only, dry_run): nothing installed, so no worker and no packet. */
  const validated = (rule: Readonly<Rule>): Rule => ({
    ...rule,
    status: { state: RuleState.RULE_STATE_VALIDATED, reason: 'valid; nothing was changed (validate only)', worker: 0, lastPacketUnixNanos: 0n },
  });
  const announce = (rule: Rule, change: 'created' | 'updated' | 'deleted') => announceRuleChange(events, rule, change);
  const find = (ref: string): Rule => {
    const rule = store.find(requireRef(ref));
    if (!rule) throw unknownRule('rule', ref);
    return rule;
  };

  return {
    applyRules: unary(gate, 'ApplyRules', async (req: ApplyRulesRequest): Promise<ApplyRulesResponse> => {
      const arrivedAt = Date.now();
      const request = { replace: req.replace, expectedGeneration: req.expectedGeneration };
      const applied = await store.apply(req.rules, request, nowNanos(), { dryRun: req.dryRun });
      if (!req.dryRun && appliedAnything(applied)) {
        announceApplied(events, applied);
        await settle(forwarder.syncChanges(), arrivedAt);
      }
      const shown = req.dryRun ? validated : withStatus;
      // Statuses are looked up only for the rules a view carries whole (BASIC and COUNTS have none;
      // CHANGES only counts the unchanged rules).
      const whole = req.view === ApplyRulesView.APPLY_RULES_VIEW_UNSPECIFIED;
      const changes = whole || req.view === ApplyRulesView.APPLY_RULES_VIEW_CHANGES;
      const added = changes ? applied.added.map(shown) : applied.added;
      const changed = changes ? applied.changed.map(shown) : applied.changed;
      const fields = { storeGeneration: applied.generation, dryRun: req.dryRun };
      if (whole) {
        // The unchanged (stored) rules' encodings are kept with them: written once, not copied, not
        // encoded twice (apply-answer-encoding.ts). Pre-encoded, as acceptPreEncoded lets it be sent.
        const encoded = encodeWholeAnswer({ added, changed, removed: applied.removed, unchanged: applied.unchanged, ...fields }, statusOf);
        if (encoded) return encoded as unknown as ApplyRulesResponse;
      }
      const lists = { added, changed, removed: applied.removed, unchanged: whole ? applied.unchanged.map(withStatus) : applied.unchanged };
      return applyAnswer(lists, fields, req.view);
    }),

    createRule: unary(gate, 'CreateRule', async (req: CreateRuleRequest): Promise<CreateRuleResponse> => {
      const arrivedAt = Date.now();
      // The store validates the definition (once, before it plans the change), naming its fields under `rule`.
      const rule = await store.create(req.rule, nowNanos(), { dryRun: req.validateOnly });
      if (req.validateOnly) return { rule: validated(rule) };
      announce(rule, 'created');
      await settle(forwarder.syncChanges(), arrivedAt);
      return { rule: withStatus(rule) };
    }),

    getRule: unary(gate, 'GetRule', (req: GetRuleRequest): GetRuleResponse => ({ rule: withStatus(find(req.rule)) })),

    listRules: unary(gate, 'ListRules', (req: ListRulesRequest): ListRulesResponse => {
      const [matches, cursor] = checkedTogether(() => ruleMatcher(req.filter), () => pageCursor(req, 'ListRules', filterQuery(req.filter), 1));
      const { sorted, generation } = listing();
      const page = takePage(cursor, {
        sorted,
        keyOf: (rule) => [rule.id],
        select: (rule) => {
          let status: Rule['status'];
          const state = () => (status ??= statusOf(rule)).state;
          return matches(rule, state) ? { ...rule, status: status ?? statusOf(rule) } : undefined;
        },
        sizeOf: (rule) => sizeInList(Rule.encode(rule).finish().length),
      });
      return { rules: page.items, storeGeneration: generation, nextPageToken: page.nextPageToken };
    }),

    updateRule: unary(gate, 'UpdateRule', async (req: UpdateRuleRequest): Promise<UpdateRuleResponse> => {
      const arrivedAt = Date.now();
      requireRef(req.rule);
      const mask = checkUpdateMask(req.updateMask);
      // The store validates the definition, naming its fields under `definition`: a whole one before it
      // plans the change, a partial one once merged into the rule.
      const { after } = await store.update(req.rule, req.definition, req.expectedGeneration, nowNanos(), { dryRun: req.validateOnly, mask });
      if (req.validateOnly) return { rule: validated(after) };
      announce(after, 'updated');
      await settle(forwarder.syncChanges(), arrivedAt);
      return { rule: withStatus(after) };
    }),

    deleteRule: unary(gate, 'DeleteRule', async (req: DeleteRuleRequest): Promise<DeleteRuleResponse> => {
      const arrivedAt = Date.now();
      // Its last status, taken before the workers drop it (a refused delete changes nothing).
      const found = store.findAsStored(requireRef(req.rule));
      const last = found && forwarder.status(found);
      const before = await store.delete(req.rule, req.expectedGeneration);
      announce(before, 'deleted');
      await settle(forwarder.syncChanges(), arrivedAt);
      return { rule: { ...before, status: found?.id === before.id ? last : forwarder.status(before) } };
    }),
  };
}
