/** Text views of rules: the `rule list` table and the `rule get` detail. */
import { Rule, RuleState, RuleStatus } from '../../gen/mcr/v1/rules';
import { formatInput, formatOutput, formatTime } from './format';
import { renderFields, renderTable } from './table';

const STATE_WORDS: Record<RuleState, string> = {
  [RuleState.RULE_STATE_UNSPECIFIED]: 'unknown',
  [RuleState.RULE_STATE_ACTIVE]: 'active',
  [RuleState.RULE_STATE_WAITING_FOR_INTERFACE]: 'waiting',
  [RuleState.RULE_STATE_INTERFACE_DOWN]: 'down',
  [RuleState.RULE_STATE_ERROR]: 'error',
  [RuleState.RULE_STATE_VALIDATED]: 'validated',
  [RuleState.RULE_STATE_PENDING]: 'pending',
  [RuleState.UNRECOGNIZED]: 'unknown',
};

/** The rule a rule RPC answered with; mcrd always sends one, so its absence is a server bug. */
export function answeredRule(rule: Rule | undefined, rpc: string): Rule {
  if (rule === undefined) throw new Error(`mcrd answered ${rpc} without a rule`);
  return rule;
}

/** "r-0123456789ab (cam1)", or the id alone for a rule without a name. */
export function ruleLabel(rule: Pick<Rule, 'id' | 'name'>): string {
  return rule.name ? `${rule.id} (${rule.name})` : rule.id;
}

/** "active", or "waiting: interface eth9 does not exist" when mcrd gives a reason. */
export function formatState(status: RuleStatus | undefined): string {
  if (status === undefined) return STATE_WORDS[RuleState.RULE_STATE_UNSPECIFIED];
  const word = STATE_WORDS[status.state] ?? `state ${status.state}`;
  return status.reason ? `${word}: ${status.reason}` : word;
}

/** One row per rule; a rule with several outputs lists one per line. */
export function rulesTable(rules: readonly Rule[]): string {
  return renderTable(
    [{ header: 'ID' }, { header: 'NAME' }, { header: 'INPUT' }, { header: 'OUTPUTS' }, { header: 'STATE' }, { header: 'GEN', align: 'right' }],
    rules.map((rule) => [
      rule.id,
      rule.name || '-',
      formatInput(rule.input),
      rule.outputs.map(formatOutput).join('\n') || '-',
      formatState(rule.status),
      rule.generation.toString(),
    ]),
  );
}

/** Everything about one rule, one field per line. */
export function ruleDetail(rule: Rule): string {
  const outputs = rule.outputs.map((output, i) => `[${i}] ${formatOutput(output)}`).join('\n');
  return renderFields([
    ['ID', rule.id],
    ['Name', rule.name || '-'],
    ['State', formatState(rule.status)],
    ['Worker', rule.status ? String(rule.status.worker) : '-'],
    ['Input', formatInput(rule.input)],
    ['Outputs', outputs || '-'],
    ['Generation', rule.generation.toString()],
    ['Last packet', formatTime(rule.status?.lastPacketUnixNanos ?? 0n)],
    ['Created', formatTime(rule.createdUnixNanos, '-')],
    ['Updated', formatTime(rule.updatedUnixNanos, '-')],
  ]);
}
