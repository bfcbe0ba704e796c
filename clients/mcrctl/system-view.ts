/** Text views of the system: `mcrctl workers`, `mcrctl version` and `mcrctl log-level`. */
import { GetVersionResponse, Worker, WorkerState } from '../../gen/mcr/v1/system';
import { formatTime } from './format';
import { renderFields, renderTable } from './table';

const WORKER_STATE_WORDS: Record<WorkerState, string> = {
  [WorkerState.WORKER_STATE_UNSPECIFIED]: 'unknown',
  [WorkerState.WORKER_STATE_STARTING]: 'starting',
  [WorkerState.WORKER_STATE_RUNNING]: 'running',
  [WorkerState.WORKER_STATE_RESTARTING]: 'restarting',
  [WorkerState.WORKER_STATE_STOPPED]: 'stopped',
  [WorkerState.UNRECOGNIZED]: 'unknown',
};

/** The reported ruleset hash, flagged when it is not the one the supervisor expects. */
function formatHash(worker: Worker): string {
  const reported = worker.rulesetHash || '-';
  if (worker.expectedRulesetHash === '' || worker.expectedRulesetHash === worker.rulesetHash) return reported;
  return `${reported} (expected ${worker.expectedRulesetHash})`;
}

/**
 * The CPU the data-plane thread is pinned to, flagged when the kernel reports it may run elsewhere
 * too (its pinning not in effect).
 */
function formatCore(worker: Worker): string {
  if (worker.core < 0) return '-';
  if (worker.allowedCpus === '' || worker.allowedCpus === String(worker.core)) return String(worker.core);
  return `${worker.core} (allowed ${worker.allowedCpus})`;
}

export function workersTable(workers: readonly Worker[]): string {
  const right = 'right' as const;
  return renderTable(
    [
      { header: 'INDEX', align: right },
      { header: 'PID', align: right },
      { header: 'UID', align: right },
      { header: 'CORE', align: right },
      { header: 'LAST CPU', align: right },
      { header: 'STATE' },
      { header: 'RULES', align: right },
      { header: 'HASH' },
    ],
    workers.map((worker) => [
      String(worker.index),
      worker.pid > 0 ? String(worker.pid) : '-',
      String(worker.uid),
      formatCore(worker),
      worker.lastCpu !== undefined ? String(worker.lastCpu) : '-',
      WORKER_STATE_WORDS[worker.state] ?? `state ${worker.state}`,
      String(worker.rules),
      formatHash(worker),
    ]),
  );
}

export interface ClientVersion {
  version: string;
  protocolMajor: number;
}

export function versionView(client: ClientVersion, server: GetVersionResponse): string {
  return renderFields([
    ['Client', `mcrctl ${client.version} (protocol ${client.protocolMajor})`],
    ['Server', `mcrd ${server.serverVersion} (protocol ${server.protocolMajor}.${server.protocolMinor})`],
    ['Features', server.features.join(', ') || '-'],
    ['Started', formatTime(server.startedUnixNanos, '-')],
  ]);
}

/** Each facility and its level, in the order mcrd lists them. */
export function logLevelsTable(levels: Readonly<Record<string, string>>): string {
  return renderTable([{ header: 'FACILITY' }, { header: 'LEVEL' }], Object.entries(levels));
}

/** What `log-level set` did: "Log level of net set to debug." (facility "" = every facility). */
export function logLevelChange(facility: string, level: string): string {
  return `Log level of ${facility ? facility : 'every facility'} set to ${level}.`;
}
