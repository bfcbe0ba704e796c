/**
 * The metric names a PromQL expression (as a Grafana dashboard writes it) refers to: enough of PromQL
 * to check a dashboard against the metrics mcr exports, not a full parser.
 *
 * Removed before names are read: string literals (label values, regexes), Grafana variables ($x,
 * ${x}, $__rate_interval), label matchers {...}, range and subquery selectors [...], label lists of
 * by / without / on / ignoring / group_left / group_right (...), durations (offset 1h) and numbers. What is left are
 * function and aggregation names (an identifier followed by "(" or by "by" / "without"), keywords,
 * and metric names.
 */

/** Keywords and operators that are words; never metric names. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2']);

/** Grafana's template query functions: label_values(EXPR, LABEL), whose last argument is a label name. */
const GRAFANA_LABEL_FUNCTIONS = /\blabel_values\s*\(\s*((?:[^,()]|\([^()]*\))*?)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)/g;

/** Metric names in `expr`, in order of first appearance. */
export function promqlMetricNames(expr: string): string[] {
  let text = expr.replace(GRAFANA_LABEL_FUNCTIONS, '($1)');
  text = text
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\$\{[^}]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1 ')
    .replace(/\b(\d+(ms|s|m|h|d|w|y))+\b/g, ' ')
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' ');
  const names: string[] = [];
  for (const match of text.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    const after = text.slice((match.index ?? 0) + word.length);
    if (/^\s*\(/.test(after) || /^\s*(by|without)\b/.test(after)) continue; // a function or aggregation
    if (KEYWORDS.has(word.toLowerCase())) continue;
    if (!names.includes(word)) names.push(word);
  }
  return names;
}
