/**
 * The log levels mcrd knows, by themselves: the command line, the config file (which mcrctl checks
 * too) and the logger all use this list, and it pulls in no logging machinery.
 */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}
