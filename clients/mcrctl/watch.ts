/**
 * `--watch`: prints a sequence of updates until it ends or is interrupted. On a terminal each update
 * replaces the previous one (clear screen, redraw); otherwise updates follow one another as plain
 * text, or as one JSON object per line with --json.
 */

/** Cursor home, then erase the whole screen. */
export const CLEAR_SCREEN = '\x1b[H\x1b[2J';

export type WatchMode = 'terminal' | 'plain' | 'json';

export function watchMode(options: { json: boolean; interactive: boolean }): WatchMode {
  if (options.json) return 'json';
  return options.interactive ? 'terminal' : 'plain';
}

/** One update, ready to print in any mode. */
export interface WatchFrame {
  /** A line saying when and how often (see watchHeading). */
  heading: string;
  /** The update's tables. */
  body: string;
  /** The update as proto3 JSON (the generated toJSON). */
  json: unknown;
}

/** The text that shows `frame` in `mode`. */
export function renderWatchFrame(mode: WatchMode, frame: WatchFrame): string {
  switch (mode) {
    case 'json':
      return JSON.stringify(frame.json) + '\n';
    case 'terminal':
      return `${CLEAR_SCREEN}${frame.heading}\n\n${frame.body}`;
    case 'plain':
      // A blank line after each update separates it from the next one's heading.
      return `${frame.heading}\n\n${frame.body}\n`;
  }
}

/** Resolves after `ms`, or at once when `signal` is aborted. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * For RPCs that have no stream: `fetch` now and then every `intervalMs` (measured from the start of
 * each call), until `signal` is aborted. A failed call ends the iteration with its error.
 */
export async function* poll<T>(fetch: () => Promise<T>, intervalMs: number, signal: AbortSignal): AsyncGenerator<T> {
  while (!signal.aborted) {
    const started = Date.now();
    const value = await fetch();
    if (signal.aborted) return;
    yield value;
    await pause(Math.max(0, started + intervalMs - Date.now()), signal);
  }
}

/** Prints every update of `updates` through `write` until the iteration ends. */
export async function showUpdates<T>(updates: AsyncIterable<T>, mode: WatchMode, frameOf: (update: T) => WatchFrame, write: (text: string) => void): Promise<void> {
  for await (const update of updates) write(renderWatchFrame(mode, frameOf(update)));
}
