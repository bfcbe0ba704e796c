/**
 * `mcrctl config check|load|show|save` in process: argv -> main() -> gRPC over a unix socket -> mcrd's
 * own RuleService over a real rule store in a temporary directory (no workers: the forwarder is a
 * stand-in that installs nothing). The real mcrd is driven the same way in test/e2e/config-cli.test.ts.
 */
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { RuleServiceService, RuleState } from '../../gen/mcr/v1/rules';
import { Interface, SystemServiceServer, SystemServiceService } from '../../gen/mcr/v1/system';
import { main } from '../../clients/mcrctl/main';
import { ruleService } from '../../server/api/rule-service';
import { acceptPreEncoded } from '../../server/api/pre-encoded';
import { parseConfig } from '../../server/config/config-file';
import { EventBus } from '../../server/events/bus';
import type { Forwarder } from '../../server/forwarding/forwarder';
import { RuleStore } from '../../server/rules/store';
import { DEFAULT_RULE_LIMITS } from '../../server/rules/validate';

const rule = (name: string, n: number, extra = '') =>
  `    { name: "${name}", input: { interface: "eth0", group: "239.2.0.${n}", port: 5000 }, outputs: [{ interface: "eth1", address: "239.9.0.${n}", port: 6000${extra} }] },`;

const TWO = ['// two cameras', '{', '  defaults: { ttl: 4 },', '  rules: [', rule('cam1', 1), rule('cam2', 2), '  ],', '}', ''].join('\n');

describe('mcrctl config commands', () => {
  let dir: string;
  let socket: string;
  let server: grpc.Server;
  let store: RuleStore;

  async function mcrctl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const result = { code: -1, out: '', err: '' };
    const io = { stdout: (t: string) => void (result.out += t), stderr: (t: string) => void (result.err += t), env: { MCR_SOCKET: socket } };
    result.code = await main(args, io);
    return result;
  }

  function write(name: string, text: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcrctl-config-'));
    socket = path.join(dir, 'mcr.sock');
    store = await RuleStore.open(path.join(dir, 'state'), DEFAULT_RULE_LIMITS);
    const forwarder = {
      sync: async () => undefined,
      syncChanges: async () => undefined,
      status: () => ({ state: RuleState.RULE_STATE_ACTIVE, reason: '', worker: 0, lastPacketUnixNanos: 0n }),
    } as unknown as Forwarder;
    server = new grpc.Server();
    server.addService(acceptPreEncoded(RuleServiceService), ruleService({ store, forwarder, gate: { closing: false }, events: new EventBus() }));
    // mcrd sees eth0 and eth1; eth9 is only named by a rule (missing): it is no interface that exists.
    const interfaces = [Interface.fromPartial({ name: 'eth0', index: 2, exists: true }), Interface.fromPartial({ name: 'eth1', index: 3, exists: true })];
    const system: Pick<SystemServiceServer, 'listInterfaces'> = {
      listInterfaces: (_call, reply) => reply(null, { interfaces: [...interfaces, Interface.fromPartial({ name: 'eth9', exists: false })], nextPageToken: '' }),
    };
    server.addService(SystemServiceService, system as SystemServiceServer);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
  });

  after(() => {
    server.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await store.apply([], { replace: true }, 0n);
  });

  it('check: a valid file is described and exits 0, sending nothing', async () => {
    const file = write('good.json5', TWO);
    const generation = store.generation;
    const { code, out, err } = await mcrctl('config', 'check', file);
    expect({ code, err }).to.deep.equal({ code: 0, err: '' });
    expect(out).to.equal(`${file}: valid: 2 rules, defaults ttl 4\n`);
    expect(store.generation).to.equal(generation);
  });

  it('check: a bad file lists each problem as FILE:LINE:COLUMN and exits 2', async () => {
    const file = write('bad.json5', TWO.replace('port: 6000 }] },\n    { name: "cam2"', 'port: 0 }] },\n    { name: "cam2"').replace('"239.2.0.2"', '"10.0.0.2"'));
    const { code, out, err } = await mcrctl('config', 'check', file);
    expect(code).to.equal(2);
    expect(out).to.equal('');
    expect(err.split('\n')).to.deep.equal([
      `${file}:5:136: rules[0].outputs[0].port: must be 1-65535, got 0`,
      `${file}:6:49: rules[1].input.group: 10.0.0.2 is not a multicast group (224.0.0.0/4)`,
      `mcrctl: ${file} is not valid (2 problems)`,
      '',
    ]);
  });

  it('check: warns at their place about interfaces mcrd does not see, with the closest it does; still valid, exit 0', async () => {
    const file = write('typo.json5', TWO.replace('interface: "eth1"', 'interface: "eht1"').replace('"eth0", group: "239.2.0.2"', '"eth9", group: "239.2.0.2"'));
    const { code, out, err } = await mcrctl('config', 'check', file);
    expect(code).to.equal(0);
    expect(out).to.equal(`${file}: valid: 2 rules, defaults ttl 4\n`);
    expect(err.split('\n')).to.deep.equal([
      `${file}:5:95: warning: rules[0].outputs[0].interface: mcrd sees no interface "eht1" (did you mean "eth1"?): this output waits until it appears`,
      `${file}:6:30: warning: rules[1].input.interface: mcrd sees no interface "eth9" (did you mean "eth0" or "eth1"?): the rule waits until it appears`,
      '',
    ]);
  });

  it('check: without an mcrd, warns against the interfaces of this host, and says so', async () => {
    const file = write('lo.json5', `{ rules: [\n${rule('cam1', 1).replace('"eth0"', '"lo0"').replace('"eth1"', '"lo"')}\n] }`);
    const { code, err } = await mcrctl('--socket', path.join(dir, 'absent.sock'), 'config', 'check', file);
    expect(code).to.equal(0);
    expect(err.split('\n')).to.deep.equal([
      `note: the interfaces below are this host's (/sys/class/net): cannot reach mcrd at unix:${path.join(dir, 'absent.sock')} (no such socket): is mcrd running?`,
      `${file}:2:30: warning: rules[0].input.interface: this host has no interface "lo0" (did you mean "lo"?): the rule waits until it appears`,
      '',
    ]);
  });

  it('check --json: the problems as JSON on stdout, still exit 2', async () => {
    const file = write('bad.json5', '{\n  workers: 0,\n}');
    const { code, out } = await mcrctl('--json', 'config', 'check', file);
    expect(code).to.equal(2);
    expect(JSON.parse(out)).to.deep.equal({ file, valid: false, problems: [{ line: 2, column: 3, field: 'workers', message: 'must be 1-256, got 0' }] });
  });

  it('load: applies the rules and prints the diff; loading again changes nothing', async () => {
    const file = write('two.json5', TWO);
    const first = await mcrctl('config', 'load', file);
    expect(first.code, first.err).to.equal(0);
    expect(first.out).to.match(/^CHANGE +ID +NAME +INPUT +OUTPUTS +GEN\nadded +r-[0-9a-f]{12} +cam1 +eth0 239\.2\.0\.1:5000 +eth1 239\.9\.0\.1:6000 ttl 4 +1\n/);
    expect(first.out).to.include('Applied: 2 added, 0 changed, 0 removed, 0 unchanged; store generation');
    expect(store.find('cam2')?.outputs[0].ttl).to.equal(4);
    const generation = store.generation;

    const second = await mcrctl('config', 'load', file);
    expect(second.code).to.equal(0);
    expect(second.out).to.match(/\nunchanged +r-\S+ +cam1 /);
    expect(second.out).to.include(`No changes: 2 rules already as given (store generation ${generation}).`);
    expect(store.generation).to.equal(generation);
  });

  it('load --dry-run shows what would change and changes nothing', async () => {
    const file = write('two.json5', TWO);
    const { code, out, err } = await mcrctl('config', 'load', '--dry-run', file);
    expect(code).to.equal(0);
    expect(out).to.include('Dry run: would add 2, change 0 and remove 0; 0 unchanged');
    expect(err).to.equal('');
    const typo = await mcrctl('config', 'load', '--dry-run', write('typo.json5', TWO.replace('interface: "eth0"', 'interface: "etho"')));
    expect(typo.err).to.include(`warning: rules[0].input.interface: mcrd sees no interface "etho" (did you mean "eth0" or "eth1"?): the rule waits until it appears\n`);
    expect(store.list()).to.deep.equal([]);
  });

  it('load merges by default and removes what the file lacks with --replace', async () => {
    await mcrctl('config', 'load', write('two.json5', TWO));
    const one = write('one.json5', `{ rules: [\n${rule('cam1', 1, ', ttl: 9')}\n] }`);
    const merged = await mcrctl('--json', 'config', 'load', one);
    expect(JSON.parse(merged.out).changed.map((r: { name: string }) => r.name)).to.deep.equal(['cam1']);
    expect(store.list().map((r) => r.name).sort()).to.deep.equal(['cam1', 'cam2']);
    const replaced = await mcrctl('config', 'load', '--replace', one);
    expect(replaced.out).to.match(/\nremoved +r-\S+ +cam2 /);
    expect(store.list().map((r) => r.name)).to.deep.equal(['cam1']);
  });

  it('load: a refusal naming a rule field is also shown at its line, exit 1, nothing applied', async () => {
    await mcrctl('config', 'load', write('two.json5', TWO));
    // In merge mode cam2 stays, and a new rule may not capture what it captures.
    // (Without the id, "other" would be cam2 renamed: a new name falls back to the derived id.)
    const other = rule('other', 2).replace('{ name:', '{ id: "other-id", name:');
    const clash = write('clash.json5', `{\n  rules: [\n${rule('cam3', 3)}\n${other}\n  ],\n}`);
    const generation = store.generation;
    const { code, err } = await mcrctl('config', 'load', clash);
    expect(code).to.equal(1);
    expect(err, err).to.match(new RegExp(`^${clash}:4:38: rules\\[1\\]\\.input: rule r-\\S+ \\("cam2"\\) already captures eth0 239\\.2\\.0\\.2:5000\\n`));
    expect(err).to.include('mcrctl: already exists: rules[1].input');
    expect(store.generation).to.equal(generation);
    expect(store.find('cam3')).to.equal(undefined);
  });

  it('load: a file with problems or without rules exits 2 and sends nothing', async () => {
    const generation = store.generation;
    const bad = await mcrctl('config', 'load', write('bad.json5', '{ rules: [ { name: "x" } ] }'));
    expect(bad.code).to.equal(2);
    expect(bad.err).to.include('nothing was sent');
    const none = await mcrctl('config', 'load', write('none.json5', '{ workers: 2 }'));
    expect(none.code).to.equal(2);
    expect(none.err).to.include('has no "rules": nothing to load');
    expect(store.generation).to.equal(generation);
  });

  it('show prints the running rules in the file format; save writes them; loading that changes nothing', async () => {
    await mcrctl('config', 'load', write('two.json5', TWO));
    const shown = await mcrctl('config', 'show');
    expect(shown.code).to.equal(0);
    expect(shown.out).to.match(/^\/\/ mcr rules from unix:.*, store generation \d+, /);
    expect(parseConfig(shown.out, 'shown').rules!.map((r) => r.name)).to.deep.equal(store.list().map((r) => r.name));
    const json = await mcrctl('--json', 'config', 'show');
    expect(JSON.parse(json.out).rules).to.have.length(2);

    const saved = path.join(dir, 'saved.json5');
    fs.writeFileSync(saved, 'old content\n', { mode: 0o640 });
    fs.chmodSync(saved, 0o640);
    const save = await mcrctl('config', 'save', saved);
    expect(save.out).to.equal(`Saved 2 rules to ${saved}.\n`);
    expect(fs.statSync(saved).mode & 0o777).to.equal(0o640);
    expect(fs.existsSync(`${saved}.tmp`)).to.equal(false);
    const generation = store.generation;
    const reload = await mcrctl('config', 'load', '--replace', saved);
    expect(reload.out).to.include('No changes: 2 rules already as given');
    expect(store.generation).to.equal(generation);
  });
});
