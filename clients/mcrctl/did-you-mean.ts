/**
 * "Did you mean ...?" for a name that matches nothing: the candidates closest to it by edit distance
 * (insertions, deletions, substitutions and swaps of two neighbours, each counting 1), when close
 * enough to be a slip rather than another name: at most a third of the name's length, and at least 1.
 */

/** The optimal string alignment distance between `a` and `b` (Damerau-Levenshtein without re-edits). */
export function editDistance(a: string, b: string): number {
  // rows[i][j]: the distance between a's first i characters and b's first j.
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const substitution = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2][j - 2] + 1);
      rows[i][j] = best;
    }
  }
  return rows[a.length][b.length];
}

/** The most suggestions given at once. */
const MAX_SUGGESTIONS = 3;

/** The candidates closest to `name` (all at the same, smallest distance, at most 3, sorted), or none. */
export function closestNames(name: string, candidates: Iterable<string>): string[] {
  const limit = Math.max(1, Math.floor(name.length / 3));
  let best = limit + 1;
  let closest: string[] = [];
  for (const candidate of new Set(candidates)) {
    if (candidate === name) continue;
    const distance = editDistance(name, candidate);
    if (distance < best) [best, closest] = [distance, [candidate]];
    else if (distance === best) closest.push(candidate);
  }
  return closest.sort().slice(0, MAX_SUGGESTIONS);
}

/** ' (did you mean "eth0"?)', ' (did you mean "eth0" or "eth1"?)', or '' without a suggestion. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const names = closestNames(name, candidates).map((candidate) => JSON.stringify(candidate));
  if (names.length === 0) return '';
  const listed = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
  return ` (did you mean ${listed}?)`;
}
