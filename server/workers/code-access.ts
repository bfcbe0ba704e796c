/**
 * Workers run as nobody, so the code they load must be readable by anyone: every directory on the
 * way searchable and the files readable by "other". Checked at start so that a checkout under a
 * private directory (such as /root) fails with a clear message instead of a worker that never starts.
 */
import fs from 'fs';
import path from 'path';

const OTHER_READ = 0o004;
const OTHER_EXEC = 0o001;

/** Reasons `file` cannot be read by an unrelated unprivileged user; empty when it can. */
export function worldAccessProblems(file: string): string[] {
  const problems: string[] = [];
  const absolute = path.resolve(file);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(absolute);
  } catch (err) {
    return [`${absolute}: ${(err as Error).message}`];
  }
  if (!(stat.mode & OTHER_READ)) problems.push(`${absolute} is not readable by others (mode ${(stat.mode & 0o777).toString(8)})`);
  for (let dir = path.dirname(absolute); ; dir = path.dirname(dir)) {
    const mode = fs.statSync(dir).mode;
    if (!(mode & OTHER_EXEC)) problems.push(`${dir} is not searchable by others (mode ${(mode & 0o777).toString(8)})`);
    if (dir === path.dirname(dir)) break;
  }
  return problems;
}

export function assertWorldReadable(files: string[]): void {
  const problems = [...new Set(files.flatMap(worldAccessProblems))];
  if (problems.length > 0) {
    throw new Error(
      `workers run as uid 65534 and cannot read their code: ${problems.join('; ')}. ` +
        'Install mcr in a world-readable location (e.g. /opt/mcr, or npm install -g), or open the path (chmod o+x on each directory named).',
    );
  }
}
