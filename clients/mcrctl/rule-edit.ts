/**
 * What `rule add` and `rule update` ask for, as a RuleEdit, and the rule definitions built from it.
 * Pure functions: no I/O, so the merge semantics of `rule update` are testable on their own.
 */
import { Output, Rule } from '../../gen/mcr/v1/rules';
import { Endpoint } from './args';

/** The rule fields given on a command line; undefined = not given. */
export interface RuleEdit {
  id?: string;
  name?: string;
  /** --in: interface, group (as `address`) and port. */
  input?: Endpoint;
  /** --source; "" clears it. */
  source?: string;
  /** Every --out, in order. Given = the whole new output list. */
  outputs?: Endpoint[];
  /** --ttl and --dscp: for every output given on the command line (or, without --out, every output). */
  ttl?: number;
  dscp?: number;
}

/** A RuleEdit that can define a new rule. */
export type NewRuleEdit = RuleEdit & { input: Endpoint; outputs: Endpoint[] };

/** Whether the edit changes anything at all. */
export function isEmptyEdit(edit: RuleEdit): boolean {
  return Object.values(edit).every((value) => value === undefined);
}

function outputFrom(endpoint: Endpoint): Output {
  return { interface: endpoint.interface, address: endpoint.address, port: endpoint.port, ttl: undefined, dscp: undefined };
}

/** The output with the edit's --ttl/--dscp applied (kept as they were where not given). */
function withEditedMarking(output: Output, edit: RuleEdit): Output {
  return { ...output, ttl: edit.ttl ?? output.ttl, dscp: edit.dscp ?? output.dscp };
}

/** The rule `rule add` asks mcrd to create (id empty unless --id: mcrd then derives it). */
export function newRuleDefinition(edit: NewRuleEdit): Rule {
  return Rule.fromPartial({
    id: edit.id ?? '',
    name: edit.name ?? '',
    input: { interface: edit.input.interface, group: edit.input.address, port: edit.input.port, source: edit.source ?? '' },
    outputs: edit.outputs.map((endpoint) => withEditedMarking(outputFrom(endpoint), edit)),
  });
}

/**
 * The complete definition `rule update` sends: the existing rule with only what the edit gives
 * replaced. --in replaces interface, group and port (the source stays unless --source is given);
 * --out replaces the whole output list; --ttl/--dscp without --out apply to every existing output.
 * Output-only fields (generation, status, timestamps) are left out.
 */
export function mergeRuleUpdate(existing: Rule, edit: RuleEdit): Rule {
  const input = existing.input ?? { interface: '', group: '', port: 0, source: '' };
  const outputs = edit.outputs ? edit.outputs.map(outputFrom) : existing.outputs;
  return Rule.fromPartial({
    id: existing.id,
    name: edit.name ?? existing.name,
    input: {
      interface: edit.input?.interface ?? input.interface,
      group: edit.input?.address ?? input.group,
      port: edit.input?.port ?? input.port,
      source: edit.source ?? input.source,
    },
    outputs: outputs.map((output) => withEditedMarking(output, edit)),
  });
}
