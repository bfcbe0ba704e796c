/**
 * Turns mcrctl's connection flags into the client library's ConnectOptions: reads the token file
 * and the TLS files. A file that cannot be read is a usage error naming the flag.
 */
import * as grpc from '@grpc/grpc-js';
import fs from 'fs';

import type { ConnectOptions } from '../lib/client';
import { UsageError } from './args';
import type { ConnectionOptions } from './invocation';

function readFlagFile(flag: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function connectOptions(connection: ConnectionOptions): ConnectOptions {
  const options: ConnectOptions = { timeoutMs: connection.timeoutMs };
  if (connection.address !== undefined) options.address = connection.address;
  else options.socket = connection.socket;
  if (connection.tokenFile !== undefined) {
    const token = readFlagFile('--token-file', connection.tokenFile).toString('utf8').split('\n')[0].trim();
    if (!token) throw new UsageError(`--token-file: ${connection.tokenFile} holds no token`);
    options.token = token;
  }
  if (connection.tlsCa || connection.tlsCert) {
    options.credentials = grpc.credentials.createSsl(
      connection.tlsCa ? readFlagFile('--tls-ca', connection.tlsCa) : null,
      connection.tlsKey ? readFlagFile('--tls-key', connection.tlsKey) : null,
      connection.tlsCert ? readFlagFile('--tls-cert', connection.tlsCert) : null,
    );
  }
  return options;
}
