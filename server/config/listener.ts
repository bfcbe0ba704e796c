/**
 * Where mcrd serves its API, as `--listen` and the config file's `listen` spell it: `unix:PATH`
 * (absolute) or `HOST:PORT` (an IPv6 host in brackets). Pure, so mcrctl can check config files too.
 */

export type Listener = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** The worker count mcrd accepts, from `--workers` or the config file's `workers`. */
export const WORKERS_RANGE = { min: 1, max: 256 } as const;

/** A listener address that cannot be used; the message says what is expected. */
export class ListenerAddressError extends Error {
  override name = 'ListenerAddressError';
}

export function parseListenerAddress(value: string): Listener {
  if (value.startsWith('unix:')) {
    const path = value.slice('unix:'.length);
    if (!path.startsWith('/')) throw new ListenerAddressError(`unix socket path must be absolute: "${value}"`);
    return { kind: 'unix', path };
  }
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) {
    throw new ListenerAddressError(`expected unix:PATH or HOST:PORT (port 1-65535), got "${value}"`);
  }
  return { kind: 'tcp', host: match[1].replace(/^\[|\]$/g, ''), port };
}
