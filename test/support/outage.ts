/**
 * How a flow went through a change of its links, from what the sink reported: the outage a change (a
 * link deleted and re-created, taken down and up...) caused in a flow that was running, and the
 * delivery of a flow that could only start arriving once a link appeared.
 */
import { interruptionAt, ReceivedStream, SentFlow } from './traffic';

export interface Outage {
  /**
   * From the end of the change to the first packet after the pause; null when the arrivals never
   * paused for the gap threshold around the change.
   */
  resumedAfterMs: number | null;
  /** From the last packet before the pause to the first after it; null without a pause. */
  outageMs: number | null;
  /** Packets lost in the outage. */
  lost: number;
  /** Sequence numbers lost outside it (the change must not cost more than its outage). */
  lostOutsideOutage: number[];
}

export interface OutageOptions {
  /** When the change began and ended (unix ms); the same moment for a one-step change. */
  startUnixMs: number;
  endUnixMs: number;
  /** The gap threshold the sink ran with, and the sending rate (packets per second). */
  gapThresholdMs: number;
  rate: number;
}

/**
 * The outage, from the pauses in arrivals. A change that mcr follows quickly may not pause the flow
 * for as long as the sink's gap threshold: then there is no pause to measure, and what is missing must
 * be one short run of packets (no longer than the threshold at the sending rate).
 */
export function outageAround(sent: SentFlow, got: ReceivedStream, options: OutageOptions): Outage {
  const interruption = interruptionAt(sent, got, options.startUnixMs, options.endUnixMs);
  if (interruption) {
    return {
      resumedAfterMs: Math.round(interruption.resumedUnixMs - options.endUnixMs),
      outageMs: interruption.outageMs,
      lost: interruption.lostInOutage,
      lostOutsideOutage: interruption.lostOutsideOutage,
    };
  }
  const missing: number[] = [];
  for (let sequence = 0; sequence < sent.hashes.length; sequence++) if (got.hashes[String(sequence)] === undefined) missing.push(sequence);
  const oneRun = missing.length > 0 && missing[missing.length - 1] - missing[0] + 1 === missing.length;
  const short = missing.length <= Math.ceil((options.gapThresholdMs * options.rate) / 1000);
  if (missing.length === 0 || (oneRun && short)) return { resumedAfterMs: null, outageMs: null, lost: missing.length, lostOutsideOutage: [] };
  return { resumedAfterMs: null, outageMs: null, lost: 0, lostOutsideOutage: missing };
}

/** How a flow that could not arrive before some moment went from its first arrival on. */
export interface LateStart {
  /** Arrival (unix ms) and sequence number of the first packet received. */
  firstArrivalUnixMs: number;
  firstSequence: number;
  /** Sequence numbers after the first received one that never arrived. */
  lostAfterFirst: number[];
  /** Received with a payload other than the one sent. */
  corrupted: number;
}

/** The flow's delivery from its first arrival on; fails if nothing arrived. */
export function deliveryFromFirstArrival(sent: SentFlow, got: ReceivedStream): LateStart {
  const received = Object.keys(got.hashes).map(Number);
  if (received.length === 0 || got.firstArrivalUnixMs === null) throw new Error(`nothing of the flow to ${sent.address}:${sent.port} arrived at ${got.address}:${got.port}`);
  const firstSequence = Math.min(...received);
  const lostAfterFirst: number[] = [];
  for (let sequence = firstSequence + 1; sequence < sent.hashes.length; sequence++) if (got.hashes[String(sequence)] === undefined) lostAfterFirst.push(sequence);
  const corrupted = received.filter((sequence) => got.hashes[String(sequence)] !== sent.hashes[sequence]).length;
  return { firstArrivalUnixMs: got.firstArrivalUnixMs, firstSequence, lostAfterFirst, corrupted };
}
