/**
 * Prometheus metrics: mcrd started with --metrics on the relay namespace's loopback serves /metrics in
 * the text exposition format; every family is typed, counters end in _total, no label carries an
 * address, after known traffic the values are those GetStats and GetWorkerStats report, and
 * mcr_rule_info names each rule from its creation, through a rename, to its deletion.
 */
import { expect } from 'chai';
import net from 'net';

import { RuleState } from '../../gen/mcr/v1/rules';
import { useRelay } from '../support/fixture';
import { httpGetIn } from '../support/http';
import { NET } from '../support/netns';
import { describeValue, waitFor } from '../support/poll';
import { parsePrometheusText, PromFamily, sampleValue } from '../support/prometheus';
import { waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';

const WORKERS = 2;
/** Inside the relay namespace, whose loopback nobody else uses. */
const METRICS = '127.0.0.1:9464';
const INPUT = { address: '239.1.1.1', port: 5000 };
const OUTPUTS = [
  { interface: NET.relayOut1.ifname, address: '239.9.9.9', port: 6000 },
  { interface: NET.relayOut2.ifname, address: NET.sink2.address, port: 7000 },
];
const PACKETS = 2000;
const SIZE = 500;

/** Families mcrd must serve (it may serve more). */
const REQUIRED = [
  'mcr_rule_received_packets_total',
  'mcr_rule_received_bytes_total',
  'mcr_rule_forwarded_packets_total',
  'mcr_rule_send_failed_packets_total',
  'mcr_rule_last_packet_timestamp_seconds',
  'mcr_output_sent_packets_total',
  'mcr_output_sent_bytes_total',
  'mcr_output_send_errors_total',
  'mcr_input_frames_total',
  'mcr_input_bytes_total',
  'mcr_input_unmatched_frames_total',
  'mcr_input_parse_errors_total',
  'mcr_input_kernel_drops_total',
  'mcr_rule_info',
  'mcr_rules',
  'mcr_worker_up',
  'mcr_worker_restarts_total',
];

/** Looks like an IPv4 or IPv6 address, alone or inside a longer value ("10.3.0.2:7000"). */
function carriesAddress(value: string): boolean {
  return net.isIP(value) !== 0 || /\b\d{1,3}(\.\d{1,3}){3}\b/.test(value) || /\[?[0-9a-f]*:[0-9a-f]*:[0-9a-f:]*\]?/i.test(value);
}

describe('e2e: Prometheus /metrics', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: WORKERS, extraArgs: ['--metrics', METRICS] });

  const scrape = async (path = '/metrics') => httpGetIn(relay.topology.ns.relay, `http://${METRICS}${path}`);

  it("the test's reader takes the text format as Prometheus does, and refuses what Prometheus refuses", () => {
    const families = parsePrometheusText(
      [
        '# HELP a_total Things\\n with a "quote".',
        '# TYPE a_total counter',
        'a_total{x="1",y="q\\"uo\\\\te\\n"} 3 1700000000000',
        'a_total{x="2",} 4',
        '# a comment',
        '# TYPE h histogram',
        'h_bucket{le="+Inf"} 2',
        'h_sum 0.5',
        'h_count 2',
        'untyped_one NaN',
      ].join('\n'),
    );
    expect(families.get('a_total')).to.deep.equal({
      name: 'a_total',
      help: 'Things\n with a "quote".',
      type: 'counter',
      samples: [
        { name: 'a_total', labels: { x: '1', y: 'q"uo\\te\n' }, value: 3 },
        { name: 'a_total', labels: { x: '2' }, value: 4 },
      ],
    });
    expect(families.get('h')?.samples.map((s) => s.name)).to.deep.equal(['h_bucket', 'h_sum', 'h_count']);
    expect(families.get('untyped_one')?.type).to.equal(undefined);
    for (const bad of ['a{x="1"', 'a{x=1} 2', 'a{x="1",x="2"} 1', '1a 2', 'a', 'a b', 'a 1\n# TYPE a gauge', '# TYPE a flavour', 'a{x="\\q"} 1']) {
      expect(() => parsePrometheusText(bad), JSON.stringify(bad)).to.throw(/line \d+/);
    }
  });

  it('serves typed families with counters in _total and no address in any label', async function () {
    const response = await scrape();
    expect(response.status, response.body).to.equal(200);
    expect(response.contentType).to.match(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(response.body);
    const names = [...families.keys()];
    expect(names, 'families served').to.include.members(REQUIRED);
    const untyped = [...families.values()].filter((f) => f.type === undefined).map((f) => f.name);
    expect(untyped, 'families without # TYPE').to.deep.equal([]);
    const counters = [...families.values()].filter((f) => f.type === 'counter' && !f.name.endsWith('_total')).map((f) => f.name);
    expect(counters, 'counters whose name does not end in _total').to.deep.equal([]);
    const notCounters = [...families.values()].filter((f) => f.name.startsWith('mcr_') && f.type !== 'counter' && f.name.endsWith('_total')).map((f) => f.name);
    expect(notCounters, 'mcr_ families named _total that are not counters').to.deep.equal([]);
    for (const name of REQUIRED) expect(families.get(name)?.help, `HELP of ${name}`).to.be.a('string').and.not.equal('');

    expect((await scrape('/')).status, 'anything but /metrics').to.equal(404);
  });

  it('reports after known traffic exactly what GetStats and GetWorkerStats report', async function () {
    const { client } = relay;
    const rule = await client.createRule({
      name: 'scraped',
      input: { interface: NET.relayIn.ifname, group: INPUT.address, port: INPUT.port },
      outputs: OUTPUTS,
    });
    await waitForRuleState(client, rule.id);
    await waitForWorkersInSync(client, WORKERS);
    const result = await runStreams(relay.topology, {
      flows: [{ ...INPUT, count: PACKETS, size: SIZE, seed: 81 }],
      rate: 1000,
      sinks: {
        sink1: [endpointIn('sink1', OUTPUTS[0].address, OUTPUTS[0].port, PACKETS)],
        sink2: [endpointIn('sink2', OUTPUTS[1].address, OUTPUTS[1].port, PACKETS)],
      },
    });
    expectDelivered(result, INPUT, 'sink1', OUTPUTS[0]);
    expectDelivered(result, INPUT, 'sink2', OUTPUTS[1]);
    const n = BigInt(PACKETS);
    const [stats] = await waitFor(
      `rule ${rule.id} and its outputs to count ${PACKETS} packets`,
      () => client.getStats(rule.id),
      (list) => list.length === 1 && list[0].packetsReceived >= n && list[0].outputs.every((o) => o.packets >= n),
    );
    expect(stats.packetsReceived, describeValue(stats)).to.equal(n);

    const families = parsePrometheusText((await scrape()).body);
    const inputs = await client.getWorkerStats();
    const value = (family: string, labels: Record<string, string>) => {
      const v = sampleValue(families, family, labels);
      if (v === undefined) throw new Error(`no ${family}${describeValue(labels)} in the scrape: ${describeValue(families.get(family)?.samples)}`);
      return v;
    };
    const id = { rule: rule.id };
    expect(value('mcr_rule_received_packets_total', id), 'received packets').to.equal(Number(stats.packetsReceived));
    expect(value('mcr_rule_received_bytes_total', id), 'received bytes').to.equal(Number(stats.bytesReceived)).and.equal(PACKETS * SIZE);
    expect(value('mcr_rule_forwarded_packets_total', id), 'forwarded').to.equal(Number(stats.packetsForwarded));
    expect(value('mcr_rule_send_failed_packets_total', id), 'send failed').to.equal(Number(stats.drops!.sendFailed));
    expect(value('mcr_rule_last_packet_timestamp_seconds', id), 'last packet').to.be.closeTo(Number(stats.lastPacketUnixNanos) / 1e9, 0.001);
    for (const output of stats.outputs) {
      const labels = { rule: rule.id, output: String(output.index) };
      expect(value('mcr_output_sent_packets_total', labels), `output ${output.index} packets`).to.equal(Number(output.packets)).and.equal(PACKETS);
      expect(value('mcr_output_sent_bytes_total', labels), `output ${output.index} bytes`).to.equal(Number(output.bytes));
      for (const [cls, count] of [['would_block', output.errorsWouldBlock], ['unreachable', output.errorsUnreachable], ['other', output.errorsOther]] as const) {
        expect(value('mcr_output_send_errors_total', { ...labels, class: cls }), `output ${output.index} ${cls} errors`).to.equal(Number(count));
      }
    }
    for (const input of inputs) {
      const labels = { worker: String(input.worker), interface: input.interface };
      expect(value('mcr_input_frames_total', labels), `frames of ${input.interface} in worker ${input.worker}`).to.equal(Number(input.frames));
      expect(value('mcr_input_kernel_drops_total', labels), 'kernel drops').to.equal(Number(input.kernelDrops));
      expect(value('mcr_input_parse_errors_total', { ...labels, reason: 'truncated' }), 'truncated').to.equal(Number(input.parseErrors!.truncated));
    }
    const framesOnInput = inputs.filter((i) => i.interface === NET.relayIn.ifname).reduce((sum, i) => sum + Number(i.frames), 0);
    expect(framesOnInput, `frames read on ${NET.relayIn.ifname}`).to.be.at.least(PACKETS);
    expect(value('mcr_rules', { state: RuleState[RuleState.RULE_STATE_ACTIVE].replace('RULE_STATE_', '').toLowerCase() }), 'active rules').to.equal(1);
    for (let w = 0; w < WORKERS; w++) {
      expect(value('mcr_worker_up', { worker: String(w) }), `worker ${w} up`).to.equal(1);
      expect(value('mcr_worker_restarts_total', { worker: String(w) }), `worker ${w} restarts`).to.equal(0);
    }

    // Labels are ids, indexes, interface names and fixed words: never an address (the rule has two).
    const withAddress = [...families.values()].flatMap((f: PromFamily) =>
      f.samples.flatMap((s) => Object.entries(s.labels).filter(([, v]) => carriesAddress(v)).map(([k, v]) => `${s.name} ${k}="${v}"`)),
    );
    expect(withAddress, 'labels carrying an address').to.deep.equal([]);
  });

  it('names each rule in mcr_rule_info from its creation, through a rename, to its deletion', async function () {
    const { client } = relay;
    const definition = { input: { interface: NET.relayIn.ifname, group: '239.1.7.7', port: 5007 }, outputs: [OUTPUTS[0]] };
    const infoOf = async (id: string) => (parsePrometheusText((await scrape()).body).get('mcr_rule_info')?.samples ?? []).filter((s) => s.labels.rule === id);

    const rule = await client.createRule({ ...definition, name: 'camera-7' });
    expect(await infoOf(rule.id), 'after create').to.deep.equal([
      { name: 'mcr_rule_info', labels: { rule: rule.id, name: 'camera-7', input_interface: NET.relayIn.ifname }, value: 1 },
    ]);
    expect(parsePrometheusText((await scrape()).body).get('mcr_rule_info')?.type).to.equal('gauge');

    const renamed = await client.updateRule(rule.id, { ...definition, name: 'camera-seven' });
    expect(renamed.id, 'a rename keeps the id').to.equal(rule.id);
    expect(await infoOf(rule.id), 'after rename').to.deep.equal([
      { name: 'mcr_rule_info', labels: { rule: rule.id, name: 'camera-seven', input_interface: NET.relayIn.ifname }, value: 1 },
    ]);

    const unnamed = await client.updateRule(rule.id, definition);
    expect(unnamed.name).to.equal('');
    expect((await infoOf(rule.id)).map((s) => s.labels.name), 'an unnamed rule is labelled with its id').to.deep.equal([rule.id]);

    await client.deleteRule(rule.id);
    expect(await infoOf(rule.id), 'after delete').to.deep.equal([]);
  });
});
