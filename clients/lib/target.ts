/** Where mcrd listens: turns the connect options into a gRPC target string. */
import path from 'path';

/** mcrd's default listener. */
export const DEFAULT_SOCKET = '/run/mcr/mcr.sock';

export interface TargetOptions {
  /** Path of mcrd's unix socket. */
  socket?: string;
  /** HOST:PORT of a TCP listener. */
  address?: string;
}

/**
 * The gRPC target for `options`: "unix:/abs/path" for a socket (relative paths are made absolute, so
 * messages name the real file), the address as given for TCP, and the default socket when neither is set.
 */
export function resolveTarget(options: TargetOptions): string {
  if (options.socket !== undefined && options.address !== undefined) {
    throw new TypeError('give either socket or address, not both');
  }
  if (options.address !== undefined) {
    if (options.address === '') throw new TypeError('address must be HOST:PORT, got an empty string');
    return options.address;
  }
  const socket = options.socket ?? DEFAULT_SOCKET;
  if (socket === '') throw new TypeError('socket must be a path, got an empty string');
  return `unix:${path.resolve(socket)}`;
}
