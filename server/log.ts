/**
 * Structured logging with winston: one logger, a child per facility, and a level per facility
 * that can be changed at runtime. JSON lines when stderr is not a terminal, readable lines when it is.
 */
import winston from 'winston';

import { isLogLevel, LOG_LEVELS, LogLevel } from './log-levels';

export { isLogLevel, LOG_LEVELS };
export type { LogLevel };

export const FACILITIES = ['supervisor', 'api', 'store', 'workers', 'net', 'worker'] as const;
export type Facility = (typeof FACILITIES)[number];

const severity: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

const levels = new Map<Facility, LogLevel>(FACILITIES.map((f) => [f, 'info']));

/** Drops entries below their facility's current level. */
const byFacility = winston.format((info) => {
  const facility = (info.facility as Facility | undefined) ?? 'supervisor';
  const limit = levels.get(facility) ?? 'info';
  return severity[info.level as LogLevel] <= severity[limit] ? info : false;
});

function consoleFormat(): winston.Logform.Format {
  if (process.stderr.isTTY) {
    return winston.format.combine(
      winston.format.timestamp(),
      winston.format.printf(({ timestamp, level, facility, message, ...rest }) => {
        const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
        return `${timestamp} ${level.padEnd(5)} [${facility ?? 'supervisor'}] ${message}${extra}`;
      }),
    );
  }
  return winston.format.combine(winston.format.timestamp(), winston.format.json());
}

const root = winston.createLogger({
  level: 'debug',
  levels: severity,
  format: winston.format.combine(byFacility(), consoleFormat()),
  transports: [new winston.transports.Console({ stderrLevels: [...LOG_LEVELS] })],
});

export type Logger = winston.Logger;

export function logger(facility: Facility, meta: Record<string, unknown> = {}): Logger {
  return root.child({ facility, ...meta });
}

/** Sets the level of one facility, or of all when facility is undefined. */
export function setLogLevel(level: LogLevel, facility?: Facility): void {
  for (const f of facility ? [facility] : FACILITIES) levels.set(f, level);
}

export function getLogLevels(): Record<Facility, LogLevel> {
  return Object.fromEntries(levels) as Record<Facility, LogLevel>;
}

export function isFacility(value: string): value is Facility {
  return (FACILITIES as readonly string[]).includes(value);
}

/** How long a rate-limited message key stays quiet after it was logged. */
export const RATE_LIMIT_WINDOW_MS = 10_000;

export interface RateLimitedLogger {
  error(key: string, message: string, meta?: Record<string, unknown>): void;
  warn(key: string, message: string, meta?: Record<string, unknown>): void;
  info(key: string, message: string, meta?: Record<string, unknown>): void;
  debug(key: string, message: string, meta?: Record<string, unknown>): void;
}

/**
 * Wraps a logger so that a message repeated under the same key is written at most once per window;
 * the next line written for the key carries `suppressed`, the count of lines left out meanwhile.
 */
export function rateLimited(target: Logger, windowMs = RATE_LIMIT_WINDOW_MS, now: () => number = Date.now): RateLimitedLogger {
  const state = new Map<string, { until: number; suppressed: number }>();
  const write = (level: LogLevel) => (key: string, message: string, meta: Record<string, unknown> = {}) => {
    const t = now();
    const entry = state.get(key);
    if (entry && t < entry.until) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    state.set(key, { until: t + windowMs, suppressed: 0 });
    target.log(level, message, suppressed > 0 ? { ...meta, suppressed } : meta);
  };
  return { error: write('error'), warn: write('warn'), info: write('info'), debug: write('debug') };
}
