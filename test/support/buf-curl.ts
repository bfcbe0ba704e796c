/**
 * `buf curl` (Go, from the @bufbuild/buf dev dependency) against mcrd's unix socket, resolving every
 * type through server reflection only, as grpcurl does:
 *
 *   buf curl --unix-socket SOCK --protocol grpc --http2-prior-knowledge --reflect [--timeout T] \
 *       -d JSON http://localhost/SERVICE/METHOD
 *
 * buf curl prints each response message as JSON on stdout and a failed RPC as {"code", "message"} on
 * stderr, and exits with the gRPC code shifted left by three (or below 8 for its own failures).
 */
import { spawn } from 'child_process';
import path from 'path';

export const BUF = path.resolve(__dirname, '..', '..', 'node_modules', '.bin', 'buf');
/** Bound on one buf curl run, whatever its own --timeout. */
const RUN_TIMEOUT_MS = 20_000;

export interface BufCurlResult {
  exitCode: number | null;
  /** The response messages, decoded. */
  messages: Array<Record<string, unknown>>;
  /** The RPC's error, when it failed with a gRPC status ({code: "not_found", message}). */
  error: { code: string; message: string } | null;
  stdout: string;
  stderr: string;
}

/** Splits the concatenated JSON values buf curl prints into the values. */
export function parseJsonSequence(text: string): Array<Record<string, unknown>> {
  const values: Array<Record<string, unknown>> = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && --depth === 0) {
      values.push(JSON.parse(text.slice(start, i + 1)) as Record<string, unknown>);
    }
  }
  return values;
}

function run(args: string[]): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(BUF, ['curl', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, stdout, stderr });
    });
  });
}

function baseArgs(socketPath: string): string[] {
  return ['--unix-socket', socketPath, '--protocol', 'grpc', '--http2-prior-knowledge', '--reflect'];
}

/** Calls `method` ("mcr.v1.SystemService/GetVersion") with `body`; `timeout` ("1.5s") bounds a stream. */
export async function bufCurl(socketPath: string, method: string, body: unknown, timeout?: string): Promise<BufCurlResult> {
  const args = [...baseArgs(socketPath), ...(timeout ? ['--timeout', timeout] : []), '-d', JSON.stringify(body), `http://localhost/${method}`];
  const { exitCode, stdout, stderr } = await run(args);
  const failure = parseJsonSequence(stderr).find((v) => typeof v.code === 'string');
  return {
    exitCode,
    messages: parseJsonSequence(stdout),
    error: failure ? { code: String(failure.code), message: String(failure.message ?? '') } : null,
    stdout,
    stderr,
  };
}

/** `--list-services` or `--list-methods` through reflection: one name per line. */
export async function bufCurlList(socketPath: string, what: 'services' | 'methods'): Promise<string[]> {
  const { exitCode, stdout, stderr } = await run([...baseArgs(socketPath), `--list-${what}`, 'http://localhost']);
  if (exitCode !== 0) throw new Error(`buf curl --list-${what} exited ${exitCode}: ${stderr}`);
  return stdout.split('\n').filter((line) => line !== '');
}

/** A one-line account of a run, for assertion messages. */
export function describeRun(method: string, result: BufCurlResult): string {
  return `buf curl ${method}: exit ${result.exitCode}\n  stdout: ${result.stdout.slice(0, 2000)}\n  stderr: ${result.stderr.slice(0, 2000)}`;
}
