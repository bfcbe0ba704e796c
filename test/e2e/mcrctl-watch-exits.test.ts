/**
 * The watching commands when the real mcrd goes away under them: `mcrctl stats --watch`, `events`
 * and `trace RULE` each exit 1 with "mcrctl: mcrd shut down" when mcrd stops (SIGTERM), after what
 * they printed; with --reconnect, `stats --watch` and `events` note the loss, wait for the restarted
 * mcrd, note the reconnection, go on printing, and exit 0 on Ctrl-C.
 */
import { expect } from 'chai';

import { TraceState } from '../../gen/mcr/v1/trace';
import { useRelay } from '../support/fixture';
import { McrctlProcess, McrctlResult, startMcrctl } from '../support/mcrctl';
import { NET } from '../support/netns';
import { waitFor } from '../support/poll';

const SHUT_DOWN = 'mcrctl: mcrd shut down\n';

describe('e2e: mcrctl watching commands when mcrd goes away', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 1 });
  const running: McrctlProcess[] = [];

  /** Starts `mcrctl --socket SOCKET ARGS`; each is ended (SIGKILL) after its test if still running. */
  const mcrctl = (args: string[]): McrctlProcess => {
    const run = startMcrctl(['--socket', relay.mcrd.socketPath, ...args], { timeoutMs: 60_000 });
    running.push(run);
    return run;
  };

  /** Lines of stdout so far. */
  const lines = (run: McrctlProcess) => run.stdout().split('\n').length - 1;

  afterEach(async function () {
    this.timeout(60_000);
    for (const run of running.splice(0)) {
      run.kill('SIGKILL');
      await run.result.catch(() => undefined);
    }
    if (!relay.mcrd.running) await relay.mcrd.start();
    relay.reconnect();
  });

  let probes = 0;
  /**
   * Creates a rule every 500 ms until `run` (`mcrctl events --kind rule`) prints the event of one:
   * its stream is open then (events are not replayed, so one created before would not show).
   */
  async function untilEventsFlow(run: McrctlProcess): Promise<void> {
    await waitFor(
      'a rule event printed',
      async () => {
        const n = ++probes;
        await relay.client.createRule({
          name: `probe-${n}`,
          input: { interface: NET.relayIn.ifname, group: `239.61.1.${n}`, port: 5000 },
          outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.61.1', port: 6000 }],
        });
        return run.stdout();
      },
      (out) => /rule r-[0-9a-f]{12} \(probe-\d+\) created/.test(out),
      10_000,
      500,
    );
  }

  /** Stops mcrd (SIGTERM) and returns how `run` ended. */
  async function stopMcrdUnder(run: McrctlProcess): Promise<McrctlResult> {
    const stopped = await relay.mcrd.stop();
    expect(stopped, 'mcrd stopped by SIGTERM').to.deep.include({ code: 0, killed: false });
    return run.result;
  }

  it('stats --watch exits 1 with "mcrd shut down" after the updates it printed', async function () {
    const run = mcrctl(['--json', 'stats', '--watch', '--interval', '200']);
    await waitFor('2 updates', async () => lines(run), (n) => n >= 2, 10_000);
    const result = await stopMcrdUnder(run);
    expect({ code: result.code, signal: result.signal, stderr: result.stderr }).to.deep.equal({ code: 1, signal: null, stderr: SHUT_DOWN });
    for (const line of result.stdout.trimEnd().split('\n')) expect(JSON.parse(line)).to.have.property('intervalMs', 200);
  });

  it('stats --inputs --watch (polled) exits 1 with "mcrd shut down"', async function () {
    const run = mcrctl(['stats', '--inputs', '--watch', '--interval', '100']);
    await waitFor('2 updates', async () => (run.stdout().match(/^Every 100 ms/gm) ?? []).length, (n) => n >= 2, 10_000);
    const result = await stopMcrdUnder(run);
    expect({ code: result.code, stderr: result.stderr }).to.deep.equal({ code: 1, stderr: SHUT_DOWN });
  });

  it('events exits 1 with "mcrd shut down" after the events it printed', async function () {
    const run = mcrctl(['events', '--kind', 'rule']);
    await untilEventsFlow(run);
    const result = await stopMcrdUnder(run);
    expect({ code: result.code, stderr: result.stderr }).to.deep.equal({ code: 1, stderr: SHUT_DOWN });
  });

  it('trace RULE exits 1 with "mcrd shut down" while its trace runs', async function () {
    const rule = await relay.client.createRule({
      name: 'traced',
      input: { interface: NET.relayIn.ifname, group: '239.61.0.2', port: 5000 },
      outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.61.2', port: 6000 }],
    });
    const run = mcrctl(['trace', 'traced', '--duration', '600']);
    await waitFor(
      'the trace running',
      async () => (await relay.client.listTraces()).find((t) => t.ruleId === rule.id)?.state,
      (state) => state === TraceState.TRACE_STATE_RUNNING,
      10_000,
    );
    await waitFor('the started note', async () => run.stderr(), (err) => err.includes('Ctrl-C stops it.\n'), 5000);
    const result = await stopMcrdUnder(run);
    expect(result.code, result.stderr).to.equal(1);
    expect(result.stderr).to.match(/^Tracing rule r-[0-9a-f]{12} \(traced\): .*\nmcrctl: mcrd shut down\n$/);
  });

  it('stats --watch --reconnect notes the loss, goes on with the restarted mcrd, and exits 0 on Ctrl-C', async function () {
    const run = mcrctl(['--json', 'stats', '--watch', '--interval', '200', '--reconnect']);
    await waitFor('2 updates', async () => lines(run), (n) => n >= 2, 10_000);
    await relay.mcrd.restart();
    const before = lines(run);
    await waitFor('2 updates from the restarted mcrd', async () => lines(run), (n) => n >= before + 2, 20_000);
    run.kill('SIGINT');
    const result = await run.result;
    expect({ code: result.code, signal: result.signal }).to.deep.equal({ code: 0, signal: null });
    expect(result.stderr).to.equal(
      'mcrctl: mcrd shut down; reconnecting until it answers (Ctrl-C stops)\n' + `mcrctl: reconnected to mcrd at unix:${relay.mcrd.socketPath}\n`,
    );
    const collected = result.stdout.trimEnd().split('\n').map((line) => BigInt(JSON.parse(line).collectedUnixNanos));
    expect(collected.every((t, i) => i === 0 || t > collected[i - 1]), 'updates in order, across the restart').to.equal(true);
  });

  it('events --reconnect shows the events of the restarted mcrd', async function () {
    const run = mcrctl(['events', '--kind', 'rule', '--reconnect']);
    await untilEventsFlow(run);
    await relay.mcrd.restart();
    await waitFor('the reconnected note', async () => run.stderr(), (err) => err.includes('mcrctl: reconnected to mcrd'), 20_000);
    const client = relay.reconnect();
    await client.createRule({ name: 'after-restart', input: { interface: NET.relayIn.ifname, group: '239.61.0.3', port: 5000 }, outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.61.3', port: 6000 }] });
    await waitFor('the event of the restarted mcrd', async () => run.stdout(), (out) => /rule r-[0-9a-f]{12} \(after-restart\) created/.test(out), 10_000);
    run.kill('SIGINT');
    const result = await run.result;
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).to.match(/^mcrctl: mcrd shut down; reconnecting until it answers \(Ctrl-C stops\)\nmcrctl: reconnected to mcrd at unix:\S+\n$/);
  });
});
