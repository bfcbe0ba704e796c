/**
 * The real mcrctl (bin/mcrctl, built dist/) against the real mcrd: a rule's whole life from the
 * command line with traffic following it, the text views and --json, stats, workers and version,
 * and the exit codes for an answer refused by mcrd (1), a bad command line (2) and no mcrd (3).
 */
import { expect } from 'chai';
import path from 'path';

import { useRelay } from '../support/fixture';
import { mcrctlOk, McrctlOptions, parseFields, parseTable, runMcrctl } from '../support/mcrctl';
import { NET } from '../support/netns';
import { waitForRulePackets, waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { Destination, endpointIn, expectDelivered, runStreams } from '../support/streams';
import { Endpoint, receivedStream } from '../support/traffic';

/** An output as `--out IF ADDR:PORT` gives it. */
interface OutputSpec extends Destination {
  interface: string;
}

const WORKERS = 2;
const NAME = 'cam1';
const INPUT = { address: '239.1.1.1', port: 5000 };
const OUT1: OutputSpec = { interface: NET.relayOut1.ifname, address: '239.9.9.9', port: 6000 };
const OUT2: OutputSpec = { interface: NET.relayOut2.ifname, address: '239.9.9.10', port: 6001 };
/** The single output `rule update --out` puts in place of OUT1 and OUT2. */
const NEW_OUT: OutputSpec = { interface: NET.relayOut2.ifname, address: '239.9.9.11', port: 6002 };
const PACKETS = 1000;

const endpointArg = (e: Destination) => `${e.address}:${e.port}`;
const outArgs = (e: OutputSpec) => ['--out', e.interface, endpointArg(e)];

describe('e2e: mcrctl against mcrd', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: WORKERS });
  /** The rule `rule add` created (set by the first test). */
  let ruleId = '';

  const mcrctl = (args: string[], options: McrctlOptions = {}) => runMcrctl(['--socket', relay.mcrd.socketPath, ...args], options);
  const ok = (args: string[]) => mcrctlOk(['--socket', relay.mcrd.socketPath, ...args]);

  /** Sends PACKETS on INPUT; `receivers` are [sink, endpoint, expected] triples. */
  async function stream(receivers: Array<['sink1' | 'sink2', Destination, boolean]>) {
    const sinks: Partial<Record<'sink1' | 'sink2', Endpoint[]>> = {};
    for (const [role, to, expected] of receivers) (sinks[role] ??= []).push(endpointIn(role, to.address, to.port, expected ? PACKETS : undefined));
    return runStreams(relay.topology, { flows: [{ ...INPUT, count: PACKETS, size: 500, seed: 21 }], rate: 1000, sinks, graceAfterSendMs: 2000 });
  }

  it('rule add --name with two outputs: the stream reaches both', async function () {
    const stdout = await ok(['rule', 'add', '--name', NAME, '--in', NET.relayIn.ifname, endpointArg(INPUT), ...outArgs(OUT1), ...outArgs(OUT2)]);
    const created = /^Created rule (\S+) \(cam1\)\./m.exec(stdout);
    expect(created, `rule add output: ${stdout}`).to.not.equal(null);
    ruleId = created![1];
    await waitForRuleState(relay.client, ruleId);
    await waitForWorkersInSync(relay.client, WORKERS);

    const result = await stream([['sink1', OUT1, true], ['sink2', OUT2, true]]);
    expectDelivered(result, INPUT, 'sink1', OUT1);
    expectDelivered(result, INPUT, 'sink2', OUT2);
  });

  it('rule list and rule get show its id, name and active state', async function () {
    const rows = parseTable(await ok(['rule', 'list']));
    const row = rows.find((r) => r.ID === ruleId);
    expect(row, `rule list rows: ${JSON.stringify(rows)}`).to.not.equal(undefined);
    expect(row).to.include({ NAME, STATE: 'active', INPUT: `${NET.relayIn.ifname} ${endpointArg(INPUT)}` });

    for (const ref of [ruleId, NAME]) {
      const fields = parseFields(await ok(['rule', 'get', ref]));
      expect(Object.fromEntries(fields), `rule get ${ref}`).to.include({ ID: ruleId, Name: NAME, State: 'active' });
    }
  });

  it('--json: rule list and rule get parse and carry the rule', async function () {
    const list = JSON.parse(await ok(['--json', 'rule', 'list']));
    const listed = (list.rules ?? []).find((r: { id: string }) => r.id === ruleId);
    expect(listed, `rule list --json: ${JSON.stringify(list)}`).to.not.equal(undefined);
    const got = JSON.parse(await ok(['--json', 'rule', 'get', NAME]));
    for (const rule of [listed, got.rule]) {
      expect(rule).to.include({ id: ruleId, name: NAME });
      expect(rule.input).to.include({ interface: NET.relayIn.ifname, group: INPUT.address, port: INPUT.port });
      expect(rule.outputs.map((o: OutputSpec) => [o.interface, o.address, o.port])).to.deep.equal(
        [OUT1, OUT2].map((o) => [o.interface, o.address, o.port]),
      );
      expect(rule.status?.state).to.equal('RULE_STATE_ACTIVE');
    }
  });

  it('rule update --out replaces the outputs, and the stream follows the new one', async function () {
    const stdout = await ok(['rule', 'update', NAME, ...outArgs(NEW_OUT)]);
    expect(stdout).to.match(new RegExp(`^Updated rule ${ruleId} \\(cam1\\) to generation 2\\.`, 'm'));
    const rule = await relay.client.getRule(ruleId);
    expect(rule.outputs.map((o) => [o.interface, o.address, o.port])).to.deep.equal([[NEW_OUT.interface, NEW_OUT.address, NEW_OUT.port]]);
    await waitForRuleState(relay.client, ruleId);
    await waitForWorkersInSync(relay.client, WORKERS);

    const result = await stream([['sink2', NEW_OUT, true], ['sink2', OUT2, false], ['sink1', OUT1, false]]);
    expectDelivered(result, INPUT, 'sink2', NEW_OUT);
    expect(receivedStream(result.received.sink2!, OUT2.address, OUT2.port).received, 'packets still reaching the old output on out2').to.equal(0);
    expect(receivedStream(result.received.sink1!, OUT1.address, OUT1.port).received, 'packets still reaching the old output on out1').to.equal(0);
  });

  it('stats shows the packets the rule received and forwarded', async function () {
    await waitForRulePackets(relay.client, ruleId, PACKETS);
    const rows = parseTable(await ok(['stats', NAME]));
    const row = rows.find((r) => r.RULE === ruleId);
    expect(row, `stats rows: ${JSON.stringify(rows)}`).to.not.equal(undefined);
    expect(row!.NAME).to.equal(NAME);
    expect(Number(row!.RECEIVED), 'RECEIVED').to.be.at.least(PACKETS);
    expect(Number(row!.FORWARDED), 'FORWARDED').to.be.at.least(PACKETS);

    const json = JSON.parse(await ok(['--json', 'stats', NAME]));
    expect(json.rules, `stats --json: ${JSON.stringify(json)}`).to.have.length(1);
    expect(Number(json.rules[0].packetsReceived), 'packetsReceived').to.be.at.least(PACKETS);
    expect(Number(json.rules[0].packetsForwarded), 'packetsForwarded').to.be.at.least(PACKETS);
  });

  it('workers lists every worker running as uid 65534', async function () {
    const rows = parseTable(await ok(['workers']));
    expect(rows.map((r) => r.INDEX).sort()).to.deep.equal(['0', '1']);
    for (const row of rows) expect(row, `worker ${row.INDEX}`).to.include({ UID: '65534', STATE: 'running' });
  });

  it('version shows protocol 1 on both sides', async function () {
    const fields = parseFields(await ok(['version']));
    expect(fields.get('Client')).to.match(/^mcrctl \S+ \(protocol 1\)$/);
    expect(fields.get('Server')).to.match(/^mcrd \S+ \(protocol 1\.\d+\)$/);
  });

  it('rule delete removes it', async function () {
    expect(await ok(['rule', 'delete', NAME])).to.include(`Deleted rule ${ruleId} (cam1).`);
    const list = JSON.parse(await ok(['--json', 'rule', 'list']));
    expect(list.rules ?? [], 'rules left').to.deep.equal([]);
    const get = await mcrctl(['rule', 'get', NAME]);
    expect(get.code, `rule get after delete: ${get.stderr}`).to.equal(1);
    expect(get.stderr).to.match(/not found/);
  });

  it('an add mcrd refuses exits 1 naming the field', async function () {
    const result = await mcrctl(['rule', 'add', '--in', NET.relayIn.ifname, '10.1.1.1:5000', ...outArgs(OUT1)]);
    expect(result.code, `stderr: ${result.stderr}`).to.equal(1);
    expect(result.stderr).to.include('invalid argument: rule.input.group');
  });

  it('an add mcrd refuses for several reasons prints every violation, one a line', async function () {
    const result = await mcrctl(['rule', 'add', '--in', NET.relayIn.ifname, '10.1.1.1:5000', '--out', OUT1.interface, '0.0.0.0:6000']);
    expect(result.code, `stderr: ${result.stderr}`).to.equal(1);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).to.match(/^mcrctl: invalid argument: rule\.input\.group: /);
    expect(lines.slice(1)).to.deep.equal(['  rule.outputs[0].address: 0.0.0.0 cannot be a destination']);
  });

  it('an add with port 0 is refused by mcrctl itself: exit 2 naming the flag, nothing sent', async function () {
    const result = await mcrctl(['rule', 'add', '--in', NET.relayIn.ifname, endpointArg(INPUT), '--out', OUT1.interface, `${OUT1.address}:0`]);
    expect(result.code, `stderr: ${result.stderr}`).to.equal(2);
    expect(result.stderr).to.include(`--out ${OUT1.interface} ${OUT1.address}:0: port "0"`);
    expect((await relay.client.listRules()).rules, 'rules after the refused add').to.deep.equal([]);
  });

  it('without mcrd at the socket path it exits 3', async function () {
    const missing = path.join(relay.mcrd.dir, 'no-such.sock');
    const result = await runMcrctl(['--socket', missing, 'version']);
    expect(result.code, `stderr: ${result.stderr}`).to.equal(3);
    expect(result.stderr).to.include(`cannot reach mcrd at unix:${missing}`);
  });

  it('MCR_SOCKET chooses the socket when --socket is not given', async function () {
    const version = await runMcrctl(['version'], { env: { MCR_SOCKET: relay.mcrd.socketPath } });
    expect(version.code, `stderr: ${version.stderr}`).to.equal(0);
    expect(parseFields(version.stdout).get('Server')).to.match(/^mcrd /);

    const missing = path.join(relay.mcrd.dir, 'elsewhere.sock');
    const unreachable = await runMcrctl(['version'], { env: { MCR_SOCKET: missing } });
    expect(unreachable.code, `stderr: ${unreachable.stderr}`).to.equal(3);
    expect(unreachable.stderr).to.include(`unix:${missing}`);
  });
});
