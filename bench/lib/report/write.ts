/**
 * Writes a run's results under the results directory: <stamp>.json, <stamp>.md and <stamp>.svg, and the
 * same as latest.json, latest.md and latest.svg.
 */
import fs from 'fs';
import path from 'path';

import type { Results } from '../results';
import { renderMarkdown } from './markdown';
import { deliveredVsOffered } from './svg';

export function writeResults(results: Results, dir: string): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const svg = deliveredVsOffered(results);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  const written: string[] = [];
  for (const base of [stamp, 'latest']) {
    const files: [string, string][] = [
      [`${base}.json`, json],
      [`${base}.svg`, svg],
      [`${base}.md`, renderMarkdown(results, `${base}.svg`)],
    ];
    for (const [name, content] of files) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, content);
      written.push(file);
    }
  }
  return written;
}
