/**
 * How often mcrd had to repair its workers (drift found by a heartbeat, or a restart), for the tests
 * that check a planned change (an interface coming, going or changing) was carried out by the
 * supervisor's own sync, not caught later by the drift safety net.
 */
import { McrClient } from './grpc';

export interface WorkerRepairs {
  /** Per worker index: drifts found, and restarts. */
  drifts: number[];
  restarts: number[];
}

export async function workerRepairs(client: McrClient): Promise<WorkerRepairs> {
  const workers = [...(await client.listWorkers())].sort((a, b) => a.index - b.index);
  return { drifts: workers.map((w) => Number(w.drifts)), restarts: workers.map((w) => w.restarts) };
}
