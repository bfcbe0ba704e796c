/**
 * The benchmark's kernel reference on a kernel without multicast routing (kernel-unicast), in the
 * benchmark's own namespaces: it forwards the flow to the receiver with rp_filter 0, and like the
 * kernel's multicast routing delivers nothing from the unroutable source with rp_filter 1 or 2, nor
 * with TTL 1; stopping it undoes what it set up. Needs root. Traffic: 2,000 packets per probe.
 */
import { expect } from 'chai';

import { Prober, Traffic } from '../../bench/lib/probe';
import { KernelUnicastRelay } from '../../bench/lib/relays/kernel-unicast';
import { BenchTopology, outputLink, SOURCE } from '../../bench/lib/topology';
import { resolveTools, ToolName } from '../../bench/lib/tools';
import { runGen, Sink } from '../../bench/lib/traffic';
import { ip, runIn } from '../support/netns';

const RATE = 10_000;
const SECONDS = 0.2;
const FLOW = { group: '239.1.1.1', port: 5000 };

describe('bench: kernel-unicast relay', function () {
  this.timeout(60_000);
  let topology: BenchTopology;
  let tools: Record<ToolName, string>;
  let relay: KernelUnicastRelay;
  let prober: Prober;
  const traffic: Traffic = { path: 'relay', flows: [FLOW], outputs: [1], size: 64 };

  before(async () => {
    tools = resolveTools(() => {});
    topology = BenchTopology.create({ relay: 0, harness: 1 });
    relay = new KernelUnicastRelay({ topology, tools, relayCpu: 0, log: () => {} }, 'test');
    prober = new Prober({ topology, tools, harnessCpu: 1, relayCpu: 0 });
    await relay.start({ flows: [FLOW], outputs: [1], idleFlows: [] });
  });

  after(async () => {
    await relay?.stop();
    topology?.destroy();
  });

  it('forwards the flow to the receiver\'s address with rp_filter 0', async () => {
    topology.setRpFilter(0);
    const r = await prober.probe(traffic, { rate: RATE, seconds: SECONDS }, relay);
    expect(r.sent).to.be.greaterThan(0);
    expect(r.delivered).to.equal(r.sent);
    expect(r.relayCounters['forwarded']).to.be.at.least(r.sent);
  });

  for (const mode of [1, 2] as const) {
    it(`delivers nothing from the unroutable source with rp_filter ${mode}: the reverse-path check drops it`, async () => {
      topology.setRpFilter(mode);
      try {
        const r = await prober.probe(traffic, { rate: RATE, seconds: SECONDS }, relay);
        expect(r.sent).to.be.greaterThan(0);
        expect(r.delivered).to.equal(0);
        expect(r.relayCounters['reversePathFiltered']).to.equal(r.sent);
      } finally {
        topology.setRpFilter(0);
      }
    });
  }

  it('drops TTL 1 in forwarding', async () => {
    const receiver = outputLink(1).receiver.address;
    const sink = await Sink.start(tools.sink, topology.ns.receiver, { port: FLOW.port, groups: [], joins: [receiver], run: 1000, seconds: 10, idleMs: 150 });
    const before = await relay.counters();
    const sent = await runGen(tools.gen, topology.ns.sender, { destinations: [`${receiver}:${FLOW.port}`], bind: SOURCE.address, size: 64, rate: RATE, seconds: SECONDS, run: 1000, ttl: 1 });
    const received = await sink.finish();
    const after = await relay.counters();
    expect(sent.sent).to.be.greaterThan(0);
    expect(received.datagrams).to.equal(0);
    expect(after['headerErrors'] - before['headerErrors']).to.equal(sent.sent);
  });

  it('undoes its route, neighbour entry and ip_forward when stopped', async () => {
    await relay.stop();
    expect(ip(['-n', topology.ns.sender, 'route', 'show', `${outputLink(1).receiver.address}/32`]).trim()).to.equal('');
    expect((await runIn(topology.ns.relay, ['sysctl', '-n', 'net.ipv4.ip_forward'])).trim()).to.equal('0');
    const r = await prober.probe(traffic, { rate: RATE, seconds: SECONDS }, relay);
    expect(r.delivered).to.equal(0);
  });
});
