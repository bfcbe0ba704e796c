/**
 * The real mcrctl's config commands against the real mcrd: check (exit 0, or 2 with the line of each
 * problem), load (the diff table; merge, --replace, --dry-run; a second load changes nothing), show
 * (the running rules in the file's format) and save (written atomically; loading it back is a no-op),
 * with a stream through a loaded rule.
 */
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { parseConfig } from '../../server/config/config-file';
import { useRelay } from '../support/fixture';
import { mcrctlOk, parseTable, runMcrctl } from '../support/mcrctl';
import { NET } from '../support/netns';
import { waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { endpointIn, expectDelivered, runStreams } from '../support/streams';

const WORKERS = 2;

function ruleLine(name: string, n: number): string {
  return `    { name: "${name}", input: { interface: "${NET.relayIn.ifname}", group: "239.7.0.${n}", port: 5000 }, outputs: [{ interface: "${NET.relayOut1.ifname}", address: "239.9.7.${n}", port: 6000 }] },`;
}

function configText(rules: string[]): string {
  return ['{', '  // rules for the mcrctl config test', '  rules: [', ...rules, '  ],', '}', ''].join('\n');
}

describe('e2e: mcrctl config', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: WORKERS });
  let dir: string;

  const ok = (args: string[]) => mcrctlOk(['--socket', relay.mcrd.socketPath, ...args]);
  const run = (args: string[]) => runMcrctl(['--socket', relay.mcrd.socketPath, ...args]);
  function write(name: string, text: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  }

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-config-cli-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('config check: exit 0 for a valid file, 2 with FILE:LINE:COLUMN for each problem', async () => {
    const good = write('good.json5', configText([ruleLine('cam1', 1), ruleLine('cam2', 2)]));
    expect(await ok(['config', 'check', good])).to.equal(`${good}: valid: 2 rules\n`);

    const badLine = ruleLine('cam2', 2).replace('"239.7.0.2"', '"239.7.0.256"');
    const bad = write('bad.json5', configText([ruleLine('cam1', 1), badLine]).replace('rules: [', 'rules: [\n    /* a comment { with braces } */'));
    const result = await run(['config', 'check', bad]);
    expect(result.code, result.stderr).to.equal(2);
    const column = badLine.indexOf('group') + 1;
    expect(result.stderr).to.equal(
      `${bad}:6:${column}: rules[1].input.group: "239.7.0.256" is not an IPv4 address in dotted-quad form (e.g. 239.1.2.3)\n` +
        `mcrctl: ${bad} is not valid (1 problem)\n`,
    );
    expect((await relay.client.listRules()).rules, 'check sends nothing').to.deep.equal([]);
  });

  it('config load: prints the diff, applies it, and a second load changes nothing', async () => {
    const file = write('two.json5', configText([ruleLine('cam1', 1), ruleLine('cam2', 2)]));
    const first = await ok(['config', 'load', file]);
    const rows = parseTable(first);
    expect(rows.map((r) => [r.CHANGE, r.NAME])).to.deep.equal([
      ['added', 'cam1'],
      ['added', 'cam2'],
    ]);
    expect(first).to.match(/Applied: 2 added, 0 changed, 0 removed, 0 unchanged; store generation \d+\./);
    await waitForRuleState(relay.client, 'cam1');
    await waitForWorkersInSync(relay.client, WORKERS);

    const { storeGeneration } = await relay.client.listRules();
    const second = await ok(['config', 'load', file]);
    expect(parseTable(second).map((r) => r.CHANGE)).to.deep.equal(['unchanged', 'unchanged']);
    expect(second).to.include(`No changes: 2 rules already as given (store generation ${storeGeneration}).`);
    expect((await relay.client.listRules()).storeGeneration).to.equal(storeGeneration);

    const input = { address: '239.7.0.1', port: 5000 };
    const output = { address: '239.9.7.1', port: 6000 };
    const result = await runStreams(relay.topology, {
      flows: [{ ...input, count: 300, size: 200, seed: 4 }],
      rate: 1000,
      sinks: { sink1: [endpointIn('sink1', output.address, output.port, 300)] },
    });
    expectDelivered(result, input, 'sink1', output);
  });

  it('config load --replace --dry-run shows the removal without making it; --replace makes it', async () => {
    const one = write('one.json5', configText([ruleLine('cam1', 1)]));
    const { storeGeneration } = await relay.client.listRules();
    const dry = await ok(['config', 'load', '--replace', '--dry-run', one]);
    expect(parseTable(dry).map((r) => [r.CHANGE, r.NAME])).to.deep.equal([
      ['removed', 'cam2'],
      ['unchanged', 'cam1'],
    ]);
    expect(dry).to.include('Dry run: would add 0, change 0 and remove 1; 1 unchanged');
    expect((await relay.client.listRules()).storeGeneration).to.equal(storeGeneration);

    const merged = JSON.parse(await ok(['--json', 'config', 'load', one]));
    expect(merged.removed ?? []).to.deep.equal([]);
    const replaced = JSON.parse(await ok(['--json', 'config', 'load', '--replace', one]));
    expect(replaced.removed.map((r: { name: string }) => r.name)).to.deep.equal(['cam2']);
    expect((await relay.client.listRules()).rules.map((r) => r.name)).to.deep.equal(['cam1']);
  });

  it('config show prints the running rules as a config file; config save writes it; loading it back changes nothing', async () => {
    await ok(['config', 'load', write('two.json5', configText([ruleLine('cam1', 1), ruleLine('cam3', 3)]))]);
    const shown = await ok(['config', 'show']);
    const { rules, storeGeneration } = await relay.client.listRules();
    expect(shown).to.match(new RegExp(`^// mcr rules from unix:${relay.mcrd.socketPath}, store generation ${storeGeneration}, `));
    expect(parseConfig(shown, 'show').rules!.map((r) => r.name)).to.deep.equal(rules.map((r) => r.name));

    const saved = path.join(dir, 'saved.json5');
    expect(await ok(['config', 'save', saved])).to.equal(`Saved 2 rules to ${saved}.\n`);
    expect(fs.readFileSync(saved, 'utf8').split('\n').slice(1).join('\n')).to.equal(shown.split('\n').slice(1).join('\n'));
    const check = await ok(['config', 'check', saved]);
    expect(check).to.equal(`${saved}: valid: 2 rules\n`);
    const reload = await ok(['config', 'load', '--replace', saved]);
    expect(reload).to.include(`No changes: 2 rules already as given (store generation ${storeGeneration}).`);
  });

  it('config load of a file with a problem exits 2 and sends nothing', async () => {
    const { storeGeneration } = await relay.client.listRules();
    const text = '{ rules: [ { name: "x", input: { interface: "in0", group: "239.7.0.9", port: 5000 }, outputs: [] } ] }';
    const bad = write('bad.json5', text);
    const result = await run(['config', 'load', bad]);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include(`${bad}:1:${text.indexOf('outputs') + 1}: rules[0].outputs: at least one output is required`);
    expect(result.stderr).to.include('nothing was sent');
    expect((await relay.client.listRules()).storeGeneration).to.equal(storeGeneration);
  });
});
