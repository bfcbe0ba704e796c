import { expect } from 'chai';

import { RuleState } from '../../gen/mcr/v1/rules';
import { EventKind } from '../../gen/mcr/v1/system';
import { main } from '../../clients/mcrctl/main';
import { CliIo } from '../../clients/mcrctl/io';
import { Invocation } from '../../clients/mcrctl/invocation';
import { parseCommandLine } from '../../clients/mcrctl/program';

/** An io that records what is written, with the given environment. */
function recorder(env: NodeJS.ProcessEnv = {}): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    env,
    stdout: (text: string) => void (io.out += text),
    stderr: (text: string) => void (io.err += text),
  };
  return io;
}

/** Arguments as one string split at spaces, or as an array (to pass an empty argument). */
function argv(args: string | string[]): string[] {
  return typeof args === 'string' ? args.split(' ').filter(Boolean) : args;
}

function parse(args: string | string[], env: NodeJS.ProcessEnv = {}): Invocation {
  const io = recorder(env);
  const result = parseCommandLine(argv(args), io);
  if (!('invocation' in result)) throw new Error(`expected "${args}" to parse, got exit ${result.exitCode}: ${io.err}`);
  return result.invocation;
}

const ADD = 'rule add --in eth0 239.0.0.1:5000 --out eth1 239.9.9.9:6000';

describe('mcrctl command line', () => {
  describe('valid forms', () => {
    it('connects to the default socket with a 5 s deadline', () => {
      expect(parse('rule list')).to.deep.equal({
        connection: { socket: '/run/mcr/mcr.sock', timeoutMs: 5000 },
        json: false,
        command: { name: 'rule list' },
      });
    });

    it('takes the socket from MCR_SOCKET, and --socket over it', () => {
      expect(parse('rule list', { MCR_SOCKET: '/tmp/env.sock' }).connection.socket).to.equal('/tmp/env.sock');
      expect(parse('--socket /tmp/flag.sock rule list', { MCR_SOCKET: '/tmp/env.sock' }).connection.socket).to.equal('/tmp/flag.sock');
    });

    it('takes --address, --json and --timeout before or after the command', () => {
      expect(parse('--address localhost:50051 --json workers')).to.deep.equal({
        connection: { address: 'localhost:50051', timeoutMs: 5000 },
        json: true,
        command: { name: 'workers' },
      });
      const late = parse('rule get cam1 --json --timeout 250');
      expect(late.json).to.equal(true);
      expect(late.connection.timeoutMs).to.equal(250);
      expect(late.command).to.deep.equal({ name: 'rule get', rule: 'cam1' });
    });

    it('parses rule add with every option', () => {
      const command = parse(`${ADD} --out wg0 10.20.0.7:6000 --name cam1 --id r-custom --source 10.10.1.100 --vlan 100 --from 10.20.0.1 --ttl 8 --dscp 46 --dry-run`).command;
      expect(command).to.deep.equal({
        name: 'rule add',
        dryRun: true,
        edit: {
          id: 'r-custom',
          name: 'cam1',
          protocol: undefined,
          input: { interface: 'eth0', address: '239.0.0.1', port: 5000 },
          source: '10.10.1.100',
          vlan: 100,
          outputs: [
            { interface: 'eth1', address: '239.9.9.9', port: 6000 },
            { interface: 'wg0', address: '10.20.0.7', port: 6000 },
          ],
          from: '10.20.0.1',
          ttl: 8,
          dscp: 46,
          preserveTos: undefined,
          oversize: undefined,
        },
      });
    });

    it('parses --ttl decrement and --[no-]preserve-tos on rule add and update', () => {
      const add = parse(`${ADD} --ttl decrement --no-preserve-tos`).command;
      expect(add.name === 'rule add' && [add.edit.ttl, add.edit.preserveTos]).to.deep.equal(['decrement', false]);
      const keep = parse(`${ADD} --preserve-tos --dscp 46`).command;
      expect(keep.name === 'rule add' && [keep.edit.ttl, keep.edit.dscp, keep.edit.preserveTos]).to.deep.equal([undefined, 46, true]);
      const update = parse('rule update cam1 --no-preserve-tos').command;
      expect(update.name === 'rule update' && update.edit).to.deep.include({ ttl: undefined, preserveTos: false });
      const decrement = parse('rule update cam1 --add-out eth2 239.9.9.10:6000 --ttl decrement --preserve-tos').command;
      expect(decrement.name === 'rule update' && decrement.edit).to.deep.include({ ttl: 'decrement', preserveTos: true });
      // The last of --preserve-tos and --no-preserve-tos counts, as for any commander option.
      const last = parse(`${ADD} --no-preserve-tos --preserve-tos`).command;
      expect(last.name === 'rule add' && last.edit.preserveTos).to.equal(true);
    });

    it('parses --oversize fragment|drop on rule add and update', () => {
      const add = parse(`${ADD} --oversize drop --ttl 8`).command;
      expect(add.name === 'rule add' && [add.edit.oversize, add.edit.ttl]).to.deep.equal(['drop', 8]);
      const update = parse('rule update cam1 --oversize fragment').command;
      expect(update.name === 'rule update' && update.edit).to.deep.include({ oversize: 'fragment', outputs: undefined });
      const added = parse('rule update cam1 --add-out eth2 239.9.9.10:6000 --oversize drop').command;
      expect(added.name === 'rule update' && added.edit).to.deep.include({ oversize: 'drop' });
    });

    it('parses --from on rule add and update, "" clearing it, apart from --source', () => {
      const add = parse(`${ADD} --from 10.30.0.1 --source 10.10.1.100`).command;
      expect(add.name === 'rule add' && [add.edit.from, add.edit.source]).to.deep.equal(['10.30.0.1', '10.10.1.100']);
      const update = parse('rule update cam1 --from 10.30.0.2').command;
      expect(update.name === 'rule update' && update.edit).to.deep.include({ from: '10.30.0.2', source: undefined, outputs: undefined });
      const added = parse('rule update cam1 --add-out wg0 10.20.0.7:6000 --from 10.20.0.1').command;
      expect(added.name === 'rule update' && added.edit).to.deep.include({ from: '10.20.0.1' });
      const clear = parse(['rule', 'update', 'cam1', '--from', '']).command;
      expect(clear.name === 'rule update' && clear.edit.from).to.equal('');
    });

    it('parses --vlan 1-4094 on rule add and update, and --no-vlan on update', () => {
      const add = parse(`${ADD} --vlan 1`).command;
      expect(add.name === 'rule add' && add.edit.vlan).to.equal(1);
      const update = parse('rule update cam1 --vlan 4094').command;
      expect(update.name === 'rule update' && update.edit).to.deep.include({ vlan: 4094, input: undefined, source: undefined });
      const clear = parse('rule update cam1 --no-vlan').command;
      expect(clear.name === 'rule update' && clear.edit.vlan).to.equal(false);
      // The last of --vlan and --no-vlan counts.
      const last = parse('rule update cam1 --no-vlan --vlan 7').command;
      expect(last.name === 'rule update' && last.edit.vlan).to.equal(7);
      const moved = parse('rule update cam1 --in eth0.100 239.0.0.1:5000 --no-vlan').command;
      expect(moved.name === 'rule update' && [moved.edit.input?.interface, moved.edit.vlan]).to.deep.equal(['eth0.100', false]);
    });

    it('parses --protocol esp on rule add: --in and --out without ports (port 0)', () => {
      const add = parse('rule add --protocol esp --in eth0 239.1.1.1 --out eth1 10.0.0.9 --out eth2 239.9.9.9 --vlan 100 --ttl decrement').command;
      expect(add.name === 'rule add' && add.edit).to.deep.include({
        protocol: 'esp',
        input: { interface: 'eth0', address: '239.1.1.1', port: 0 },
        outputs: [
          { interface: 'eth1', address: '10.0.0.9', port: 0 },
          { interface: 'eth2', address: '239.9.9.9', port: 0 },
        ],
        vlan: 100,
        ttl: 'decrement',
      });
      // Anywhere on the line, as any option: the addresses are read once every option is.
      const late = parse('rule add --in eth0 239.1.1.1 --out eth1 10.0.0.9 --protocol esp').command;
      expect(late.name === 'rule add' && late.edit.input).to.deep.equal({ interface: 'eth0', address: '239.1.1.1', port: 0 });
      const udp = parse(`${ADD} --protocol udp`).command;
      expect(udp.name === 'rule add' && [udp.edit.protocol, udp.edit.input.port]).to.deep.equal(['udp', 5000]);
    });

    it('parses --protocol on rule update: with --in and --out, or with --in, --out, --add-out or --del-out alone', () => {
      const switched = parse('rule update cam1 --protocol esp --in eth0 239.1.1.1 --out eth1 10.0.0.9').command;
      expect(switched.name === 'rule update' && switched.edit).to.deep.include({
        protocol: 'esp',
        input: { interface: 'eth0', address: '239.1.1.1', port: 0 },
        outputs: [{ interface: 'eth1', address: '10.0.0.9', port: 0 }],
      });
      const edited = parse('rule update cam1 --protocol esp --add-out eth2 10.0.0.8 --del-out eth1 10.0.0.9').command;
      expect(edited.name === 'rule update' && edited.edit).to.deep.include({
        protocol: 'esp',
        addOutputs: [{ interface: 'eth2', address: '10.0.0.8', port: 0 }],
        removeOutputs: [{ interface: 'eth1', address: '10.0.0.9', port: 0 }],
      });
      const back = parse('rule update cam1 --protocol udp --in eth0 239.1.1.1:5000 --out eth1 10.0.0.9:6000').command;
      expect(back.name === 'rule update' && [back.edit.protocol, back.edit.input?.port, back.edit.outputs?.[0].port]).to.deep.equal(['udp', 5000, 6000]);
    });

    it('parses rule add with options in any order', () => {
      const command = parse('rule add --ttl 2 --out eth1 239.9.9.9:6000 --in eth0 239.0.0.1:5000').command;
      expect(command).to.deep.include({ name: 'rule add', dryRun: false });
      expect(command.name === 'rule add' && command.edit.ttl).to.equal(2);
    });

    it('parses rule update with only what is given', () => {
      expect(parse('rule update cam1 --out eth2 239.9.9.10:6000 --expect-generation 7').command).to.deep.equal({
        name: 'rule update',
        rule: 'cam1',
        dryRun: false,
        expectGeneration: 7n,
        edit: {
          id: undefined,
          name: undefined,
          protocol: undefined,
          input: undefined,
          source: undefined,
          vlan: undefined,
          outputs: [{ interface: 'eth2', address: '239.9.9.10', port: 6000 }],
          addOutputs: undefined,
          removeOutputs: undefined,
          from: undefined,
          ttl: undefined,
          dscp: undefined,
          preserveTos: undefined,
          oversize: undefined,
        },
      });
      const edited = parse('rule update cam1 --add-out eth2 239.9.9.10:6000 --add-out wg0 10.0.0.7:6000 --del-out eth1 239.9.9.9:6000').command;
      expect(edited.name === 'rule update' && [edited.edit.addOutputs, edited.edit.removeOutputs, edited.edit.outputs]).to.deep.equal([
        [
          { interface: 'eth2', address: '239.9.9.10', port: 6000 },
          { interface: 'wg0', address: '10.0.0.7', port: 6000 },
        ],
        [{ interface: 'eth1', address: '239.9.9.9', port: 6000 }],
        undefined,
      ]);
      const clearSource = parse(['rule', 'update', 'cam1', '--source', '']).command;
      expect(clearSource.name === 'rule update' && clearSource.edit.source).to.equal('');
      const retune = parse('rule update cam1 --ttl 16 --dry-run').command;
      expect(retune).to.deep.include({ name: 'rule update', dryRun: true, expectGeneration: undefined });
      expect(retune.name === 'rule update' && retune.edit.ttl).to.equal(16);
    });

    it('parses delete, stats, workers and version', () => {
      expect(parse('rule delete r-1 --expect-generation 3').command).to.deep.equal({ name: 'rule delete', rule: 'r-1', expectGeneration: 3n });
      expect(parse('rule delete r-1').command).to.deep.equal({ name: 'rule delete', rule: 'r-1', expectGeneration: undefined });
      expect(parse('stats').command).to.deep.equal({ name: 'stats', rule: undefined, inputs: false, watch: undefined });
      expect(parse('stats cam1').command).to.deep.equal({ name: 'stats', rule: 'cam1', inputs: false, watch: undefined });
      expect(parse('version').command).to.deep.equal({ name: 'version' });
    });

    it('parses stats --watch, --interval and --inputs', () => {
      expect(parse('stats --watch').command).to.deep.equal({ name: 'stats', rule: undefined, inputs: false, watch: { intervalMs: 1000, reconnect: false } });
      expect(parse('stats cam1 --watch --interval 250').command).to.deep.equal({ name: 'stats', rule: 'cam1', inputs: false, watch: { intervalMs: 250, reconnect: false } });
      expect(parse('stats --inputs').command).to.deep.equal({ name: 'stats', rule: undefined, inputs: true, watch: undefined });
      expect(parse('--json stats --inputs --watch --interval 60000').command).to.deep.equal({ name: 'stats', rule: undefined, inputs: true, watch: { intervalMs: 60000, reconnect: false } });
      expect(parse('stats --watch --interval 100').command).to.deep.include({ watch: { intervalMs: 100, reconnect: false } });
      expect(parse('stats --watch --reconnect').command).to.deep.include({ watch: { intervalMs: 1000, reconnect: true } });
    });

    it('parses interfaces, and events with --kind words mapped to kinds, each once, in the order given', () => {
      expect(parse('interfaces').command).to.deep.equal({ name: 'interfaces' });
      expect(parse('events').command).to.deep.equal({ name: 'events', kinds: [], reconnect: false });
      expect(parse('events --reconnect').command).to.deep.equal({ name: 'events', kinds: [], reconnect: true });
      const K = EventKind;
      expect(parse('events --kind drift').command).to.deep.equal({ name: 'events', kinds: [K.EVENT_KIND_WORKER_DRIFT], reconnect: false });
      expect(parse('--json events --kind rule-status --kind interface').command).to.deep.equal({
        name: 'events',
        kinds: [K.EVENT_KIND_RULE_STATUS_CHANGED, K.EVENT_KIND_INTERFACE_CHANGED],
        reconnect: false,
      });
      expect(parse('events --kind interface interface-removed rule --kind worker-started worker-exited interface').command).to.deep.equal({
        name: 'events',
        kinds: [K.EVENT_KIND_INTERFACE_CHANGED, K.EVENT_KIND_INTERFACE_REMOVED, K.EVENT_KIND_RULE_CHANGED, K.EVENT_KIND_WORKER_STARTED, K.EVENT_KIND_WORKER_EXITED],
        reconnect: false,
      });
    });

    it('parses log-level get (also without get) and set with or without a facility', () => {
      expect(parse('log-level').command).to.deep.equal({ name: 'log-level get' });
      expect(parse('log-level get').command).to.deep.equal({ name: 'log-level get' });
      expect(parse('log-level set net debug').command).to.deep.equal({ name: 'log-level set', facility: 'net', level: 'debug' });
      expect(parse('log-level set warn').command).to.deep.equal({ name: 'log-level set', facility: '', level: 'warn' });
      // Names and levels are mcrd's to judge: the CLI passes them on.
      expect(parse('log-level set bogus loud').command).to.deep.equal({ name: 'log-level set', facility: 'bogus', level: 'loud' });
    });
  });

  describe('rule filters', () => {
    it('rule list and stats take --in, --group, --state (repeatable) and --name-prefix as one RuleFilter', () => {
      const filter = { inputInterface: 'eth0', groupPrefix: '239.1.0.0/16', states: [RuleState.RULE_STATE_ACTIVE, RuleState.RULE_STATE_INTERFACE_DOWN], namePrefix: 'cam-' };
      const words = '--in eth0 --group 239.1.0.0/16 --state active --state down --state active --name-prefix cam-';
      expect(parse(`rule list ${words}`).command).to.deep.equal({ name: 'rule list', filter });
      expect(parse(`stats ${words} --watch`).command).to.deep.equal({ name: 'stats', rule: undefined, filter, inputs: false, watch: { intervalMs: 1000, reconnect: false } });
      expect(parse('stats --state waiting cam1').command).to.include({ rule: 'cam1' });
      expect(parse('rule list --group 239.1.2.3').command).to.deep.equal({ name: 'rule list', filter: { inputInterface: '', groupPrefix: '239.1.2.3', states: [], namePrefix: '' } });
      // mcrd judges a prefix (host bits, length) and names the field: the CLI passes it on.
      expect(parse('rule list --group 239.1.2.0/16').command).to.have.nested.property('filter.groupPrefix', '239.1.2.0/16');
    });
  });

  describe('invalid forms exit 2 with a message naming the flag, sending nothing', () => {
    // No mcrd listens on this socket: a command line that parsed would exit 3, not 2.
    const env = { MCR_SOCKET: '/nonexistent/mcrctl-test.sock' };
    const cases: Array<[string | string[], string]> = [
      ['rule add --out eth1 239.9.9.9:6000', 'rule add needs --in IF GROUP:PORT'],
      ['rule add --in eth0 239.0.0.1:5000', 'rule add needs at least one --out IF ADDR:PORT'],
      ['rule add --in eth0 --out eth1 239.9.9.9:6000', '--in takes exactly two values, INTERFACE GROUP:PORT, and is given once; got: eth0'],
      ['rule add --in eth0 239.0.0.1 --out eth1 239.9.9.9:6000', '--in eth0 239.0.0.1: expected ADDR:PORT'],
      ['rule add --in eth0 239.0.0.1:5000 --in eth1 239.0.0.2:5000 --out eth1 239.9.9.9:6000', '--in takes exactly two values'],
      [`${ADD} --out wg0`, '--out takes two values, INTERFACE ADDR:PORT'],
      [`${ADD} --out 10.20.0.7:6000 wg0`, '--out 10.20.0.7:6000 wg0: expected INTERFACE ADDR:PORT'],
      [`${ADD} --out wg0 10.20.0.7:0`, '--out wg0 10.20.0.7:0: port "0"'],
      [`${ADD} --out wg0 host:6000`, '--out wg0 host:6000: "host" in "host:6000" is not an IPv4 address'],
      [`${ADD} --ttl x`, "option '--ttl <N|decrement>' argument 'x' is invalid. must be an integer from 1 to 255, or decrement."],
      [`${ADD} --ttl 0`, "option '--ttl <N|decrement>' argument '0' is invalid"],
      [`${ADD} --ttl 256`, "option '--ttl <N|decrement>' argument '256' is invalid"],
      [`${ADD} --ttl Decrement`, "option '--ttl <N|decrement>' argument 'Decrement' is invalid"],
      [`${ADD} --preserve-tos false`, "too many arguments for 'add'"],
      [`${ADD} --oversize fragmnt`, "option '--oversize <fragment|drop>' argument 'fragmnt' is invalid. Allowed choices are fragment, drop."],
      [`${ADD} --oversize Drop`, "option '--oversize <fragment|drop>' argument 'Drop' is invalid"],
      [`${ADD} --oversize`, "option '--oversize <fragment|drop>' argument missing"],
      ['rule update cam1 --oversize 1500', "option '--oversize <fragment|drop>' argument '1500' is invalid"],
      [`${ADD} --dscp 64`, "option '--dscp <N>' argument '64' is invalid. must be an integer from 0 to 63"],
      [`${ADD} --source camera`, '--source: "camera" is not an IPv4 address'],
      [`${ADD} --source 239.1.1.1`, '--source: 239.1.1.1 is not a unicast address (not multicast, 0.0.0.0 or 255.255.255.255)'],
      [`${ADD} --from eth1`, '--from: "eth1" is not an IPv4 address in dotted-quad form (e.g. 10.20.0.1)'],
      [`${ADD} --from 10.30.0.01`, '--from: "10.30.0.01" is not an IPv4 address in dotted-quad form'],
      [`${ADD} --from 10.30.0.1/24`, '--from: "10.30.0.1/24" is not an IPv4 address in dotted-quad form'],
      [`${ADD} --from 239.9.9.9`, '--from: 239.9.9.9 is not a unicast address (not multicast, 0.0.0.0 or 255.255.255.255)'],
      ['rule update cam1 --from 0.0.0.0', '--from: 0.0.0.0 is not a unicast address'],
      ['rule update cam1 --from 255.255.255.255', '--from: 255.255.255.255 is not a unicast address'],
      [`${ADD} --from`, "option '--from <ADDR>' argument missing"],
      [`${ADD} --vlan 0`, "option '--vlan <ID>' argument '0' is invalid. must be an integer from 1 to 4094."],
      [`${ADD} --vlan 4095`, "option '--vlan <ID>' argument '4095' is invalid. must be an integer from 1 to 4094."],
      [`${ADD} --vlan 10.5`, "option '--vlan <ID>' argument '10.5' is invalid"],
      [`${ADD} --vlan 0x64`, "option '--vlan <ID>' argument '0x64' is invalid"],
      [`${ADD} --vlan`, "option '--vlan <ID>' argument missing"],
      [`${ADD} --no-vlan`, "unknown option '--no-vlan'"],
      [`${ADD} --bogus`, "unknown option '--bogus'"],
      ['rule add --in', "option '--in <IF> <GROUP:PORT>' argument missing"],
      ['rule add --in eth0 239.0.0.1 --out eth1 239.9.9.9:6000', '--in eth0 239.0.0.1: expected ADDR:PORT (IPv4 address and UDP port), got "239.0.0.1" (or --protocol esp)'],
      [`${ADD} --protocol esp`, "--in: an ESP rule's group has no port: 239.0.0.1:5000"],
      ['rule add --protocol esp --in eth0 239.0.0.1 --out eth1 239.9.9.9:6000', "--out: an ESP rule's address has no port: 239.9.9.9:6000"],
      ['rule add --protocol esp --in eth0 239.0.0.1 --out 10.0.0.9 eth1', '--out 10.0.0.9 eth1: expected INTERFACE ADDR (the interface comes first)'],
      ['rule add --protocol esp --in eth0 239.0.0.1 --out eth1 camera', '--out eth1 camera: "camera" is not an IPv4 address (an ESP rule\'s addresses have no port)'],
      ['rule add --protocol esp --in eth0 239.0.0.1', 'rule add needs at least one --out IF ADDR\n'],
      [`${ADD} --protocol ah`, "option '--protocol <udp|esp>' argument 'ah' is invalid. Allowed choices are udp, esp."],
      ['rule update cam1 --protocol esp', "rule update: switching a rule's protocol needs --in and --out (every output) with --protocol esp, as its input and outputs lose their ports"],
      ['rule update cam1 --protocol udp --ttl 3', "rule update: switching a rule's protocol needs --in and --out (every output) with --protocol udp, as its input and outputs need ports"],
      ['rule update cam1 --protocol esp --add-out eth2 10.0.0.8:6000', "--add-out: an ESP rule's address has no port: 10.0.0.8:6000"],
      ['rule update cam1 --del-out eth2 10.0.0.8', '--del-out eth2 10.0.0.8: expected ADDR:PORT (IPv4 address and UDP port), got "10.0.0.8" (or --protocol esp)'],
      ['rule update cam1', 'nothing to change: give --name, --in, --source, --[no-]vlan, --out, --add-out, --del-out, --from, --ttl, --dscp, --[no-]preserve-tos or --oversize'],
      ['rule update cam1 --out eth1 239.9.9.9:6000 --del-out eth1 239.9.9.8:6000', '--out replaces every output; --add-out and --del-out edit them: give one or the other'],
      ['rule update cam1 --add-out eth1', '--add-out takes two values, INTERFACE ADDR:PORT, each time it is given'],
      ['rule update cam1 --del-out eth1 239.9.9.9:0', '--del-out eth1 239.9.9.9:0'],
      ['rule update --name x', "missing required argument 'RULE'"],
      ['rule update cam1 --name x --expect-generation -1', "option '--expect-generation <N>' argument '-1' is invalid"],
      ['rule update cam1 --in eth0 239.0.0.1:5000 extra', '--in takes exactly two values'],
      ['rule get', "missing required argument 'RULE'"],
      [['rule', 'get', ''], "command-argument value '' is invalid for argument 'RULE'"],
      ['rule get a b', 'too many arguments'],
      ['rule delete r-1 --expect-generation x', "option '--expect-generation <N>' argument 'x' is invalid"],
      ['--timeout 0 rule list', "option '--timeout <MS>' argument '0' is invalid"],
      ['--address nowhere rule list', "option '--address <HOST:PORT>' argument 'nowhere' is invalid"],
      ['--socket /tmp/a.sock --address localhost:1 rule list', "option '--address <HOST:PORT>' cannot be used with option '--socket <PATH>'"],
      ['stats --interval 500', '--interval applies only with --watch'],
      ['rule list --state bogus', "option '--state <STATE>' argument 'bogus' is invalid. must be one of active, waiting, down, error."],
      ['rule list --in', "option '--in <IF>' argument missing"],
      ['stats --inputs --state active', 'stats --inputs counts per worker input, not per rule: --in, --group, --state and --name-prefix select rules'],
      ['stats --reconnect', '--reconnect applies only with --watch'],
      ['stats --watch --interval 99', "option '--interval <MS>' argument '99' is invalid. must be an integer from 100 to 60000"],
      ['stats --watch --interval 60001', "option '--interval <MS>' argument '60001' is invalid"],
      ['stats --watch --interval 1.5', "option '--interval <MS>' argument '1.5' is invalid"],
      ['stats cam1 --inputs', 'stats --inputs counts per worker input, not per rule: drop "cam1" or --inputs'],
      [['stats', ''], "command-argument value '' is invalid for argument 'RULE'"],
      ['stats a b', 'too many arguments'],
      ['events --kind bogus', '--kind: unknown event kind "bogus": one of interface, interface-removed, rule-status, rule, worker-started, worker-exited, drift'],
      ['events --kind interface INTERFACE_CHANGED', '--kind: unknown event kind "INTERFACE_CHANGED"'],
      ['events --kind', "option '--kind <KIND...>' argument missing"],
      ['events extra', 'too many arguments'],
      ['interfaces eth0', 'too many arguments'],
      ['log-level set', 'log-level set needs a LEVEL'],
      ['log-level set net debug extra', 'too many arguments'],
      ['log-level frob', "too many arguments for 'log-level'"],
      ['rule frob', "unknown command 'frob'"],
      ['wokers', "unknown command 'wokers'"],
      ['rule', 'Usage: mcrctl rule'],
      ['', 'Usage: mcrctl'],
    ];
    for (const [args, fragment] of cases) {
      it(`mcrctl ${argv(args).map((a) => a || "''").join(' ')}`, async () => {
        const io = recorder(env);
        const code = await main(argv(args), io);
        expect(io.err).to.include(fragment);
        expect(code).to.equal(2);
        expect(io.out).to.equal('');
      });
    }

    it('prints the command usage after the error', async () => {
      const io = recorder(env);
      await main(argv(`${ADD} --ttl x`), io);
      expect(io.err).to.include('Usage: mcrctl rule add [--name NAME] [--id ID] --in IF GROUP:PORT');
      expect(io.err).to.include("Run 'mcrctl rule add --help' for details.");
      const events = recorder(env);
      await main(argv('events --kind nope'), events);
      expect(events.err).to.include("Usage: mcrctl events [--kind KIND ...] [--reconnect]\nRun 'mcrctl events --help' for details.");
    });
  });

  it('prints help to stdout and exits 0, with the exit codes', async () => {
    const io = recorder();
    expect(await main(['--help'], io)).to.equal(0);
    expect(io.out).to.include('Exit codes:');
    expect(io.out).to.include('3  mcrd could not be reached');
    const sub = recorder();
    expect(await main(['rule', 'add', '--help'], sub)).to.equal(0);
    expect(sub.out).to.include('--out <IF> <ADDR:PORT>');
  });
});
