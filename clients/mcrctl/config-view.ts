/** Text views of the config commands: the diff of `config load` and the verdict of `config check`. */
import { ApplyRulesResponse, ApplyRulesView, Rule } from '../../gen/mcr/v1/rules';
import type { ConfigFile } from '../../server/config/config-file';
import { formatCpuList } from '../../server/formats/cpu-list';
import type { Listener } from '../../server/config/listener';
import { formatInput, formatOutput } from './format';
import { renderTable } from './table';

/** How many rules, with the right noun: "1 rule", "3 rules". */
function rules(count: number): string {
  return `${count} rule${count === 1 ? '' : 's'}`;
}

/**
 * One row per rule with what happens to it (added, changed, removed, unchanged), then a line that
 * sums it up; for a dry run, what would happen.
 */
export function applyView(response: ApplyRulesResponse): string {
  const groups: Array<[string, readonly Rule[]]> = [
    ['added', response.added],
    ['changed', response.changed],
    ['removed', response.removed],
    ['unchanged', response.unchanged],
  ];
  const whole = response.view === ApplyRulesView.APPLY_RULES_VIEW_UNSPECIFIED || response.view === ApplyRulesView.APPLY_RULES_VIEW_CHANGES;
  const rows = groups.flatMap(([change, list]) =>
    list.map((rule) => {
      const outputs = rule.outputs.map(formatOutput).join('\n') || '-';
      return [change, rule.id, rule.name || '-', whole ? formatInput(rule.input) : '-', whole ? outputs : '-', rule.generation.toString()];
    }),
  );
  const table = rows.length
    ? renderTable(
        [{ header: 'CHANGE' }, { header: 'ID' }, { header: 'NAME' }, { header: 'INPUT' }, { header: 'OUTPUTS' }, { header: 'GEN', align: 'right' }],
        rows,
      ) + '\n'
    : '';
  return table + viewNote(response.view) + applySummary(response) + '\n';
}

/** Said when mcrd answered a large apply with less than whole rules (ApplyRulesView). */
function viewNote(view: ApplyRulesView): string {
  if (view === ApplyRulesView.APPLY_RULES_VIEW_BASIC) return '(the set is large: mcrd answered with ids and names only; see `mcrctl rule list`)\n';
  if (view === ApplyRulesView.APPLY_RULES_VIEW_CHANGES) return '(the unchanged rules are only counted)\n';
  if (view === ApplyRulesView.APPLY_RULES_VIEW_COUNTS) return '(the set is large: mcrd answered with counts only; see `mcrctl rule list`)\n';
  return '';
}

/** How many rules each change had: the lists' lengths for whole rules, else the counts mcrd sent. */
function changeCounts(response: ApplyRulesResponse): [number, number, number, number] {
  if (response.view === ApplyRulesView.APPLY_RULES_VIEW_UNSPECIFIED) {
    return [response.added.length, response.changed.length, response.removed.length, response.unchanged.length];
  }
  return [response.addedCount, response.changedCount, response.removedCount, response.unchangedCount];
}

function applySummary(response: ApplyRulesResponse): string {
  const [added, changed, removed, unchanged] = changeCounts(response);
  const generation = `store generation ${response.storeGeneration}`;
  if (response.dryRun) {
    return `Dry run: would add ${added}, change ${changed} and remove ${removed}; ${unchanged} unchanged (${generation}; nothing was changed).`;
  }
  if (added + changed + removed === 0) return `No changes: ${rules(unchanged)} already as given (${generation}).`;
  return `Applied: ${added} added, ${changed} changed, ${removed} removed, ${unchanged} unchanged; ${generation}.`;
}

/** A listener as --listen spells it. */
function listenerText(listener: Listener): string {
  if (listener.kind === 'unix') return `unix:${listener.path}`;
  return listener.host.includes(':') ? `[${listener.host}]:${listener.port}` : `${listener.host}:${listener.port}`;
}

/** `config check`'s verdict on a valid file: what it holds. */
export function checkedView(config: ConfigFile): string {
  const parts = [config.rules === undefined ? 'no rules key (the rules are left to the API)' : rules(config.rules.length)];
  if (config.listen) parts.push(`listen ${config.listen.map(listenerText).join(' ')}`);
  if (config.workers !== undefined) parts.push(`workers ${config.workers}`);
  if (config.cpus !== undefined) parts.push(`cpus ${formatCpuList(config.cpus)}`);
  if (config.interfaceCpus !== undefined) {
    parts.push(`interfaceCpus ${Object.entries(config.interfaceCpus).map(([name, cpus]) => `${name}=${formatCpuList(cpus)}`).join(' ') || 'none'}`);
  }
  if (config.logLevel !== undefined) parts.push(`logLevel ${config.logLevel}`);
  // As the file spells them: "defaults ttl decrement dscp 46 preserveTos false".
  const defaults = Object.entries(config.defaults).filter(([, value]) => value !== undefined);
  if (defaults.length > 0) parts.push(`defaults ${defaults.map(([key, value]) => `${key} ${String(value)}`).join(' ')}`);
  return `${config.file}: valid: ${parts.join(', ')}\n`;
}
