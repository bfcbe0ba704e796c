/** The `--name value` options of the measuring scripts (scripts/*-bench.ts, apply-cost.ts). */

/** The value after `--name`, or undefined when it is not given. */
export function textOption(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : undefined;
}

/** The number after `--name`, or `fallback` when it is not given. */
export function numberOption(name: string, fallback: number): number {
  const value = textOption(name);
  return value === undefined ? fallback : Number(value);
}
