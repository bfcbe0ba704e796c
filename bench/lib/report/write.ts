/**
 * Writes a run's results under the results directory: <stamp>.json, <stamp>.md, <stamp>.svg (the
 * forwarding plot) and <stamp>-control-plane.svg (the control plane's growth plot), and the same as
 * latest.*; latest.* keeps the sections this run did not measure from the previous latest.json (see
 * carry-over.ts).
 */
import fs from 'fs';
import path from 'path';

import { renderGrowthSvg } from '../../control-plane/report';
import type { Results } from '../results';
import { parsePrevious, withCarriedOver } from './carry-over';
import { renderMarkdown } from './markdown';
import { deliveredVsOffered } from './svg';

function readIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

export function writeResults(results: Results, dir: string): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const latest = withCarriedOver(results, parsePrevious(readIfExists(path.join(dir, 'latest.json'))));
  const written: string[] = [];
  for (const [base, r] of [
    [stamp, results],
    ['latest', latest],
  ] as const) {
    const files: [string, string][] = [[`${base}.json`, `${JSON.stringify(r, null, 2)}\n`]];
    if (r.ceiling.length > 0) files.push([`${base}.svg`, deliveredVsOffered(r)]);
    if (r.controlPlane) files.push([`${base}-control-plane.svg`, renderGrowthSvg(r.controlPlane)]);
    files.push([`${base}.md`, renderMarkdown(r, `${base}.svg`, `${base}-control-plane.svg`)]);
    for (const [name, content] of files) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, content);
      written.push(file);
    }
  }
  return written;
}
