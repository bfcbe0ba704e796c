/**
 * Prometheus exposition (opt-in: `mcrd --metrics HOST:PORT`). Every scrape reads fresh counters
 * through the stats collector. Names follow Prometheus conventions (`_total` counters, base units);
 * labels are bounded: rule id, output index, worker index, interface name, and fixed reason sets,
 * never addresses. Rule names appear once, in mcr_rule_info (joined on `rule` in PromQL).
 */
import http from 'http';
import { collectDefaultMetrics, Metric, Registry } from 'prom-client';

import { RuleState } from '../../gen/mcr/v1/rules';
import { WorkerState } from '../../gen/mcr/v1/system';
import type { Listener } from '../config/options';
import { logger } from '../log';
import { currentCaptureFilterChoice } from '../net/capture-filter';
import type { CollectedStats } from './collector';

const log = logger('api');

type Labels = Record<string, string>;
type Sample = [Labels, number | bigint];

/** What mcr_rule_info says about a rule. */
export interface RuleInfo {
  id: string;
  /** Empty when the rule has none. */
  name: string;
  inputInterface: string;
}

export interface MetricsSources {
  stats(): Promise<CollectedStats>;
  ruleStates(): RuleState[];
  /** Every rule in the store now: mcr_rule_info follows creations, renames and deletions at the next scrape. */
  rules(): RuleInfo[];
  workers(): Array<{ index: number; state: WorkerState; restarts: number; channelDropped?: number; dataplaneStalls?: number }>;
}

interface Family {
  name: string;
  help: string;
  labels: string[];
  kind: 'counter' | 'gauge';
  samples(stats: CollectedStats, sources: MetricsSources): Sample[];
}

const ruleLabel = (id: string): Labels => ({ rule: id });
const outputLabels = (id: string, index: number): Labels => ({ rule: id, output: String(index) });
const inputLabels = (worker: number, iface: string): Labels => ({ worker: String(worker), interface: iface });

const PARSE_REASONS = {
  truncated: 'truncated',
  notIpv4: 'not_ipv4',
  badHeader: 'bad_header',
  badLength: 'bad_length',
  fragment: 'fragment',
  notUdp: 'not_udp',
} as const;

const FAMILIES: Family[] = [
  {
    name: 'mcr_rule_received_packets_total',
    help: 'Packets matched by the rule.',
    labels: ['rule'],
    kind: 'counter',
    samples: (s) => s.rules.map((r) => [ruleLabel(r.ruleId), r.packetsReceived]),
  },
  {
    name: 'mcr_rule_received_bytes_total',
    help: 'UDP payload bytes matched by the rule.',
    labels: ['rule'],
    kind: 'counter',
    samples: (s) => s.rules.map((r) => [ruleLabel(r.ruleId), r.bytesReceived]),
  },
  {
    name: 'mcr_rule_forwarded_packets_total',
    help: 'Packets of the rule sent on at least one output.',
    labels: ['rule'],
    kind: 'counter',
    samples: (s) => s.rules.map((r) => [ruleLabel(r.ruleId), r.packetsForwarded]),
  },
  {
    name: 'mcr_rule_send_failed_packets_total',
    help: 'Packets of the rule that no output accepted.',
    labels: ['rule'],
    kind: 'counter',
    samples: (s) => s.rules.map((r) => [ruleLabel(r.ruleId), r.drops?.sendFailed ?? 0n]),
  },
  {
    name: 'mcr_rule_last_packet_timestamp_seconds',
    help: 'Unix time of the last packet matched by the rule (0 = never).',
    labels: ['rule'],
    kind: 'gauge',
    samples: (s) => s.rules.map((r) => [ruleLabel(r.ruleId), Number(r.lastPacketUnixNanos) / 1e9]),
  },
  {
    name: 'mcr_output_sent_packets_total',
    help: 'Packets sent on the output.',
    labels: ['rule', 'output'],
    kind: 'counter',
    samples: (s) => s.rules.flatMap((r) => r.outputs.map((o): Sample => [outputLabels(r.ruleId, o.index), o.packets])),
  },
  {
    name: 'mcr_output_sent_bytes_total',
    help: 'UDP payload bytes sent on the output.',
    labels: ['rule', 'output'],
    kind: 'counter',
    samples: (s) => s.rules.flatMap((r) => r.outputs.map((o): Sample => [outputLabels(r.ruleId, o.index), o.bytes])),
  },
  {
    name: 'mcr_output_send_errors_total',
    help: 'Sends on the output that failed, by class: would_block (buffer full), unreachable, other.',
    labels: ['rule', 'output', 'class'],
    kind: 'counter',
    samples: (s) =>
      s.rules.flatMap((r) =>
        r.outputs.flatMap((o): Sample[] => [
          [{ ...outputLabels(r.ruleId, o.index), class: 'would_block' }, o.errorsWouldBlock],
          [{ ...outputLabels(r.ruleId, o.index), class: 'unreachable' }, o.errorsUnreachable],
          [{ ...outputLabels(r.ruleId, o.index), class: 'other' }, o.errorsOther],
        ]),
      ),
  },
  {
    name: 'mcr_output_dropped_packets_total',
    help:
      'Packets the output did not send by its policy, by reason: ttl_expired (received with TTL 1 or 0, the output decrements the TTL), ' +
      'too_big (larger than the MTU allows in one packet, the output does not fragment).',
    labels: ['rule', 'output', 'reason'],
    kind: 'counter',
    samples: (s) =>
      s.rules.flatMap((r) =>
        r.outputs.flatMap((o): Sample[] => [
          [{ ...outputLabels(r.ruleId, o.index), reason: 'ttl_expired' }, o.ttlExpired],
          [{ ...outputLabels(r.ruleId, o.index), reason: 'too_big' }, o.tooBig],
        ]),
      ),
  },
  {
    name: 'mcr_output_fragmented_packets_total',
    help: 'Packets the output sent as IP fragments (larger than its interface\'s MTU allows in one packet); also counted in mcr_output_sent_packets_total.',
    labels: ['rule', 'output'],
    kind: 'counter',
    samples: (s) => s.rules.flatMap((r) => r.outputs.map((o): Sample => [outputLabels(r.ruleId, o.index), o.fragmented])),
  },
  {
    name: 'mcr_input_frames_total',
    help: 'Frames read from a worker capture socket.',
    labels: ['worker', 'interface'],
    kind: 'counter',
    samples: (s) => s.inputs.map((i) => [inputLabels(i.worker, i.interface), i.frames]),
  },
  {
    name: 'mcr_input_bytes_total',
    help: 'Bytes of the frames read from a worker capture socket.',
    labels: ['worker', 'interface'],
    kind: 'counter',
    samples: (s) => s.inputs.map((i) => [inputLabels(i.worker, i.interface), i.bytes]),
  },
  {
    name: 'mcr_input_unmatched_frames_total',
    help: 'Well-formed UDP frames that matched no rule of the worker.',
    labels: ['worker', 'interface'],
    kind: 'counter',
    samples: (s) => s.inputs.map((i) => [inputLabels(i.worker, i.interface), i.unmatched]),
  },
  {
    name: 'mcr_input_merged_frames_total',
    help: 'Frames the kernel had merged from several UDP datagrams (GRO, or a GSO send through a veth or bridge), split back into them.',
    labels: ['worker', 'interface'],
    kind: 'counter',
    samples: (s) => s.inputs.map((i) => [inputLabels(i.worker, i.interface), i.mergedFrames]),
  },
  {
    name: 'mcr_input_merged_datagrams_total',
    help: 'The datagrams those merged frames carried, each forwarded as it was sent.',
    labels: ['worker', 'interface'],
    kind: 'counter',
    samples: (s) => s.inputs.map((i) => [inputLabels(i.worker, i.interface), i.mergedDatagrams]),
  },
  {
    name: 'mcr_input_parse_errors_total',
    help: 'Frames dropped because they could not be parsed, by reason.',
    labels: ['worker', 'interface', 'reason'],
    kind: 'counter',
    samples: (s) =>
      s.inputs.flatMap((i) =>
        Object.entries(PARSE_REASONS).map(([field, reason]): Sample => [
          { ...inputLabels(i.worker, i.interface), reason },
          i.parseErrors?.[field as keyof typeof PARSE_REASONS] ?? 0n,
        ]),
      ),
  },
  {
    name: 'mcr_input_kernel_drops_total',
    help: 'Frames the kernel dropped before the worker read them (PACKET_STATISTICS).',
    labels: ['worker', 'interface'],
    kind: 'counter',
    samples: (s) => s.inputs.map((i) => [inputLabels(i.worker, i.interface), i.kernelDrops]),
  },
  {
    // An info metric: dashboards label series by name with `* on(rule) group_left(name) mcr_rule_info`.
    // An unnamed rule is labelled with its id, so that a legend always shows something that finds it.
    name: 'mcr_rule_info',
    help: 'Always 1, one series per rule: its name (its id when it has none) and input interface, to join on rule.',
    labels: ['rule', 'name', 'input_interface'],
    kind: 'gauge',
    samples: (_s, sources) => sources.rules().map((r): Sample => [{ rule: r.id, name: r.name || r.id, input_interface: r.inputInterface }, 1]),
  },
  {
    name: 'mcr_rules',
    help: 'Rules by state.',
    labels: ['state'],
    kind: 'gauge',
    samples: (_s, sources) => {
      const counts = new Map<string, number>();
      for (const state of sources.ruleStates()) {
        const name = RuleState[state]?.replace(/^RULE_STATE_/, '').toLowerCase() ?? 'unknown';
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      return [...counts].map(([state, n]): Sample => [{ state }, n]);
    },
  },
  {
    name: 'mcr_worker_up',
    help: '1 when the worker is running.',
    labels: ['worker'],
    kind: 'gauge',
    samples: (_s, sources) => sources.workers().map((w): Sample => [{ worker: String(w.index) }, w.state === WorkerState.WORKER_STATE_RUNNING ? 1 : 0]),
  },
  {
    name: 'mcr_capture_filter_info',
    help: 'Always 1: the kernel capture filter in use (ebpf or classic) and why (supported, forced, unsupported).',
    labels: ['filter', 'reason'],
    kind: 'gauge',
    samples: () => {
      const choice = currentCaptureFilterChoice();
      return choice ? [[{ filter: choice.kind, reason: choice.reason }, 1]] : [];
    },
  },
  {
    name: 'mcr_worker_restarts_total',
    help: 'Times the worker was restarted.',
    labels: ['worker'],
    kind: 'counter',
    samples: (_s, sources) => sources.workers().map((w): Sample => [{ worker: String(w.index) }, w.restarts]),
  },
  {
    name: 'mcr_worker_channel_dropped_records_total',
    help: 'Trace records a worker dropped because its channel to mcrd was full (mcrd not reading fast enough).',
    labels: ['worker'],
    kind: 'counter',
    samples: (_s, sources) => sources.workers().map((w): Sample => [{ worker: String(w.index) }, w.channelDropped ?? 0]),
  },
  {
    name: 'mcr_worker_dataplane_stalls_total',
    help: 'Times the worker was restarted because its data-plane thread stopped turning its loop.',
    labels: ['worker'],
    kind: 'counter',
    samples: (_s, sources) => sources.workers().map((w): Sample => [{ worker: String(w.index) }, w.dataplaneStalls ?? 0]),
  },
];

/**
 * One family as prom-client's registry reads a metric (name, help, type, get()): its samples are
 * handed over as they are at each scrape. prom-client's own Counter and Gauge would file each sample
 * under a hash of its labels first, which at 20,000 rules x 4 outputs (500,000 series) cost seconds
 * per scrape; nothing here needs that, since every sample is computed afresh anyway.
 */
class FamilyMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly aggregator = 'sum';

  constructor(
    private readonly family: Family,
    private readonly sources: MetricsSources,
    private readonly scrape: () => Promise<CollectedStats>,
  ) {
    this.name = family.name;
    this.help = family.help;
    this.type = family.kind;
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Labels; value: number }> }> {
    const stats = await this.scrape();
    const values = this.family.samples(stats, this.sources).map(([labels, value]) => ({ labels, value: Number(value) }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Nothing is kept between scrapes. */
  reset(): void {}
}

/** A registry holding every mcr metric (plus the process metrics), filled from `sources` at each scrape. */
export function metricsRegistry(sources: MetricsSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let reading: Promise<CollectedStats> | undefined;
  // One scrape reads the counters once for every family (the families ask together).
  const scrape = () => (reading ??= sources.stats().finally(() => setImmediate(() => (reading = undefined))));
  for (const family of FAMILIES) registry.registerMetric(new FamilyMetric(family, sources, scrape) as unknown as Metric);
  return registry;
}

/** Serves GET /metrics on the listener; anything else is 404. */
export async function serveMetrics(listener: Extract<Listener, { kind: 'tcp' }>, registry: Registry): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => {
        log.error('metrics scrape failed', { error: err.message });
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`scrape failed: ${err.message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot serve metrics on ${listener.host}:${listener.port}: ${err.message}`)));
    server.listen(listener.port, listener.host, () => resolve());
  });
  log.info('serving metrics', { address: `${listener.host}:${listener.port}`, path: '/metrics' });
  return server;
}
