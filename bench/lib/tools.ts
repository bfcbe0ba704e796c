/**
 * The benchmark's C tools (bench/src/*.c) and how to reach them.
 *
 * `npm ci` builds them with the addon (binding.gyp targets bench_gen, bench_sink, bench_mroute, in
 * build/Release/); bench/build.sh builds the same sources into build/bench/. The newest build of a
 * tool whose source has not changed since is used; when none is current, bench/build.sh is run.
 * The binaries are copied to a private temporary directory for the run, so that a rebuild of the addon
 * meanwhile (node-gyp rebuild empties build/) cannot pull them away from under the benchmark.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { registerCleanup } from '../../test/support/cleanup';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export type ToolName = 'gen' | 'sink' | 'mroute';
const TOOLS: readonly ToolName[] = ['gen', 'sink', 'mroute'];

function candidates(tool: ToolName): string[] {
  return [path.join(REPO_ROOT, 'build', 'Release', `bench_${tool}`), path.join(REPO_ROOT, 'build', 'bench', tool)];
}

function mtime(file: string): number | null {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

/** The freshest binary of `tool` that is newer than its sources, or null. */
function currentBinary(tool: ToolName): string | null {
  const sources = [path.join(REPO_ROOT, 'bench', 'src', `${tool}.c`), path.join(REPO_ROOT, 'bench', 'src', 'common.h')];
  const newestSource = Math.max(...sources.map((file) => mtime(file) ?? 0));
  const built = candidates(tool)
    .map((file) => ({ file, time: mtime(file) }))
    .filter((c): c is { file: string; time: number } => c.time !== null && c.time >= newestSource)
    .sort((x, y) => y.time - x.time);
  return built[0]?.file ?? null;
}

/** Runs bench/build.sh when some tool has no current build. */
function buildIfStale(log: (line: string) => void): void {
  if (TOOLS.some((tool) => currentBinary(tool) === null)) {
    log('building the benchmark tools (bench/build.sh)');
    try {
      execFileSync(path.join(REPO_ROOT, 'bench', 'build.sh'), { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 120_000 });
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`cannot build the benchmark tools with bench/build.sh: ${(e.stderr ?? '').trim() || e.message}`);
    }
  }
}

/** The current build of `tool` (built first when stale), used in place: for short runs such as `mroute --probe`. */
export function toolBinary(tool: ToolName, log: (line: string) => void = () => {}): string {
  buildIfStale(log);
  const binary = currentBinary(tool);
  if (binary === null) throw new Error(`no current build of ${tool}: looked for ${candidates(tool).join(' and ')}`);
  return binary;
}

/** Absolute paths of private copies of the three tools, building them first when none is current. */
export function resolveTools(log: (line: string) => void): Record<ToolName, string> {
  buildIfStale(log);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcrb-tools-'));
  registerCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  const paths = {} as Record<ToolName, string>;
  for (const tool of TOOLS) {
    const binary = currentBinary(tool);
    if (binary === null) throw new Error(`no current build of ${tool}: looked for ${candidates(tool).join(' and ')}`);
    paths[tool] = path.join(dir, tool);
    fs.copyFileSync(binary, paths[tool]);
    fs.chmodSync(paths[tool], 0o755);
  }
  return paths;
}
