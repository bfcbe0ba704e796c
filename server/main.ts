/**
 * mcrd entry point: parses the command line (and reads --config FILE, whose settings the flags
 * override), runs the daemon, re-applies the config file on SIGHUP, and shuts it down cleanly on
 * SIGTERM/SIGINT (forced after 10 s).
 */
import { ConfigFile, ConfigFileError, readConfigFile } from './config/config-file';
import { withFileSettings } from './config/daemon-config';
import { parseDaemonArgs, UsageError } from './config/options';
import { Daemon } from './daemon';
import { logger, setLogLevel } from './log';

const SHUTDOWN_LIMIT_MS = 10_000;

async function main(): Promise<void> {
  // `pidof mcrd`, `pkill -HUP mcrd` and ps name the daemon, not "node" (comm and argv[0] become "mcrd").
  process.title = 'mcrd';
  const log = logger('supervisor');
  let options;
  try {
    options = parseDaemonArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`mcrd: ${err.message}\nTry 'mcrd --help'.\n`);
    process.exit(2);
  }
  let config: ConfigFile | undefined;
  if (options.config) {
    try {
      config = await readConfigFile(options.config);
    } catch (err) {
      if (!(err instanceof ConfigFileError)) throw err;
      process.stderr.write(err.message.split('\n').map((line) => `mcrd: ${line}\n`).join(''));
      process.exit(2);
    }
    options = withFileSettings(options, config);
  }
  setLogLevel(options.logLevel);

  const daemon = new Daemon(options, config);
  let stopping = false;
  /** Set when start failed: a shutdown already under way must not turn that into success. */
  let exitCode = 0;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    setTimeout(() => {
      log.error('shutdown took too long: exiting now');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    daemon.stop().then(
      () => process.exit(exitCode),
      (err: Error) => {
        log.error('shutdown failed', { error: err.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => void daemon.reload());

  try {
    await daemon.start();
  } catch (err) {
    exitCode = 1;
    log.error(`cannot start: ${(err as Error).message}`);
    if (stopping) return; // the shutdown under way exits with exitCode
    stopping = true;
    await daemon.stop().catch(() => undefined);
    process.exit(1);
  }
}

void main();
