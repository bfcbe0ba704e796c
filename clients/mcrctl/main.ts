/**
 * mcrctl's entry point: parse the command line, connect to mcrd, run the command, and turn the
 * outcome into an exit code (see exit-codes.ts). bin/mcrctl calls main() and sets process.exitCode.
 */
import { connect } from '../lib/client';
import { formatGrpcError } from '../lib/errors';
import { runCommand } from './commands';
import { ExitCode, exitCodeFor } from './exit-codes';
import { connectOptions } from './connection';
import { ConnectionOptions } from './invocation';
import { CliIo, processIo } from './io';
import { parseCommandLine, ParseResult } from './program';

/** What to change when mcrd cannot be reached, for the error message. */
function connectionHint(connection: ConnectionOptions): string {
  return connection.address !== undefined ? 'check --address' : 'set --socket or MCR_SOCKET';
}

function noBinaryStdout(): never {
  throw new Error('this output takes text only: write the capture to a file with -w FILE');
}

/** Runs mcrctl with `argv` (the arguments after the program name); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let parsed: ParseResult;
  try {
    parsed = parseCommandLine(argv, io);
  } catch (err) {
    io.stderr(`mcrctl: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCode.Failed;
  }
  if ('exitCode' in parsed) return parsed.exitCode;

  const { connection, json, command } = parsed.invocation;
  let client: ReturnType<typeof connect>;
  try {
    client = connect(connectOptions(connection));
  } catch (err) {
    io.stderr(`mcrctl: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCode.Usage;
  }
  try {
    const printer = { json, interactive: io.isTTY === true, write: io.stdout, writeBytes: io.stdoutBytes ?? noBinaryStdout };
    await runCommand(command, {
      client,
      printer,
      note: (text) => io.stderr(`${text}\n`),
      onInterrupt: (handler) => io.onInterrupt?.(handler) ?? (() => undefined),
    });
    return ExitCode.Ok;
  } catch (err) {
    io.stderr(`mcrctl: ${formatGrpcError(err, { hint: connectionHint(connection) })}\n`);
    return exitCodeFor(err);
  } finally {
    client.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
