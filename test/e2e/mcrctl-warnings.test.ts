/**
 * Where users err, through the real mcrctl and mcrd: a rule naming an interface that does not exist
 * is accepted (it waits) with a warning and the closest names mcrd sees; `config check` and
 * `config load --dry-run` warn the same way, at the file's lines, against mcrd's interfaces (those of
 * its namespace, not of the one mcrctl runs in), and report every problem of a file in one run;
 * `rule update --add-out/--del-out` edit one output, refusing what cannot be; and a rule changed on
 * an mcrd whose --config file has the rules is said to be undone by the next reload, which it is.
 */
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { RuleState } from '../../gen/mcr/v1/rules';
import { useRelay } from '../support/fixture';
import { McrClient } from '../support/grpc';
import { Mcrd } from '../support/mcrd';
import { McrctlOptions, runMcrctl } from '../support/mcrctl';
import { NET } from '../support/netns';
import { waitFor } from '../support/poll';
import { waitForRuleState } from '../support/rules';

const IN = NET.relayIn.ifname; // in0, in the relay's namespace only
const OUT1 = NET.relayOut1.ifname;
const OUT2 = NET.relayOut2.ifname;

describe('e2e: mcrctl warnings and output edits', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 1 });
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-warnings-e2e-'));
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const mcrctl = (args: string[], socket = relay.mcrd.socketPath, options: McrctlOptions = {}) => runMcrctl(['--socket', socket, ...args], options);

  function write(name: string, text: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  }

  it('rule add with a mistyped input interface is accepted, waits, and warns with the closest interface of mcrd', async function () {
    const result = await mcrctl(['rule', 'add', '--name', 'typo', '--in', 'in1', '239.62.0.1:5000', '--out', OUT1, '239.9.62.1:6000', '--out', 'out3', '239.9.62.2:6000']);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).to.equal(
      'warning: input.interface: mcrd sees no interface "in1" (did you mean "in0"?): the rule waits until it appears\n' +
        'warning: outputs[1].interface: mcrd sees no interface "out3" (did you mean "out1" or "out2"?): this output waits until it appears\n',
    );
    await waitForRuleState(relay.client, 'typo', RuleState.RULE_STATE_WAITING_FOR_INTERFACE);
    const clean = await mcrctl(['rule', 'add', '--name', 'clean', '--in', IN, '239.62.0.2:5000', '--out', OUT1, '239.9.62.1:6000']);
    expect({ code: clean.code, stderr: clean.stderr }).to.deep.equal({ code: 0, stderr: '' });
  });

  it('rule update --add-out and --del-out change one output each, keeping the others; impossible edits exit 1 and change nothing', async function () {
    const added = await mcrctl(['rule', 'update', 'clean', '--add-out', OUT2, '239.9.62.3:6000', '--ttl', '7']);
    expect({ code: added.code, stderr: added.stderr }).to.deep.equal({ code: 0, stderr: '' });
    let rule = await relay.client.getRule('clean');
    expect(rule.outputs.map((o) => `${o.interface} ${o.address}:${o.port} ttl ${o.ttl ?? '-'}`)).to.deep.equal([
      `${OUT1} 239.9.62.1:6000 ttl -`,
      `${OUT2} 239.9.62.3:6000 ttl 7`,
    ]);
    const removed = await mcrctl(['rule', 'update', 'clean', '--del-out', OUT1, '239.9.62.1:6000']);
    expect(removed.code, removed.stderr).to.equal(0);
    rule = await relay.client.getRule('clean');
    expect(rule.outputs.map((o) => o.interface)).to.deep.equal([OUT2]);
    await waitForRuleState(relay.client, 'clean');

    const generation = rule.generation;
    const refusals = [
      [['--del-out', OUT1, '239.9.62.1:6000'], `--del-out ${OUT1} 239.9.62.1:6000: rule ${rule.id} (clean) has no such output (it has: ${OUT2} 239.9.62.3:6000)`],
      [['--add-out', OUT2, '239.9.62.3:6000'], `--add-out ${OUT2} 239.9.62.3:6000: rule ${rule.id} (clean) has this output already (outputs[0])`],
      [['--del-out', OUT2, '239.9.62.3:6000'], `--del-out would remove every output of rule ${rule.id} (clean), and a rule needs one: add one with --add-out, or delete the rule`],
    ] as const;
    for (const [args, message] of refusals) {
      const result = await mcrctl(['rule', 'update', 'clean', ...args]);
      expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).to.deep.equal({ code: 1, stdout: '', stderr: `mcrctl: ${message}\n` });
    }
    expect((await relay.client.getRule('clean')).generation).to.equal(generation);
  });

  it('config check warns against mcrd\'s interfaces, not those of the namespace mcrctl runs in, at each line', async function () {
    expect(fs.existsSync(`/sys/class/net/${IN}`), `${IN} is not in mcrctl's namespace`).to.equal(false);
    const typo = `    { name: "b", input: { interface: "${IN}", group: "239.62.1.2", port: 5000 }, outputs: [{ interface: "otu1", address: "239.9.62.9", port: 6000 }] },`;
    const file = write(
      'warn.json5',
      [
        '{',
        '  rules: [',
        `    { name: "a", input: { interface: "${IN}", group: "239.62.1.1", port: 5000 }, outputs: [{ interface: "${OUT1}", address: "239.9.62.9", port: 6000 }] },`,
        typo,
        '  ],',
        '}',
        '',
      ].join('\n'),
    );
    const check = await mcrctl(['config', 'check', file]);
    expect(check.code, check.stderr).to.equal(0);
    expect(check.stdout).to.equal(`${file}: valid: 2 rules\n`);
    const warning = `${file}:4:${typo.indexOf('interface: "otu1"') + 1}: warning: rules[1].outputs[0].interface: mcrd sees no interface "otu1" (did you mean "out1"?): this output waits until it appears\n`;
    expect(check.stderr).to.equal(warning);

    const dryRun = await mcrctl(['config', 'load', '--dry-run', file]);
    expect(dryRun.code, dryRun.stderr).to.equal(0);
    expect(dryRun.stdout).to.include('Dry run: would add 2');
    expect(dryRun.stderr).to.equal(warning);
  });

  it('config check reports every problem of a file in one run, exit 2', async function () {
    const file = write(
      'broken.json5',
      [
        '{',
        '  rules: [',
        `    { name: "x", input: { interface: "${IN}", group: "10.0.0.1", port: 0 }, outputs: [{ interface: "${OUT1}", address: "0.0.0.0", port: 6000, ttl: 0 }] },`,
        `    { name: "x", input: { interface: "${IN}", group: "239.62.2.1", port: 5000 }, outputs: [{ interface: "${OUT1}", address: "239.9.62.9", port: 6000 }], colour: 1 },`,
        '  ],',
        '}',
        '',
      ].join('\n'),
    );
    const check = await mcrctl(['config', 'check', file]);
    expect(check.code).to.equal(2);
    expect(check.stderr.split('\n').map((line) => line.replace(/^\S+?:\d+:\d+: /, ''))).to.deep.equal([
      'rules[0].input.group: 10.0.0.1 is not a multicast group (224.0.0.0/4)',
      'rules[0].input.port: must be 1-65535, got 0',
      'rules[0].outputs[0].address: 0.0.0.0 cannot be a destination',
      'rules[0].outputs[0].ttl: must be 1-255 or "decrement", got 0',
      'rules[1].name: "x" is also the name of rules[0]',
      'rules[1].colour: unknown key (expected one of: id, name, input, outputs)',
      `mcrctl: ${file} is not valid (6 problems)`,
      '',
    ]);
  });

  it('a rule changed on an mcrd whose --config file has the rules is said to be undone by the next reload, and is', async function () {
    const file = write('managed.json5', '{ rules: [] }\n');
    const managed = new Mcrd(relay.topology.ns.relay, { workers: 1, extraArgs: ['--config', file] });
    let client: McrClient | undefined;
    try {
      await managed.start();
      client = new McrClient(managed.socketPath);
      const add = await mcrctl(['rule', 'add', '--name', 'manual', '--in', IN, '239.62.3.1:5000', '--out', OUT1, '239.9.62.9:6000'], managed.socketPath);
      expect(add.code, add.stderr).to.equal(0);
      expect(add.stderr).to.equal(
        'warning: mcrd runs with --config FILE and FILE has "rules": they are applied again, as FILE has them, ' +
          'on its next reload (SIGHUP) or restart, which will undo this change: make it in FILE too\n',
      );
      const dryRun = await mcrctl(['rule', 'update', 'manual', '--ttl', '3', '--dry-run'], managed.socketPath);
      expect({ code: dryRun.code, stderr: dryRun.stderr }, 'a dry run changes nothing to undo').to.deep.equal({ code: 0, stderr: '' });

      managed.signal('SIGHUP');
      await waitFor('the reload to remove the rule', async () => (await client!.listRules()).rules.length, (n) => n === 0, 10_000);

      // A file without "rules" leaves them to the API: no warning once mcrd has read it so.
      fs.writeFileSync(file, '{ logLevel: "debug" }\n');
      const mark = managed.logs().length;
      managed.signal('SIGHUP');
      await waitFor('the reload', async () => managed.logs().slice(mark), (text) => /has no rules: the rules are left as they are/.test(text), 10_000);
      const again = await mcrctl(['rule', 'add', '--name', 'manual', '--in', IN, '239.62.3.1:5000', '--out', OUT1, '239.9.62.9:6000'], managed.socketPath);
      expect({ code: again.code, stderr: again.stderr }).to.deep.equal({ code: 0, stderr: '' });
    } finally {
      client?.close();
      await managed.dispose();
    }
  });
});
