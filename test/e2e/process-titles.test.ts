/**
 * Process titles: the daemon is "mcrd" and each worker "mcrd-worker N" (N its index), as /proc (comm
 * and the command line), pidof and ps show them; a worker's title is set after its privilege check
 * and seccomp filter, which therefore allow it. A SIGHUP that reaches a worker (`pkill -HUP mcrd`
 * matches the workers' titles too) leaves it running.
 */
import { expect } from 'chai';
import { execFileSync } from 'child_process';

import { useRelay } from '../support/fixture';
import { readProcess, workerProcessesOf } from '../support/processes';

const WORKERS = 2;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('e2e: process titles', function () {
  this.timeout(60_000);
  const relay = useRelay({ workers: WORKERS });

  function mcrdPid(): number {
    const pid = relay.mcrd.pid;
    if (pid === undefined) throw new Error('mcrd is not running');
    return pid;
  }

  it('names the daemon mcrd: pidof finds it, ps and /proc show it', () => {
    const pid = mcrdPid();
    const pids = execFileSync('pidof', ['mcrd'], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
    expect(pids).to.include(pid);
    expect(readProcess(pid)).to.include({ comm: 'mcrd', cmdline: 'mcrd' });
    expect(execFileSync('ps', ['-o', 'comm=', '-p', String(pid)], { encoding: 'utf8' }).trim()).to.equal('mcrd');
  });

  it('names each worker mcrd-worker N after its index, which pidof mcrd does not match', async () => {
    const workers = await relay.client.listWorkers();
    expect(workers).to.have.length(WORKERS);
    for (const worker of workers) {
      expect(readProcess(worker.pid), `worker ${worker.index}`).to.include({ comm: `mcrd-worker ${worker.index}`, cmdline: `mcrd-worker ${worker.index}` });
    }
    expect(workerProcessesOf(mcrdPid()).map((p) => p.pid).sort()).to.deep.equal(workers.map((w) => w.pid).sort());
    const pidofMcrd = execFileSync('pidof', ['mcrd'], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
    for (const worker of workers) expect(pidofMcrd).not.to.include(worker.pid);
  });

  it('a worker sent SIGHUP keeps running', async () => {
    const [before] = await relay.client.listWorkers();
    process.kill(before.pid, 'SIGHUP');
    // A worker that died of it would be gone (or a zombie) within this time and replaced by mcrd.
    await sleep(1000);
    expect(readProcess(before.pid)?.state).to.be.oneOf(['R', 'S']);
    const [after] = await relay.client.listWorkers();
    expect({ pid: after.pid, state: after.state, restarts: after.restarts }).to.deep.equal({ pid: before.pid, state: before.state, restarts: before.restarts });
  });
});
