/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4) for the end-to-end tests:
 * `# HELP` and `# TYPE` lines, and samples `name{label="value",...} value [timestamp]`. Anything
 * Prometheus would refuse (a malformed line, a bad name, a TYPE after its samples, a duplicate label)
 * throws with the line number.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
const TYPES: readonly string[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

export interface PromSample {
  /** The sample's own name (for a histogram: name_bucket, name_sum, name_count). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  help?: string;
  /** Undefined when the exposition never declared one. */
  type?: MetricType;
  samples: PromSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Suffixes of the samples of a histogram or summary family. */
const SERIES_SUFFIXES = ['_bucket', '_sum', '_count'];

function parseValue(text: string, where: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const value = Number(text);
  if (text === '' || Number.isNaN(value)) throw new Error(`${where}: "${text}" is not a sample value`);
  return value;
}

/** Reads `{a="1",b="x\"y"}` starting at `text[0] === '{'`; returns the labels and what follows. */
function parseLabels(text: string, where: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  const skipSpaces = () => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  for (;;) {
    skipSpaces();
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const nameMatch = /^[^=\s]*/.exec(text.slice(i))!;
    const name = nameMatch[0];
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name "${name}"`);
    if (name in labels) throw new Error(`${where}: label "${name}" given twice`);
    i += name.length;
    skipSpaces();
    if (text[i] !== '=' || text[i + 1] !== '"') throw new Error(`${where}: expected ="..." after label ${name}`);
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i++];
      if (c === undefined) throw new Error(`${where}: unterminated value of label ${name}`);
      if (c === '"') break;
      if (c === '\\') {
        const escaped = text[i++];
        if (escaped === 'n') value += '\n';
        else if (escaped === '\\' || escaped === '"') value += escaped;
        else throw new Error(`${where}: bad escape \\${escaped} in label ${name}`);
      } else {
        value += c;
      }
    }
    labels[name] = value;
    skipSpaces();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`${where}: expected , or } after label ${name}`);
  }
}

function parseSample(line: string, where: string): PromSample {
  const name = /^[^{\s]*/.exec(line)![0];
  if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name "${name}"`);
  let rest = line.slice(name.length);
  let labels: Record<string, string> = {};
  if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, where));
  const fields = rest.trim().split(/[ \t]+/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === '') throw new Error(`${where}: expected "value [timestamp]" after ${name}`);
  if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) throw new Error(`${where}: bad timestamp "${fields[1]}"`);
  return { name, labels, value: parseValue(fields[0], where) };
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(n|\\)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** Parses an exposition into its metric families, by name, in the order they appear. */
export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const family = (name: string): PromFamily => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, samples: [] }));
    return f;
  };
  /** The family a sample belongs to: its own name, or a histogram/summary it is a series of. */
  const owner = (sampleName: string): PromFamily => {
    for (const suffix of SERIES_SUFFIXES) {
      if (!sampleName.endsWith(suffix)) continue;
      const base = families.get(sampleName.slice(0, -suffix.length));
      if (base && (base.type === 'histogram' || base.type === 'summary')) return base;
    }
    return family(sampleName);
  };

  text.split('\n').forEach((raw, index) => {
    const where = `line ${index + 1}`;
    const line = raw.trim();
    if (line === '') return;
    if (line.startsWith('#')) {
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!meta) return; // a comment
      const [, kind, name, rest = ''] = meta;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name "${name}" in # ${kind}`);
      const f = family(name);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`${where}: second HELP for ${name}`);
        f.help = unescapeHelp(rest);
        return;
      }
      if (f.type !== undefined) throw new Error(`${where}: second TYPE for ${name}`);
      if (f.samples.length > 0) throw new Error(`${where}: TYPE for ${name} after its samples`);
      if (!TYPES.includes(rest)) throw new Error(`${where}: unknown type "${rest}" for ${name}`);
      f.type = rest as MetricType;
      return;
    }
    const sample = parseSample(line, where);
    owner(sample.name).samples.push(sample);
  });
  return families;
}

/** The value of the sample of `family` whose labels are exactly `labels`; undefined when absent. */
export function sampleValue(families: Map<string, PromFamily>, family: string, labels: Record<string, string>): number | undefined {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  return families.get(family)?.samples.find((s) => s.name === family && JSON.stringify(Object.entries(s.labels).sort()) === wanted)?.value;
}
