/**
 * Log levels changed at runtime: SetLogLevel on facility "worker" makes the workers log at debug
 * (their lines reach mcrd's log tagged with the worker) and back at info stops it; a supervisor
 * facility changes at once too; GetLogLevels reflects every change; unknown facilities and levels are
 * refused naming the field; `mcrctl log-level` does the same from the command line.
 */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';

import { useRelay } from '../support/fixture';
import { grpcFailure, namesField, statusName } from '../support/grpc';
import { mcrctlOk, parseTable, runMcrctl } from '../support/mcrctl';
import { NET } from '../support/netns';
import { waitFor } from '../support/poll';
import { waitForRuleState, waitForWorkersInSync } from '../support/rules';

const WORKERS = 2;
const FACILITIES = ['supervisor', 'api', 'store', 'workers', 'net', 'worker'];
const allAt = (level: string) => Object.fromEntries(FACILITIES.map((f) => [f, level]));

/** One line of mcrd's log (JSON, as it writes when stderr is not a terminal). */
interface LogEntry {
  level: string;
  message: string;
  facility?: string;
  worker?: number;
  [key: string]: unknown;
}

describe('e2e: log levels at runtime', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: WORKERS, logLevel: 'info' });
  let rules = 0;

  /** Where mcrd's output is now: entriesSince(mark) reads what it wrote after. */
  const mark = () => relay.mcrd.logs().length;
  const entriesSince = (at: number): LogEntry[] =>
    relay.mcrd
      .logs()
      .slice(at)
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogEntry);
  const rulesInstalled = (entries: LogEntry[]) => entries.filter((e) => e.message === 'rules installed');

  /** Creates one more rule and waits until every worker reports the rule set it should have. */
  async function addRule(): Promise<void> {
    rules++;
    const rule = await relay.client.createRule({
      name: `logged-${rules}`,
      input: { interface: NET.relayIn.ifname, group: `239.1.2.${rules}`, port: 5000 },
      outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.9.9', port: 6000 }],
    });
    await waitForRuleState(relay.client, rule.id);
    await waitForWorkersInSync(relay.client, WORKERS);
  }

  /**
   * Makes the api facility log a "request refused" line at debug naming `tag`, and waits for it: all
   * that mcrd logged before is in its output by then.
   */
  async function sentinel(tag: string): Promise<void> {
    const at = mark();
    await relay.client.setLogLevel('api', 'debug');
    await grpcFailure(relay.client.getRule(tag));
    await waitFor(
      `mcrd to log the refused GetRule ${tag} (api at debug)`,
      async () => entriesSince(at).filter((e) => e.facility === 'api' && e.level === 'debug' && JSON.stringify(e).includes(tag)),
      (found) => found.length === 1,
      5000,
    );
    await relay.client.setLogLevel('api', 'info');
  }

  it('starts with every facility at the --log-level given', async function () {
    expect(await relay.client.getLogLevels()).to.deep.equal(allAt('info'));
  });

  it('facility "worker" at debug: a worker logs "rules installed", tagged with the worker', async function () {
    const levels = await relay.client.setLogLevel('worker', 'debug');
    expect(levels, 'SetLogLevel answer').to.deep.equal({ ...allAt('info'), worker: 'debug' });
    expect(await relay.client.getLogLevels(), 'GetLogLevels').to.deep.equal(levels);

    const at = mark();
    await addRule();
    const installed = await waitFor('a worker to log "rules installed" at debug', async () => rulesInstalled(entriesSince(at)), (e) => e.length > 0, 5000);
    for (const entry of installed) {
      expect(entry, JSON.stringify(entry)).to.include({ level: 'debug', facility: 'worker' });
      expect(entry.worker, `the worker index in ${JSON.stringify(entry)}`).to.be.oneOf([...Array(WORKERS).keys()]);
    }
  });

  it('facility "worker" back at info: the workers log no more debug lines', async function () {
    expect(await relay.client.setLogLevel('worker', 'info')).to.deep.equal(allAt('info'));
    const at = mark();
    await addRule();
    await sentinel('sentinel-after-worker-info');
    expect(rulesInstalled(entriesSince(at)), 'debug lines of the workers after going back to info').to.deep.equal([]);
    expect(entriesSince(at).filter((e) => e.facility === 'worker' && e.level === 'debug')).to.deep.equal([]);
  });

  it('a supervisor facility changes at once: api at debug logs refused requests, at info it does not', async function () {
    const at = mark();
    await sentinel('sentinel-api-debug'); // sets api to debug, expects the line, sets api back to info
    expect(await relay.client.getLogLevels()).to.deep.equal(allAt('info'));
    await grpcFailure(relay.client.getRule('quiet-at-info'));
    // Ordering: a later sentinel's line arrives after anything the quiet request would have logged.
    await sentinel('sentinel-after-api-info');
    expect(entriesSince(at).filter((e) => JSON.stringify(e).includes('quiet-at-info')), 'refused request logged at info').to.deep.equal([]);
  });

  it('every facility at once (empty facility) includes the workers', async function () {
    expect(await relay.client.setLogLevel('', 'debug')).to.deep.equal(allAt('debug'));
    const at = mark();
    await addRule();
    await waitFor('a worker to log "rules installed" at debug', async () => rulesInstalled(entriesSince(at)), (e) => e.length > 0, 5000);
    expect(await relay.client.setLogLevel('', 'info')).to.deep.equal(allAt('info'));
  });

  it('refuses an unknown facility or level with INVALID_ARGUMENT naming the field, changing nothing', async function () {
    const facility = await grpcFailure(relay.client.setLogLevel('bogus', 'debug'));
    expect(statusName(facility.code), facility.details).to.equal(statusName(status.INVALID_ARGUMENT));
    expect(namesField(facility.details, 'facility'), facility.details).to.equal(true);
    expect(facility.details).to.include('"bogus"');

    for (const bad of ['loud', '', 'DEBUG']) {
      const level = await grpcFailure(relay.client.setLogLevel('net', bad));
      expect(statusName(level.code), level.details).to.equal(statusName(status.INVALID_ARGUMENT));
      expect(namesField(level.details, 'level'), level.details).to.equal(true);
    }
    expect(await relay.client.getLogLevels()).to.deep.equal(allAt('info'));
  });

  it('mcrctl log-level set net debug changes it; log-level shows it; a bad facility exits 1', async function () {
    const socket = ['--socket', relay.mcrd.socketPath];
    const out = await mcrctlOk([...socket, 'log-level', 'set', 'net', 'debug']);
    expect(out.split('\n')[0]).to.equal('Log level of net set to debug.');
    expect(await relay.client.getLogLevels()).to.deep.equal({ ...allAt('info'), net: 'debug' });

    const rows = parseTable(await mcrctlOk([...socket, 'log-level']));
    expect(Object.fromEntries(rows.map((r) => [r.FACILITY, r.LEVEL]))).to.deep.equal({ ...allAt('info'), net: 'debug' });

    const refused = await runMcrctl([...socket, 'log-level', 'set', 'bogus', 'debug']);
    expect(refused.code, refused.stderr).to.equal(1);
    expect(refused.stdout).to.equal('');
    expect(refused.stderr).to.match(/^mcrctl: invalid argument: facility: unknown facility "bogus"/);

    await mcrctlOk([...socket, 'log-level', 'set', 'info']);
    expect(await relay.client.getLogLevels()).to.deep.equal(allAt('info'));
  });
});
