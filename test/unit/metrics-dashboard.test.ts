/**
 * mcr_rule_info from the real metrics registry (server/stats/metrics.ts) as rules come, are renamed
 * and go; and the shipped Grafana dashboard (deploy/grafana/mcr-dashboard.json), whose every PromQL
 * expression may name only metrics that registry exports.
 */
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';

import { metricsRegistry, MetricsSources, RuleInfo } from '../../server/stats/metrics';
import { promqlMetricNames } from '../support/promql';

const DASHBOARD = path.resolve(__dirname, '..', '..', 'deploy', 'grafana', 'mcr-dashboard.json');

function sources(rules: () => RuleInfo[]): MetricsSources {
  return {
    stats: async () => ({ rules: [], inputs: [], collectedUnixNanos: 0n }),
    ruleStates: () => [],
    workers: () => [],
    rules,
  };
}

interface Family {
  name: string;
  type: string;
  values: { labels: Record<string, string | number>; value: number }[];
}

/** One scrape, as prom-client's JSON (its text output writes "Nan" for an empty event-loop histogram, which the test's strict reader refuses). */
async function scrape(s: MetricsSources): Promise<Map<string, Family>> {
  const families = (await metricsRegistry(s).getMetricsAsJSON()) as unknown as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

/** Every series name the registry can serve: family names, and the suffixed series of histograms and summaries. */
async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const family of (await scrape(sources(() => []))).values()) {
    names.add(family.name);
    if (family.type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(family.name + suffix);
    if (family.type === 'summary') for (const suffix of ['_sum', '_count']) names.add(family.name + suffix);
  }
  return names;
}

interface Panel {
  id?: number;
  title?: string;
  type?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query?: string } }[] };
}

/** Every PromQL expression of the dashboard: panel targets (rows included) and query variables. */
function expressions(dashboard: Dashboard): { where: string; expr: string }[] {
  const found: { where: string; expr: string }[] = [];
  const walk = (panels: Panel[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) found.push({ where: `panel "${panel.title}"`, expr: target.expr ?? '' });
      walk(panel.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
    const query = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
    found.push({ where: `variable $${variable.name}`, expr: query });
  }
  return found;
}

describe('metrics: mcr_rule_info', () => {
  it('has one series per rule, labelled with its name and input interface, and follows renames and deletions', async () => {
    let rules: RuleInfo[] = [];
    const s = sources(() => rules);
    const info = async () => (await scrape(s)).get('mcr_rule_info');
    const samples = async () => (await info())?.values.map((v) => ({ labels: v.labels, value: v.value }));

    expect((await info())?.type).to.equal('gauge');
    expect(await samples()).to.deep.equal([]);

    rules = [
      { id: 'r-0123456789ab', name: 'camera-1', inputInterface: 'eth0' },
      { id: 'studio', name: '', inputInterface: 'eth1' },
    ];
    expect(await samples()).to.deep.equal([
      { labels: { rule: 'r-0123456789ab', name: 'camera-1', input_interface: 'eth0' }, value: 1 },
      { labels: { rule: 'studio', name: 'studio', input_interface: 'eth1' }, value: 1 },
    ]);

    rules = [{ id: 'r-0123456789ab', name: 'camera-one', inputInterface: 'eth0' }];
    expect(await samples()).to.deep.equal([{ labels: { rule: 'r-0123456789ab', name: 'camera-one', input_interface: 'eth0' }, value: 1 }]);

    rules = [];
    expect(await samples()).to.deep.equal([]);
  });
});

describe('deploy: Grafana dashboard', () => {
  const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard;

  it('the PromQL reader finds metric names and only them', () => {
    expect(promqlMetricNames('sum by (job, instance, rule) (rate(mcr_a_total{instance=~"$instance"}[$__rate_interval])) * on(job, instance, rule) group_left(name) mcr_rule_info{name=~"$rule"}')).to.deep.equal([
      'mcr_a_total',
      'mcr_rule_info',
    ]);
    expect(promqlMetricNames('(time() - (mcr_b{x="a{b}"} > 0)) / 1e9 and on() vector(1) or sum(x_total) without (y)')).to.deep.equal(['mcr_b', 'x_total']);
    expect(promqlMetricNames('label_values(mcr_rule_info{instance=~"$instance"}, name)')).to.deep.equal(['mcr_rule_info']);
    expect(promqlMetricNames('histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m]))) offset 1h')).to.deep.equal(['h_bucket']);
  });

  it('names in its PromQL only metrics mcr exports (read from the real registry)', async () => {
    const exported = await exportedNames();
    expect([...exported], 'the registry serves mcr and process metrics').to.include.members(['mcr_rule_info', 'mcr_worker_up', 'process_cpu_seconds_total']);
    const all = expressions(dashboard);
    expect(all.length).to.be.greaterThan(10);
    const unknown: string[] = [];
    for (const { where, expr } of all) {
      const names = promqlMetricNames(expr);
      expect(names, `${where} names no metric: ${expr}`).to.not.deep.equal([]);
      for (const name of names) if (!exported.has(name)) unknown.push(`${where}: ${name}`);
    }
    expect(unknown, 'metrics the dashboard uses that mcr does not export').to.deep.equal([]);
  });

  it('shows every mcr metric, and names rules by joining mcr_rule_info per mcrd', async () => {
    const used = new Set(expressions(dashboard).flatMap(({ expr }) => promqlMetricNames(expr)));
    const unshown = [...(await exportedNames())].filter((name) => name.startsWith('mcr_') && !used.has(name));
    expect(unshown, 'mcr metrics without a panel').to.deep.equal([]);
    // Rule ids are the same on every host with the same config: the join must keep hosts apart.
    const joins = expressions(dashboard).filter(({ expr }) => expr.includes('group_left'));
    expect(joins.length).to.be.greaterThan(5);
    for (const { where, expr } of joins) expect(expr, where).to.include('* on(job, instance, rule) group_left(name) mcr_rule_info');
  });

  it('is an importable dashboard: unique panel ids, every panel on the grid and on the datasource variable', () => {
    const panels: (Panel & { gridPos?: unknown; datasource?: { uid?: string } })[] = [];
    const walk = (list: Panel[]) => list.forEach((p) => (panels.push(p), walk(p.panels ?? [])));
    walk(dashboard.panels);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size, 'unique ids').to.equal(ids.length);
    for (const panel of panels) {
      expect(panel.gridPos, `${panel.title} gridPos`).to.be.an('object');
      if (panel.type !== 'row') expect(panel.datasource?.uid, `${panel.title} datasource`).to.equal('${datasource}');
    }
    expect(dashboard.templating.list.map((v) => v.name)).to.deep.equal(['datasource', 'instance', 'rule']);
  });
});
