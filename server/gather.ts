/**
 * Lets the calls on their way join a batch about to start (a journal frame, a forwarding pass). After
 * a batch of several (many clients at once), a millisecond: the clients it answered send their next
 * calls together, and a batch started by the first of them alone would make the others wait for it
 * (measured with 50 clients: batches of 49 alternating with batches of one). After a batch of one,
 * one turn of the event loop, which costs a lone client nothing it would notice.
 */

/** How long a batch waits for more calls after one of several. */
const GATHER_MS = 1;

/** Resolves when the next batch may start, given the size of the last one. */
export function gather(lastBatch: number): Promise<void> {
  if (lastBatch > 1) return new Promise((resolve) => setTimeout(resolve, GATHER_MS));
  return new Promise((resolve) => setImmediate(resolve));
}
