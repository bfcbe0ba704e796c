/**
 * The open-file limit the workers start with. A worker holds a capture socket per input interface and
 * an egress socket per output interface, TTL and TOS (docs/decisions/0035-shared-egress-sockets.md):
 * few, but mcrd still raises its own limit, soft and hard, to what the kernel allows (fs.nr_open)
 * before it starts the workers, which inherit it. Without CAP_SYS_RESOURCE the hard limit stays
 * (logged at start); the sync never hands a worker more sockets than fit under it.
 */
import fs from 'fs';

import type { Native } from '../../native';
import type { Logger } from '../log';

const NR_OPEN = '/proc/sys/fs/nr_open';
/** The kernel's default fs.nr_open, when it cannot be read. */
const DEFAULT_NR_OPEN = 1_048_576;

function kernelMaximum(): number {
  try {
    const value = Number.parseInt(fs.readFileSync(NR_OPEN, 'utf8'), 10);
    return Number.isFinite(value) && value > 0 ? value : DEFAULT_NR_OPEN;
  } catch {
    return DEFAULT_NR_OPEN;
  }
}

/** Raises RLIMIT_NOFILE to fs.nr_open; returns the soft limit in force. */
export function raiseFileLimit(addon: Native, log: Logger): number {
  const wanted = kernelMaximum();
  try {
    const limit = addon.raiseFileLimit(wanted);
    log.info('open-file limit', { soft: limit.soft, hard: limit.hard });
    return limit.soft;
  } catch (err) {
    const fallback = addon.raiseFileLimit(0); // no change: reads the limit in force
    // Said at info: most installations never come near it; a rule whose sockets cannot be opened
    // says so in its status (EMFILE).
    log.info('open-file limit (not raised: each worker holds a socket per input interface and per output interface, TTL and TOS)', {
      wanted,
      soft: fallback.soft,
      hard: fallback.hard,
      error: (err as Error).message,
    });
    return fallback.soft;
  }
}
