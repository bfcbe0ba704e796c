/**
 * What a command runs with (the client, where its output goes, Ctrl-C), and `show`, the one way a
 * command prints a response: its view as text, or its proto3 JSON with --json.
 */
import { McrClient } from '../lib/client';

/** Where a command's result goes. */
export interface Printer {
  json: boolean;
  /** stdout is a terminal: `--watch` redraws in place. */
  interactive: boolean;
  write(text: string): void;
  /** Binary output (a pcapng capture) to stdout. */
  writeBytes(bytes: Uint8Array): void;
}

/** What a command runs with. */
export interface CommandContext {
  client: McrClient;
  printer: Printer;
  /** Writes a line that is not the command's output (progress, losses) to stderr; `text` has no newline. */
  note(text: string): void;
  /**
   * Calls `handler` on Ctrl-C (or SIGTERM, or stdout closed by its reader) until the returned function
   * is called (used by the commands that stream).
   */
  onInterrupt(handler: () => void): () => void;
  /** A new client to the same mcrd, on a channel of its own (for --reconnect); the caller closes it. */
  connect(): McrClient;
}

/** Prints `response` as JSON through its generated codec, or as `text()`. */
export function show<T>(printer: Printer, codec: { toJSON(message: T): unknown }, response: T, text: () => string): void {
  printer.write(printer.json ? toJsonText(codec.toJSON(response)) : text());
}

/** Indented JSON and a newline: the --json form of a single response. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
