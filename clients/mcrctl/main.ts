/**
 * mcrctl's entry point: parse the command line, connect to mcrd, run the command, and turn the
 * outcome into an exit code (see exit-codes.ts). bin/mcrctl calls main() and sets process.exitCode.
 */
import { ExitCode } from './exit-codes';
import type { ConnectionOptions } from './invocation';
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
  // A completion script needs no mcrd (shells run this at every start).
  if (command.name === 'completion') {
    io.stdout(command.script);
    return ExitCode.Ok;
  }
  // Loaded only for a command that talks to mcrd: the client library (grpc-js, the generated code) and
  // the commands are most of mcrctl's start-up time, which --help and --version do without
  // (docs/decisions/0016-mcrctl-startup.md).
  const [{ connect }, { formatGrpcError }, { runCommand }, { connectOptions }, { exitCodeFor }] = await Promise.all([
    import('../lib/client'),
    import('../lib/errors'),
    import('./commands'),
    import('./connection'),
    import('./error-exit-code'),
  ]);
  let client: ReturnType<typeof connect>;
  let options: ReturnType<typeof connectOptions>;
  try {
    options = connectOptions(connection);
    client = connect(options);
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
      connect: () => connect(options),
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
