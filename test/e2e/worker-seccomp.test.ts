/**
 * Workers confine themselves with a seccomp filter before they get any socket (issue 9). Every
 * thread of every worker runs it, and the workers are not dumpable. With mcrd --test-hooks, SIGWINCH
 * makes a worker try from inside what the confinement forbids, on one of its own capture sockets:
 * open AF_PACKET / netlink / UDP sockets, re-bind the capture socket to lo, detach its filter, attach
 * an accept-all one, make its interface promiscuous, fork, execve. Every attempt must fail with EPERM
 * or EACCES, and the flows through both workers, running before, during and after the probe, must
 * lose nothing (the worker really kept its socket, filter and process).
 */
import { expect } from 'chai';
import fs from 'fs';

import type { ConfinementAttempt } from '../../native';
import { workerEntry } from '../support/faults';
import { useRelay } from '../support/fixture';
import { PlacedFlow, placeFlowPerWorker, runPlacedFlows } from '../support/placed-flows';
import { waitFor } from '../support/poll';
import { waitForWorkersInSync } from '../support/rules';
import { expectDelivered } from '../support/streams';

const WORKERS = 2;
const PACKETS = 3000;
const RATE = 1000;
const BEFORE_PROBE = 500;
/** SECCOMP_MODE_FILTER in /proc/PID/status. */
const FILTERED = '2';
const REFUSED = ['EPERM', 'EACCES'];

/** A worker's probe report as mcrd logs it (JSON lines; the worker's fields are merged in). */
interface ProbeEntry {
  message: string;
  facility?: string;
  worker?: number;
  packetFd?: number;
  attempts?: ConfinementAttempt[];
}

function statusField(file: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(fs.readFileSync(file, 'utf8'))?.[1];
}

describe('e2e: worker seccomp confinement', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: WORKERS, extraArgs: ['--test-hooks'] });
  let flows: PlacedFlow[] = [];

  before(async function () {
    flows = await placeFlowPerWorker(relay.client, WORKERS);
    await waitForWorkersInSync(relay.client, WORKERS);
  });

  /** The probe reports mcrd logged after output offset `at`, by worker index. */
  function probeReports(at: number): Map<number, ProbeEntry> {
    const reports = new Map<number, ProbeEntry>();
    for (const line of relay.mcrd.logs().slice(at).split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as ProbeEntry;
      if (entry.facility === 'worker' && entry.message.startsWith('test hook: confinement probe') && entry.worker !== undefined) {
        reports.set(entry.worker, entry);
      }
    }
    return reports;
  }

  it('every thread of every worker runs one seccomp filter, and no worker is dumpable', async function () {
    const workers = await waitForWorkersInSync(relay.client, WORKERS);
    for (const worker of workers) {
      const threads = fs.readdirSync(`/proc/${worker.pid}/task`);
      expect(threads.length, `worker ${worker.index} threads`).to.be.greaterThan(4);
      for (const tid of threads) {
        const status = `/proc/${worker.pid}/task/${tid}/status`;
        expect(statusField(status, 'Seccomp'), `${status} Seccomp`).to.equal(FILTERED);
        expect(statusField(status, 'Seccomp_filters'), `${status} Seccomp_filters`).to.equal('1');
      }
      // A non-dumpable process's /proc entries belong to root, although the worker runs as 65534.
      expect(statusField(`/proc/${worker.pid}/status`, 'Uid'), `worker ${worker.index} uid`).to.equal('65534');
      expect(fs.statSync(`/proc/${worker.pid}/mem`).uid, `owner of /proc/${worker.pid}/mem`).to.equal(0);
    }
  });

  it('inside each worker every forbidden attempt fails with EPERM/EACCES, and forwarding loses nothing', async function () {
    const before = await Promise.all(flows.map((f) => workerEntry(relay.client, f.worker)));
    let reports = new Map<number, ProbeEntry>();

    const run = await runPlacedFlows(relay, flows, {
      seed: 900,
      packets: PACKETS,
      rate: RATE,
      beforeFault: BEFORE_PROBE,
      fault: async () => {
        const at = relay.mcrd.logs().length;
        const probedAt = Date.now();
        for (const worker of before) process.kill(worker.pid, 'SIGWINCH');
        reports = await waitFor(
          'a confinement probe report from every worker',
          async () => probeReports(at),
          (found) => found.size === WORKERS,
          5000,
          50,
        );
        return probedAt;
      },
    });

    expect(run.faultUnderTraffic, 'the probe ran while the flows were being sent').to.equal(true);
    for (const worker of before) {
      const report = reports.get(worker.index)!;
      expect(report.message, `worker ${worker.index}: ${JSON.stringify(report)}`).to.equal('test hook: confinement probe');
      const attempts = report.attempts ?? [];
      expect(attempts.map((a) => a.attempt), `worker ${worker.index} attempts`).to.include.members([
        'socket(AF_PACKET, SOCK_RAW)',
        'bind(packet socket, lo)',
        'setsockopt(packet socket, SO_DETACH_FILTER)',
        'setsockopt(packet socket, SO_ATTACH_FILTER accept-all)',
        'execve(/bin/true)',
      ]);
      for (const { attempt, error } of attempts) expect(error, `worker ${worker.index}: ${attempt}`).to.be.oneOf(REFUSED);
    }
    for (const flow of flows) expectDelivered(run.result, flow.input, 'sink1', flow.output);
    // The same processes forwarded throughout: none was restarted (a successful execve would have).
    for (const worker of before) {
      const now = await workerEntry(relay.client, worker.index);
      expect({ pid: now.pid, restarts: now.restarts }, `worker ${worker.index}`).to.deep.equal({ pid: worker.pid, restarts: worker.restarts });
    }
  });
});
