/**
 * mcrd runs wherever it is placed: started under `taskset -c CPU`, or in a cpuset cgroup that allows
 * one CPU (as --cpuset-cpus, Kubernetes' static CPU manager or systemd's AllowedCPUs= do), it starts,
 * pins every data-plane thread inside that set, relays, and reports the CPU in ListWorkers and
 * `mcrctl workers`. --cpus outside the set is refused with the CPU and the set named; --cpus and
 * --interface-cpus choose the workers' CPUs and put an interface's rules on the workers there.
 *
 * CPU is the last CPU this test process may use, OTHER the first (the machine needs two): before,
 * worker 0 went to CPU 0 whatever the set, so under taskset its data plane left the set and in a
 * cpuset mcrd did not start at all ("pthread_setaffinity_np (core 0): Invalid argument").
 */
import { expect } from 'chai';
import fs from 'fs';

import { Worker } from '../../gen/mcr/v1/system';
import { parseCpuList } from '../../server/formats/cpu-list';
import { workerFor } from '../../server/rules/placement';
import { CpusetCgroup, makeCpuset } from '../support/cpuset';
import { useTopology } from '../support/fixture';
import { McrClient } from '../support/grpc';
import { Mcrd, McrdOptions } from '../support/mcrd';
import { mcrctlOk, parseTable } from '../support/mcrctl';
import { NET } from '../support/netns';
import { waitFor } from '../support/poll';
import { waitForRulePackets, waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';

const OUTPUT = { address: '239.9.9.9', port: 6000 };
const PACKETS = 500;

interface ThreadView {
  tid: number;
  comm: string;
  /** Cpus_allowed_list of its status. */
  allowed: string;
  /** Field 39 of its stat: the CPU it last ran on. */
  processor: number;
}

/** Every thread of process `pid`, as /proc shows it (read here, independently of mcrd). */
function threadsOf(pid: number): ThreadView[] {
  const dir = `/proc/${pid}/task`;
  return fs.readdirSync(dir).map((tid) => {
    const stat = fs.readFileSync(`${dir}/${tid}/stat`, 'utf8');
    const status = fs.readFileSync(`${dir}/${tid}/status`, 'utf8');
    return {
      tid: Number(tid),
      comm: fs.readFileSync(`${dir}/${tid}/comm`, 'utf8').trim(),
      allowed: /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)![1],
      processor: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[39 - 3]),
    };
  });
}

describe('e2e: mcrd runs wherever it is placed (taskset, a cpuset cgroup, --cpus)', function () {
  this.timeout(120_000);
  const context = useTopology();
  let daemons: Mcrd[] = [];
  let clients: McrClient[] = [];
  let cgroups: CpusetCgroup[] = [];
  let cpu = -1;
  let other = -1;

  before(function () {
    const allowed = parseCpuList(/^Cpus_allowed_list:\s*(\S+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);
    if (allowed.length < 2) throw new Error(`these tests need two CPUs to choose from; this process may use ${allowed.join(',')}`);
    [other, cpu] = [allowed[0], allowed[allowed.length - 1]];
  });

  afterEach(async function () {
    const failed = this.currentTest?.state === 'failed';
    for (const client of clients) client.close();
    clients = [];
    try {
      for (const mcrd of daemons) {
        if (failed) process.stderr.write(`\n----- mcrd output (${this.currentTest!.fullTitle()}) -----\n${mcrd.logs()}\n----- end of mcrd output -----\n`);
        await mcrd.dispose();
      }
    } finally {
      daemons = [];
      for (const cgroup of cgroups) cgroup.remove();
      cgroups = [];
    }
  });

  function newMcrd(options: McrdOptions): Mcrd {
    const mcrd = new Mcrd(context.topology.ns.relay, options);
    daemons.push(mcrd);
    return mcrd;
  }

  async function started(options: McrdOptions): Promise<{ mcrd: Mcrd; client: McrClient }> {
    const mcrd = newMcrd(options);
    await mcrd.start();
    const client = new McrClient(mcrd.socketPath);
    clients.push(client);
    return { mcrd, client };
  }

  /** Starts mcrd as its first command, `sh`, moves itself into the cgroup and execs it. */
  function inCgroup(cgroup: CpusetCgroup): string[] {
    return ['sh', '-c', `echo $$ > ${cgroup.procsFile} && exec "$@"`, 'sh'];
  }

  /** A rule from in0 to out1, relayed and counted: PACKETS sent, every one delivered. */
  async function expectRelayed(client: McrClient, group: string, port: number): Promise<void> {
    const rule = await client.createRule({
      input: { interface: NET.relayIn.ifname, group, port },
      outputs: [{ interface: NET.relayOut1.ifname, ...OUTPUT }],
    });
    await waitForRuleState(client, rule.id);
    const input = { address: group, port };
    const result = await runStreams(context.topology, {
      flows: [{ ...input, count: PACKETS, size: 256, seed: 3 }],
      rate: 1000,
      sinks: { sink1: [endpointIn('sink1', OUTPUT.address, OUTPUT.port, PACKETS)] },
    });
    expectDelivered(result, input, 'sink1', OUTPUT);
    expect((await waitForRulePackets(client, rule.id, PACKETS)).packetsForwarded).to.equal(BigInt(PACKETS));
  }

  /**
   * Every thread of mcrd and of each worker may run on `onlyCpu` alone, each worker's data-plane
   * thread is where ListWorkers says, and ListWorkers reports that CPU.
   */
  function expectAllOn(mcrd: Mcrd, workers: Worker[], onlyCpu: number): void {
    for (const thread of threadsOf(mcrd.pid!)) expect(thread.allowed, `mcrd thread ${thread.tid} (${thread.comm})`).to.equal(String(onlyCpu));
    for (const worker of workers) {
      const label = `worker ${worker.index} (pid ${worker.pid})`;
      const threads = threadsOf(worker.pid);
      const dataplane = threads.filter((t) => t.comm === 'mcr-dataplane');
      expect(dataplane, `${label}: one data-plane thread`).to.have.lengthOf(1);
      for (const thread of threads) expect(thread.allowed, `${label} thread ${thread.tid} (${thread.comm})`).to.equal(String(onlyCpu));
      expect(dataplane[0].processor, `${label}: data-plane thread last ran on`).to.equal(onlyCpu);
      expect({ core: worker.core, tid: worker.dataplaneThreadId, lastCpu: worker.lastCpu, allowedCpus: worker.allowedCpus }, `${label} in ListWorkers`).to.deep.equal({
        core: onlyCpu,
        tid: dataplane[0].tid,
        lastCpu: onlyCpu,
        allowedCpus: String(onlyCpu),
      });
    }
  }

  /** `mcrctl workers`, as JSON and as text, shows the CPU of every worker. */
  async function expectMcrctlShows(mcrd: Mcrd, workers: number, onlyCpu: number): Promise<void> {
    const json = JSON.parse(await mcrctlOk(['--socket', mcrd.socketPath, '--json', 'workers']));
    expect(json.workers, `mcrctl --json workers: ${JSON.stringify(json)}`).to.have.lengthOf(workers);
    for (const worker of json.workers) {
      expect({ core: worker.core, lastCpu: worker.lastCpu, allowedCpus: worker.allowedCpus }, JSON.stringify(worker)).to.deep.equal({
        core: onlyCpu,
        lastCpu: onlyCpu,
        allowedCpus: String(onlyCpu),
      });
      expect(worker.dataplaneThreadId, JSON.stringify(worker)).to.be.a('number').greaterThan(0);
    }
    const rows = parseTable(await mcrctlOk(['--socket', mcrd.socketPath, 'workers']));
    expect(rows.map((row) => [row.CORE, row['LAST CPU']])).to.deep.equal(Array.from({ length: workers }, () => [String(onlyCpu), String(onlyCpu)]));
  }

  it('under taskset -c CPU: one worker by default, every thread on CPU, traffic relayed, mcrctl workers shows CPU', async function () {
    const { mcrd, client } = await started({ workers: undefined, wrap: ['taskset', '-c', String(cpu)] });
    const workers = await waitForWorkersInSync(client, 1);
    await expectRelayed(client, '239.1.1.1', 5000);
    expectAllOn(mcrd, await client.listWorkers(), cpu);
    expect(workers[0].core).to.equal(cpu);
    await expectMcrctlShows(mcrd, 1, cpu);
  });

  it('in a cpuset cgroup allowing CPU only: starts, its two workers run on CPU, traffic relayed, mcrctl workers shows CPU', async function () {
    const cgroup = makeCpuset(String(cpu));
    cgroups.push(cgroup);
    const { mcrd, client } = await started({ workers: 2, wrap: inCgroup(cgroup) });
    const workers = await waitForWorkersInSync(client, 2);
    const pids = cgroup.pids();
    expect(pids, `cgroup v${cgroup.version} ${cgroup.dir} holds mcrd`).to.include(mcrd.pid);
    for (const worker of workers) expect(pids, `the cgroup holds worker ${worker.index}`).to.include(worker.pid);
    // One rule per worker, so that both data-plane threads handle traffic.
    await expectRelayed(client, '239.1.1.1', 5000);
    const second = ['239.1.1.2', '239.1.1.3', '239.1.1.4', '239.1.1.5'].find((g) => workerFor(g, 5000, 2) !== workerFor('239.1.1.1', 5000, 2))!;
    await expectRelayed(client, second, 5000);
    expectAllOn(mcrd, await client.listWorkers(), cpu);
    await expectMcrctlShows(mcrd, 2, cpu);
  });

  it('refuses --cpus and --interface-cpus naming a CPU outside its set, naming the CPU and the set', async function () {
    const outside = newMcrd({ workers: undefined, wrap: ['taskset', '-c', String(cpu)], extraArgs: ['--cpus', String(other)] });
    const status = await outside.runUntilExit();
    expect(status.code, outside.logs()).to.equal(1);
    expect(outside.logs()).to.include(`cannot start: --cpus ${other}: CPU ${other} is not available to mcrd: the CPUs mcrd may use are ${cpu} (its CPU affinity`);
    expect(outside.logs(), 'refused before any worker started').to.not.include('worker started');

    const cgroup = makeCpuset(String(cpu));
    cgroups.push(cgroup);
    const nic = newMcrd({ workers: 1, wrap: inCgroup(cgroup), extraArgs: ['--interface-cpus', `in0=${other}`] });
    expect((await nic.runUntilExit()).code, nic.logs()).to.equal(1);
    expect(nic.logs()).to.include(`cannot start: --interface-cpus in0=${other}: CPU ${other} is not available to mcrd: the CPUs mcrd may use are ${cpu} `);
    await waitFor('the cgroup to be empty', async () => cgroup.pids(), (pids) => pids.length === 0, 5000);
  });

  it('--cpus places worker i on the i-th CPU, and --interface-cpus puts the rules of in0 on the worker of its CPU', async function () {
    const { mcrd, client } = await started({ workers: 2, extraArgs: ['--cpus', `${other},${cpu}`, '--interface-cpus', `in0=${cpu}`] });
    const workers = await waitForWorkersInSync(client, 2);
    expect(workers.map((w) => w.core)).to.deep.equal([other, cpu]);
    expect(workers.map((w) => w.allowedCpus)).to.deep.equal([String(other), String(cpu)]);
    // Groups that plain hashing would spread over both workers all go to worker 1, on CPU.
    const groups = ['239.2.0.1', '239.2.0.2', '239.2.0.3', '239.2.0.4', '239.2.0.5', '239.2.0.6'];
    expect(new Set(groups.map((g) => workerFor(g, 5000, 2))).size, 'the groups hash to both workers').to.equal(2);
    const onZero = groups.find((g) => workerFor(g, 5000, 2) === 0)!;
    for (const group of groups.filter((g) => g !== onZero)) {
      const rule = await client.createRule({ input: { interface: NET.relayIn.ifname, group, port: 5000 }, outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.9.10', port: 6000 }] });
      expect((await waitForRuleState(client, rule.id)).status?.worker, `rule for ${group}`).to.equal(1);
    }
    await expectRelayed(client, onZero, 5000);
    const after = await waitForWorkersInSync(client, 2);
    expect(after.map((w) => w.rules)).to.deep.equal([0, groups.length]);
    const dataplane = threadsOf(after[1].pid).find((t) => t.comm === 'mcr-dataplane')!;
    expect({ allowed: dataplane.allowed, processor: dataplane.processor }).to.deep.equal({ allowed: String(cpu), processor: cpu });
    expect(after[1].lastCpu).to.equal(cpu);
    expect(mcrd.logs()).to.include('worker CPUs');
  });
});
