/** Longest part of a client's value quoted back in a message. */
const MAX_QUOTED_LENGTH = 64;

/** `value` as a JSON string for an error message, shortened when long: "abc..." (70000 characters). */
export function quote(value: string): string {
  if (value.length <= MAX_QUOTED_LENGTH) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, MAX_QUOTED_LENGTH))}... (${value.length} characters)`;
}
