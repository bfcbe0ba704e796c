/**
 * Egress sockets shared per (output interface, TTL, TOS) (docs/decisions/0035-shared-egress-sockets.md),
 * through the real mcrd:
 * - five outputs of two rules over three (interface, TTL, TOS) combinations: the worker holds three UDP
 *   sockets, not five; each destination gets every packet with its output's TTL and TOS, and the
 *   counters say so; each socket's send buffer is --sndbuf per destination, grown as a later rule adds
 *   one; deleting the rule that alone uses a combination closes that socket.
 * - 20,000 rules x 4 outputs (80,000 destinations) install in full under the default open-file limit:
 *   every rule ACTIVE, the worker in sync, holding one UDP socket per combination.
 */
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';

import { connect, McrClient as LibraryClient } from '../../clients/lib';
import { DeepPartial, Rule, RuleState } from '../../gen/mcr/v1/rules';
import { formatIPv4, parseIPv4 } from '../../server/formats/addresses';
import { useRelay } from '../support/fixture';
import type { McrClient } from '../support/grpc';
import { NET, runIn } from '../support/netns';
import { waitFor } from '../support/poll';
import { runsAgainInSync, sampleWorker } from '../support/faults';
import { waitForRulePackets, waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { sendTraffic } from '../support/traffic';
import { Marks, startMarksReceiver } from '../support/udp-marks';

/** Inodes of the sockets a /proc/PID/net table lists (column `column`). */
function listedInodes(pid: number, table: string, column: number): Set<string> {
  return new Set(fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1).map((line) => line.trim().split(/\s+/)[column]));
}

/**
 * The sockets process `pid` holds that are neither AF_PACKET nor AF_UNIX: in a worker, its egress
 * sockets (an unconnected UDP socket is in no table of /proc/net/udp until its first send binds it).
 */
function udpSocketsOf(pid: number): number {
  const others = new Set([...listedInodes(pid, 'packet', 8), ...listedInodes(pid, 'unix', 6)]);
  let count = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match && !others.has(match[1])) count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

async function workerPid(client: McrClient): Promise<number> {
  const workers = await client.listWorkers();
  expect(workers).to.have.length(1);
  return workers[0].pid;
}

const PACKETS = 300;
const INPUT = { interface: NET.relayIn.ifname, group: '239.1.1.1' };
/** DSCP 10 is TOS 40. */
const SHARED = { ttl: 5, dscp: 10 };

/** PACKETS packets of 200 bytes to INPUT's group on each of `ports`, from `ns` (seeds from `seed` on), every one sent. */
async function sendFlows(ns: string, ports: number[], seed: number): Promise<void> {
  const sent = await sendTraffic(ns, {
    flows: ports.map((port, i) => ({ address: INPUT.group, port, count: PACKETS, size: 200, seed: seed + i })),
    interfaceAddress: NET.src.address,
    rate: 1500,
    maxSeconds: 15,
  });
  for (const flow of sent.flows) expect(flow.sent, `${flow.address}:${flow.port} sent`).to.equal(PACKETS);
}

describe('e2e: egress sockets shared per interface, TTL and TOS', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 1 });

  it('holds one socket per combination, and each destination gets every packet with its TTL and TOS', async () => {
    const { client, topology } = relay;
    const out1 = (address: string, port: number, marks: { ttl?: number; dscp?: number } = SHARED) => ({ interface: NET.relayOut1.ifname, address, port, ...marks });
    const a = await client.createRule({
      name: 'a',
      input: { ...INPUT, port: 5000 },
      outputs: [out1('239.9.9.9', 6000), out1(NET.sink1.address, 7000), { interface: NET.relayOut2.ifname, address: '239.9.9.10', port: 6001, ...SHARED }],
    });
    const b = await client.createRule({ name: 'b', input: { ...INPUT, port: 5001 }, outputs: [out1(NET.sink1.address, 7001)] });
    const c = await client.createRule({ name: 'c', input: { ...INPUT, port: 5002 }, outputs: [out1(NET.sink1.address, 7002, { ttl: 7 })] });
    for (const rule of [a, b, c]) await waitForRuleState(client, rule.id);
    await waitForWorkersInSync(client, 1);
    const pid = await workerPid(client);
    // out1 ttl 5 tos 40 (three outputs), out2 ttl 5 tos 40, out1 ttl 7 tos 0.
    expect(udpSocketsOf(pid), 'UDP sockets in the worker').to.equal(3);

    const sink1 = await startMarksReceiver(
      topology.ns.sink1,
      [
        { address: '239.9.9.9', port: 6000, interfaceAddress: NET.sink1.address },
        { address: NET.sink1.address, port: 7000, interfaceAddress: NET.sink1.address },
        { address: NET.sink1.address, port: 7001, interfaceAddress: NET.sink1.address },
        { address: NET.sink1.address, port: 7002, interfaceAddress: NET.sink1.address },
      ],
      PACKETS,
    );
    const sink2 = await startMarksReceiver(topology.ns.sink2, [{ address: '239.9.9.10', port: 6001, interfaceAddress: NET.sink2.address }], PACKETS);
    await sendFlows(topology.ns.src, [5000, 5001, 5002], 60);

    const [got1, got2] = [await sink1.done, await sink2.done];
    const marks = (m: Marks) => ({ port: m.port, payloads: m.payloads, datagrams: m.datagrams, ttls: m.ttls, toses: m.toses });
    expect(got1.map(marks)).to.deep.equal([
      { port: 6000, payloads: PACKETS, datagrams: PACKETS, ttls: [5], toses: [40] },
      { port: 7000, payloads: PACKETS, datagrams: PACKETS, ttls: [5], toses: [40] },
      { port: 7001, payloads: PACKETS, datagrams: PACKETS, ttls: [5], toses: [40] },
      { port: 7002, payloads: PACKETS, datagrams: PACKETS, ttls: [7], toses: [0] },
    ]);
    expect(got2.map(marks)).to.deep.equal([{ port: 6001, payloads: PACKETS, datagrams: PACKETS, ttls: [5], toses: [40] }]);

    const stats = await waitForRulePackets(client, a.id, PACKETS);
    expect(stats.packetsForwarded).to.equal(BigInt(PACKETS));
    expect(stats.outputs.map((o) => o.packets), 'packets per output of rule a').to.deep.equal([PACKETS, PACKETS, PACKETS].map(BigInt));
    for (const rule of [b, c]) expect((await waitForRulePackets(client, rule.id, PACKETS)).outputs.map((o) => o.packets)).to.deep.equal([BigInt(PACKETS)]);

    // Send buffers (ss lists a socket once its first send has bound it; the kernel shows twice the value
    // set): --sndbuf (2 MiB) per destination. out1 TTL 5 was opened for rule a's two destinations and
    // grown when rule b added a third.
    const ss = await runIn(topology.ns.relay, ['ss', '-u', '-a', '-m', '-p', '-O']);
    const buffers = ss
      .split('\n')
      .filter((line) => line.includes(`pid=${pid},`))
      .map((line) => Number(/tb(\d+)/.exec(line)?.[1]))
      .sort((x, y) => x - y);
    const MiB = 1 << 20;
    expect(buffers, ss).to.deep.equal([2 * 2 * MiB, 2 * 2 * MiB, 2 * 6 * MiB]);

    // Rule c alone sends with TTL 7: its socket goes with it (once no table in use names it).
    await client.deleteRule(c.id);
    await waitForWorkersInSync(client, 1);
    await waitFor('the TTL 7 socket to be closed', async () => udpSocketsOf(pid), (n) => n === 2, 10_000);
    expect(await workerPid(client), 'the same worker').to.equal(pid);
  });
});

/** The address the worker refuses outputs to in the next test (mcrd --test-hooks). */
const REFUSED = '239.9.9.66';

describe('e2e: an output the worker refuses, added with the rule change that needs it', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 1, extraArgs: ['--test-hooks'] });

  before(async () => {
    // The hook is read at the worker's hello: the worker is made to start again with it.
    fs.writeFileSync(path.join(relay.mcrd.stateDir, 'test-hooks.json'), JSON.stringify({ refuseOutputsTo: [REFUSED] }));
    const pid = await workerPid(relay.client);
    process.kill(pid, 'SIGKILL');
    await sampleWorker(relay.client, 0, runsAgainInSync(pid), { intervalMs: 50, timeoutMs: 10_000 });
  });

  it('takes the rest of the change without the refused outputs, says why, and forwards the rest', async () => {
    const { client, topology } = relay;
    const pid = await workerPid(client);
    const input = (port: number) => ({ ...INPUT, port });
    const shared = { interface: NET.relayOut2.ifname, address: '239.9.9.67', port: 6002 };
    const plain = await client.createRule({ name: 'plain', input: input(5002), outputs: [shared] });
    expect((await waitForRuleState(client, plain.id)).status!.reason).to.equal('');

    // One change (one ApplyRules): "mixed" needs two new outputs, which go to the worker in one message
    // that the hook makes it refuse whole; "sharing" needs only plain's output, which the worker has.
    // The rule change sent right behind the outputs names them and is refused too; it is worked out
    // again without them, and "sharing" is installed by it.
    const mcr = connect({ socket: relay.mcrd.socketPath, timeoutMs: 10_000 });
    try {
      await mcr.applyRules({
        rules: [
          {
            name: 'mixed',
            input: input(5000),
            outputs: [
              { interface: NET.relayOut1.ifname, address: '239.9.9.65', port: 6000 },
              { interface: NET.relayOut1.ifname, address: REFUSED, port: 6000 },
            ],
          },
          { name: 'sharing', input: input(5001), outputs: [shared] },
        ],
      });
    } finally {
      mcr.close();
    }
    const mixed = await waitForRuleState(client, 'mixed', RuleState.RULE_STATE_ERROR);
    expect(mixed.status!.reason).to.include(`cannot add the output ${REFUSED}:6000`).and.include(`test hook: outputs to ${REFUSED} are refused`);
    const sharing = await waitForRuleState(client, 'sharing');
    expect(sharing.status!.reason).to.equal('');
    await waitForWorkersInSync(client, 1);

    const sink2 = await startMarksReceiver(topology.ns.sink2, [{ address: shared.address, port: shared.port, interfaceAddress: NET.sink2.address }], 2 * PACKETS);
    await sendFlows(topology.ns.src, [5000, 5001, 5002], 70);
    expect((await sink2.done).map((m) => m.payloads), 'plain and sharing, to the same destination').to.deep.equal([2 * PACKETS]);
    for (const rule of [plain, sharing]) {
      expect((await waitForRulePackets(client, rule.id, PACKETS)).outputs.map((o) => o.packets), `${rule.name}: packets`).to.deep.equal([BigInt(PACKETS)]);
    }
    expect((await client.getStats(mixed.id)).map((r) => r.packetsForwarded), 'mixed: not installed').to.deep.equal([0n]);

    await client.deleteRule(mixed.id);
    await waitForWorkersInSync(client, 1);
    expect(await workerPid(client), 'the same worker: a refused output is no reason to restart it').to.equal(pid);
  });
});

const SCALE_RULES = 20_000;
const SCALE_OUTPUTS = 4;
/** Rules per ApplyRules (replace: false). */
const PIECE = 2_000;
/** Bound on installing them all, from the first ApplyRules to every rule ACTIVE and the worker in sync. */
const SCALE_INSTALL_MS = 60_000;

/** Rule i: its own group, 4 multicast destinations of its own, two on each output interface (TTL 1 and 2). */
function scaleRule(i: number): DeepPartial<Rule> {
  const group = formatIPv4(parseIPv4('239.20.0.0')! + i);
  const destination = formatIPv4(parseIPv4('239.100.0.0')! + i);
  return {
    name: `scale-${i}`,
    input: { interface: NET.relayIn.ifname, group, port: 5000 },
    outputs: [
      { interface: NET.relayOut1.ifname, address: destination, port: 6000 },
      { interface: NET.relayOut1.ifname, address: destination, port: 6001, ttl: 2 },
      { interface: NET.relayOut2.ifname, address: destination, port: 6000 },
      { interface: NET.relayOut2.ifname, address: destination, port: 6001, ttl: 2 },
    ],
  };
}

describe(`e2e: ${SCALE_RULES} rules x ${SCALE_OUTPUTS} outputs under the default open-file limit`, function () {
  this.timeout(SCALE_INSTALL_MS + 120_000);
  const relay = useRelay({ workers: 1, extraArgs: ['--max-rules', '100000'] });
  let mcr: LibraryClient;
  after(() => mcr?.close());

  it('installs every rule, the worker holding one socket per interface and TTL', async () => {
    const limit = Number(/^Max open files\s+(\d+)/m.exec(fs.readFileSync(`/proc/${relay.mcrd.pid}/limits`, 'utf8'))?.[1]);
    expect(limit, 'this test proves something only with fewer descriptors than outputs').to.be.below(SCALE_RULES * SCALE_OUTPUTS);
    mcr = connect({ socket: relay.mcrd.socketPath, timeoutMs: SCALE_INSTALL_MS });
    const start = Date.now();
    for (let first = 0; first < SCALE_RULES; first += PIECE) {
      await mcr.applyRules({ rules: Array.from({ length: PIECE }, (_, k) => scaleRule(first + k)), replace: false });
    }
    const applied = Date.now() - start;
    const states = async (): Promise<Record<string, number>> => {
      const count = new Map<string, number>();
      let pageToken = '';
      do {
        const page = await mcr.listRules({ pageSize: 5000, pageToken });
        for (const rule of page.rules) count.set(RuleState[rule.status!.state], (count.get(RuleState[rule.status!.state]) ?? 0) + 1);
        pageToken = page.nextPageToken;
      } while (pageToken);
      return Object.fromEntries(count);
    };
    const active = await waitFor('every rule ACTIVE', states, (s) => s.RULE_STATE_ACTIVE === SCALE_RULES, SCALE_INSTALL_MS - applied, 200);
    const took = Date.now() - start;
    await waitForWorkersInSync(relay.client, 1);
    console.log(`      ${SCALE_RULES} x ${SCALE_OUTPUTS} applied in ${(applied / 1000).toFixed(1)} s, all ACTIVE after ${(took / 1000).toFixed(1)} s (open-file limit ${limit})`);
    expect(active).to.deep.equal({ RULE_STATE_ACTIVE: SCALE_RULES });
    expect(took, 'install time (ms)').to.be.below(SCALE_INSTALL_MS);
    expect(udpSocketsOf(await workerPid(relay.client)), 'UDP sockets in the worker').to.equal(4);
  });
});
