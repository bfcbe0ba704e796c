/**
 * Self time of a node --cpu-prof profile (mcrd's, from diff-bench.ts --cpu-prof DIR), per function,
 * for the frames whose script URL matches `--match` (all by default), from `--from` seconds after
 * the profile's start on:
 *
 *   node -r ts-node/register/transpile-only scripts/cpuprofile-self.ts FILE.cpuprofile [--match REGEX] [--from SECONDS] [--top 15]
 *
 * A sample's time is wall time on the profiled thread (time waiting for a CPU counts too).
 */
import fs from 'fs';

import { numberOption, textOption } from './lib/argv';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function main(): void {
  const file = process.argv[2];
  if (!file || file.startsWith('--')) throw new Error('usage: cpuprofile-self.ts FILE.cpuprofile [--match REGEX] [--from SECONDS] [--top N]');
  const match = new RegExp(textOption('match') ?? '');
  const fromUs = numberOption('from', 0) * 1e6;
  const top = numberOption('top', 15);
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let at = 0;
  let total = 0;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
    if (at < fromUs || functionName === '(idle)' || !match.test(url)) return;
    const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
    total += profile.timeDeltas[i] ?? 0;
  });
  console.log(`self time of ${match.source ? `frames matching /${match.source}/` : 'every frame'} from ${fromUs / 1e6} s: ${(total / 1000).toFixed(1)} ms`);
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(us / 1000).toFixed(1).padStart(9)} ms  ${key}`);
}

main();
