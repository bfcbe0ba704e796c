/**
 * mcrd --config FILE: it starts with the file's rules (and the file's settings under the flags');
 * SIGHUP after an edit applies the diff, touching only what changed; a broken file on SIGHUP is
 * logged with its line and the rules stay; a broken file at start is refused with its line; the
 * example file of the docs applies to the real mcrd.
 */
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { Rule, RuleState } from '../../gen/mcr/v1/rules';
import { useTopology } from '../support/fixture';
import { McrClient } from '../support/grpc';
import { Mcrd } from '../support/mcrd';
import { NET } from '../support/netns';
import { waitFor } from '../support/poll';
import { waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';

const EXAMPLE = path.join(__dirname, '..', '..', 'docs', 'examples', 'mcr.json5');

/** One rule per line, `name` capturing 239.6.0.<n>:5000 on the relay's input. */
function ruleLine(name: string, n: number, outputs = `{ interface: "${NET.relayOut1.ifname}", address: "239.9.6.${n}", port: 6000 }`): string {
  return `    { name: "${name}", input: { interface: "${NET.relayIn.ifname}", group: "239.6.0.${n}", port: 5000 }, outputs: [${outputs}] },`;
}

/** A config file: a comment, settings the flags override, defaults, and the rules given. */
function configText(rules: string[]): string {
  return [
    '// written by test/e2e/config-file.test.ts',
    '{',
    '  listen: ["unix:/nonexistent/overridden-by-the-flag.sock"],',
    '  workers: 7, // overridden by --workers',
    '  defaults: { ttl: 5 },',
    '  rules: [',
    ...rules,
    '  ],',
    '}',
    '',
  ].join('\n');
}

const byName = (rules: Rule[]) => new Map(rules.map((r) => [r.name, r]));

describe('e2e: mcrd --config', function () {
  this.timeout(120_000);
  const context = useTopology();
  let dir: string;
  let file: string;
  let mcrd: Mcrd | undefined;
  let client: McrClient | undefined;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-config-e2e-'));
    file = path.join(dir, 'mcr.json5');
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && mcrd) {
      process.stderr.write(`\n----- mcrd output (${this.currentTest.fullTitle()}) -----\n${mcrd.logs()}\n----- end of mcrd output -----\n`);
    }
  });

  after(async () => {
    client?.close();
    await mcrd?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Sends SIGHUP and waits until mcrd logged the outcome of the reload after `mark` in its output. */
  async function reload(outcome: RegExp): Promise<string> {
    const mark = mcrd!.logs().length;
    mcrd!.signal('SIGHUP');
    const logs = await waitFor('mcrd to log the reload', async () => mcrd!.logs().slice(mark), (text) => outcome.test(text), 10_000);
    return logs;
  }

  it('starts with the file\'s rules, its defaults filled in, the flags winning over its settings', async () => {
    fs.writeFileSync(file, configText([ruleLine('cam-a', 1), ruleLine('cam-b', 2), ruleLine('cam-c', 3)]));
    mcrd = new Mcrd(context.topology.ns.relay, { workers: 2, extraArgs: ['--config', file] });
    await mcrd.start();
    client = new McrClient(mcrd.socketPath);
    const { rules } = await client.listRules();
    expect([...byName(rules).keys()].sort()).to.deep.equal(['cam-a', 'cam-b', 'cam-c']);
    expect(rules.every((r) => r.outputs[0].ttl === 5), 'defaults.ttl on every output').to.equal(true);
    expect(await client.listWorkers()).to.have.length(2);
    await waitForRuleState(client, 'cam-a');
    await waitForWorkersInSync(client, 2);

    const input = { address: '239.6.0.1', port: 5000 };
    const output = { address: '239.9.6.1', port: 6000 };
    const result = await runStreams(context.topology, {
      flows: [{ ...input, count: 300, size: 200, seed: 3 }],
      rate: 1000,
      sinks: { sink1: [endpointIn('sink1', output.address, output.port, 300)] },
    });
    expectDelivered(result, input, 'sink1', output);
  });

  it('SIGHUP after an edit applies the diff: only the rules that differ are touched', async () => {
    const before = await client!.listRules();
    const old = byName(before.rules);
    const secondOutput = `{ interface: "${NET.relayOut1.ifname}", address: "239.9.6.2", port: 6000 }, { interface: "${NET.relayOut2.ifname}", address: "239.9.6.2", port: 6000 }`;
    fs.writeFileSync(file, configText([ruleLine('cam-a', 1), ruleLine('cam-b', 2, secondOutput), ruleLine('cam-d', 4)]));
    const logs = await reload(/applied on SIGHUP/);
    expect(logs).to.match(/"added":\["r-[0-9a-f]{12} \(\\"cam-d\\"\)"\]/);
    expect(logs).to.match(/"removed":\["r-[0-9a-f]{12} \(\\"cam-c\\"\)"\]/);
    expect(logs).to.include('"unchanged":1');

    const after = await client!.listRules();
    const now = byName(after.rules);
    expect([...now.keys()].sort()).to.deep.equal(['cam-a', 'cam-b', 'cam-d']);
    expect(after.storeGeneration).to.equal(before.storeGeneration + 1n);
    expect(now.get('cam-a')).to.deep.include({ id: old.get('cam-a')!.id, generation: old.get('cam-a')!.generation, updatedUnixNanos: old.get('cam-a')!.updatedUnixNanos });
    expect(now.get('cam-b')).to.deep.include({ id: old.get('cam-b')!.id, generation: old.get('cam-b')!.generation + 1n });
    expect(now.get('cam-b')!.outputs.map((o) => [o.interface, o.ttl])).to.deep.equal([
      [NET.relayOut1.ifname, 5],
      [NET.relayOut2.ifname, 5],
    ]);
    await waitForRuleState(client!, 'cam-d');

    // The same file again: nothing changes.
    await reload(/applied on SIGHUP: no rule changes/);
    expect((await client!.listRules()).storeGeneration).to.equal(after.storeGeneration);
  });

  it('a broken file on SIGHUP is logged with its line and the rules stay as they are', async () => {
    const before = await client!.listRules();
    // Line 8 of the file (after the comment, "{", three settings and "rules: ["): cam-b's port is 0.
    const broken = ruleLine('cam-b', 2).replace('port: 6000 }', 'port: 0 }');
    fs.writeFileSync(file, configText([ruleLine('cam-a', 1), broken, ruleLine('cam-e', 5)]));
    const column = broken.indexOf('port: 0') + 1;
    const logs = await reload(/not applied/);
    expect(logs).to.include(`${file}:8:${column}: rules[1].outputs[0].port: must be 1-65535, got 0`);
    expect(logs).to.include('the rules are left as they are');

    const after = await client!.listRules();
    expect(after.storeGeneration).to.equal(before.storeGeneration);
    expect(after.rules.map((r) => [r.id, r.generation])).to.deep.equal(before.rules.map((r) => [r.id, r.generation]));
    expect((await client!.getRule('cam-a')).status?.state).to.equal(RuleState.RULE_STATE_ACTIVE);
  });

  it('refuses to start with a broken file, naming the line', async () => {
    const bad = path.join(dir, 'bad.json5');
    fs.writeFileSync(bad, '{\n  rules: [\n    { name: "x", input: { interface: "eth0", group: "239.1.1.1", port: 5000 } },\n  ],\n}\n');
    const refused = new Mcrd(context.topology.ns.relay, { workers: 1, extraArgs: ['--config', bad] });
    try {
      const status = await refused.runUntilExit();
      expect(status.code, refused.logs()).to.equal(2);
      expect(refused.logs()).to.include(`mcrd: ${bad}:3:5: rules[0].outputs: required`);
    } finally {
      await refused.dispose();
    }
  });

  it('applies the example file of the docs (its interfaces do not exist here: the rules wait)', async () => {
    const example = new Mcrd(context.topology.ns.relay, { workers: 1, extraArgs: ['--config', EXAMPLE] });
    try {
      await example.start();
      const exampleClient = new McrClient(example.socketPath);
      try {
        const { rules } = await exampleClient.listRules();
        expect(rules.map((r) => r.name).sort()).to.deep.equal(['', 'audio-1', 'camera-1']);
        await waitFor(
          'every example rule to wait for its interfaces',
          async () => (await exampleClient.listRules()).rules,
          (list) => list.every((r) => r.status?.state === RuleState.RULE_STATE_WAITING_FOR_INTERFACE),
        );
      } finally {
        exampleClient.close();
      }
    } finally {
      await example.dispose();
    }
  });
});
