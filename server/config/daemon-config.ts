/**
 * mcrd's side of the config file: its settings merged under the command line's, its rules applied as
 * the desired state (a replace) at start, and again on SIGHUP, as a diff that touches only the rules
 * that differ. A file with problems on SIGHUP changes nothing: each problem is logged with its place
 * and the rules stay as they are.
 */
import type { EventBus } from '../events/bus';
import { appliedAnything, announceApplied } from '../events/rule-changes';
import { Logger, logger } from '../log';
import { RuleError } from '../rules/errors';
import { describeRule } from '../rules/rule-set';
import type { AppliedRules, RuleStore } from '../rules/store';
import { ConfigFile, ConfigFileError, formatProblem, problemFromRefusal, readConfigFile } from './config-file';
import { DaemonOptions, defaultWorkers, FILE_SETTINGS, FileSetting } from './options';

/** The options with the file's settings in place of those the command line did not give. */
export function withFileSettings(options: DaemonOptions, config: ConfigFile): DaemonOptions {
  const flag = (key: FileSetting) => options.commandLine.has(key);
  const cpus = flag('cpus') ? options.cpus : (config.cpus ?? options.cpus);
  return {
    ...options,
    listen: flag('listen') ? options.listen : (config.listen ?? options.listen),
    // Neither gives workers: one per CPU of the cpus in force (which the file may have given).
    workers: flag('workers') ? options.workers : (config.workers ?? defaultWorkers(cpus)),
    cpus,
    interfaceCpus: flag('interfaceCpus') ? options.interfaceCpus : (config.interfaceCpus ?? options.interfaceCpus),
    logLevel: flag('logLevel') ? options.logLevel : (config.logLevel ?? options.logLevel),
  };
}

/** What applying a config file's rules needs of the daemon. */
export interface ConfigTarget {
  store: RuleStore;
  events: EventBus;
  /** Brings the workers in line with the store; resolves when they are. */
  sync(): Promise<void>;
}

/**
 * Applies the file's rules as the desired state (replace), announces the changes and logs them.
 * A file without `rules` manages no rules: nothing is applied. A refusal from the store (two rules
 * of the file that collide, say) is thrown as a ConfigFileError placed in the file.
 */
export async function applyConfigRules(config: ConfigFile, target: ConfigTarget, when: 'at start' | 'on SIGHUP', log: Logger): Promise<void> {
  if (!config.rules) {
    log.info(`config ${config.file} has no rules: the rules are left as they are`);
    return;
  }
  let applied: AppliedRules;
  try {
    applied = await target.store.apply(config.rules, { replace: true }, BigInt(Date.now()) * 1_000_000n);
  } catch (err) {
    const problem = err instanceof RuleError ? problemFromRefusal(config, err.message) : undefined;
    throw problem ? new ConfigFileError(config.file, [problem]) : err;
  }
  if (!appliedAnything(applied)) {
    log.info(`config ${config.file} applied ${when}: no rule changes`, { unchanged: applied.unchanged.length, generation: String(applied.generation) });
    return;
  }
  announceApplied(target.events, applied);
  log.info(`config ${config.file} applied ${when}`, {
    added: applied.added.map(describeRule),
    changed: applied.changed.map(describeRule),
    removed: applied.removed.map(describeRule),
    unchanged: applied.unchanged.length,
    generation: String(applied.generation),
  });
  await target.sync();
}

/** The settings read only at start, as they are in force, to tell a reload that changes them. */
type StartSettings = Pick<DaemonOptions, FileSetting | 'commandLine'>;

/** SIGHUP: re-reads the config file and applies its rules; reloads run one at a time. */
export class ConfigReloader {
  private readonly log = logger('supervisor');
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly target: ConfigTarget,
    private readonly running: StartSettings,
    /** Whether the file read last has `rules` (see managesRules). */
    private rulesInFile: boolean,
  ) {}

  /** Whether the file, as read last, has `rules`: a reload then replaces the rules with them. */
  get managesRules(): boolean {
    return this.rulesInFile;
  }

  /** Resolves once this reload is done; never rejects (problems are logged). */
  reload(): Promise<void> {
    const run = this.queue.then(() => this.reloadNow());
    this.queue = run;
    return run;
  }

  private async reloadNow(): Promise<void> {
    this.log.info(`SIGHUP: reloading config ${this.file}`);
    try {
      const config = await readConfigFile(this.file);
      this.rulesInFile = config.rules !== undefined;
      this.noteStartSettings(config);
      await applyConfigRules(config, this.target, 'on SIGHUP', this.log);
    } catch (err) {
      if (!(err instanceof ConfigFileError)) {
        this.log.error(`config ${this.file} not applied: ${(err as Error).message}; the rules are left as they are`);
        return;
      }
      const problems = err.problems.map((problem) => formatProblem(err.file, problem));
      this.log.error(`config ${this.file} not applied: ${problems.join('; ')}; the rules are left as they are`, { problems });
    }
  }

  /** Settings the file changed that only a restart applies are logged, not silently ignored. */
  private noteStartSettings(config: ConfigFile): void {
    const differs = (key: FileSetting) =>
      !this.running.commandLine.has(key) && config[key] !== undefined && JSON.stringify(config[key]) !== JSON.stringify(this.running[key]);
    const changed = FILE_SETTINGS.filter(differs);
    if (changed.length > 0) this.log.warn(`config ${this.file}: ${changed.join(', ')} changed; this takes effect when mcrd restarts`);
  }
}
