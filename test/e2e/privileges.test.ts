/**
 * Workers run unprivileged: uid/gid 65534 (real, effective, saved, file system), no supplementary
 * groups, every capability set empty, no_new_privs; and they still forward.
 */
import { expect } from 'chai';
import fs from 'fs';

import { WorkerState } from '../../gen/mcr/v1/system';
import { useRelay } from '../support/fixture';
import { NET } from '../support/netns';
import { waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';

const WORKERS = 2;
const NOBODY = '65534';
const NO_CAPABILITIES = '0000000000000000';
const CAPABILITY_SETS = ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'];

/** The "Key:\tvalue" lines of a /proc/.../status file. */
function readStatus(file: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** Asserts that the status of a process or thread shows no privilege at all. */
function expectUnprivileged(file: string): void {
  const status = readStatus(file);
  expect(status.get('Uid')?.split(/\s+/), `${file} Uid (real, effective, saved, fs)`).to.deep.equal([NOBODY, NOBODY, NOBODY, NOBODY]);
  expect(status.get('Gid')?.split(/\s+/), `${file} Gid (real, effective, saved, fs)`).to.deep.equal([NOBODY, NOBODY, NOBODY, NOBODY]);
  expect(status.get('Groups'), `${file} supplementary groups`).to.be.oneOf(['', NOBODY]);
  for (const set of CAPABILITY_SETS) expect(status.get(set), `${file} ${set}`).to.equal(NO_CAPABILITIES);
  expect(status.get('NoNewPrivs'), `${file} NoNewPrivs`).to.equal('1');
}

describe('e2e: unprivileged workers', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: WORKERS });

  it('every worker (each of its threads) has uid/gid 65534, no capabilities and no_new_privs', async function () {
    const workers = await waitForWorkersInSync(relay.client, WORKERS);
    expect(new Set(workers.map((w) => w.pid)).size, 'distinct worker pids').to.equal(WORKERS);
    for (const worker of workers) {
      expect(worker.state).to.equal(WorkerState.WORKER_STATE_RUNNING);
      expect(worker.uid, `worker ${worker.index} uid as reported`).to.equal(65534);
      expect(worker.pid, `worker ${worker.index} pid`).to.not.equal(relay.mcrd.pid);
      expectUnprivileged(`/proc/${worker.pid}/status`);
      for (const thread of fs.readdirSync(`/proc/${worker.pid}/task`)) expectUnprivileged(`/proc/${worker.pid}/task/${thread}/status`);
    }
  });

  it('the unprivileged workers still forward', async function () {
    const { client, topology } = relay;
    const input = { address: '239.1.1.1', port: 5000 };
    const output = { address: '239.9.9.9', port: 6000 };
    const rule = await client.createRule({
      input: { interface: NET.relayIn.ifname, group: input.address, port: input.port },
      outputs: [{ interface: NET.relayOut1.ifname, ...output }],
    });
    await waitForRuleState(client, rule.id);
    const pidsBefore = (await waitForWorkersInSync(client, WORKERS)).map((w) => w.pid);
    const result = await runStreams(topology, {
      flows: [{ ...input, count: 1000, size: 300, seed: 6 }],
      rate: 1000,
      sinks: { sink1: [endpointIn('sink1', output.address, output.port, 1000)] },
    });
    expectDelivered(result, input, 'sink1', output);
    // The same unprivileged workers did the forwarding (none was replaced meanwhile).
    const pidsAfter = (await client.listWorkers()).map((w) => w.pid);
    expect(pidsAfter).to.deep.equal(pidsBefore);
    for (const pid of pidsAfter) expectUnprivileged(`/proc/${pid}/status`);
  });
});
