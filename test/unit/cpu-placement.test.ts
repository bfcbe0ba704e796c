/**
 * Running wherever mcrd is placed: cpulists (--cpus, --interface-cpus, the config file), the choice of
 * each worker's CPU within the CPUs mcrd may use, the placement of an interface's rules on the
 * workers near its NIC, and reading where a data-plane thread really runs from /proc.
 */
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { checkedView } from '../../clients/mcrctl/config-view';
import { Rule } from '../../gen/mcr/v1/rules';
import { ConfigFileError, parseConfig } from '../../server/config/config-file';
import { CpuListError, formatCpuList, parseCpuList } from '../../server/formats/cpu-list';
import { withFileSettings } from '../../server/config/daemon-config';
import { defaultWorkers, parseDaemonArgs, UsageError } from '../../server/config/options';
import { planForwarding } from '../../server/forwarding/plan';
import { RulePlacement, workerFor } from '../../server/rules/placement';
import { chooseCpus, CpuChoiceError } from '../../server/workers/cpu-choice';
import { cpusAllowedList, dataplaneThread, statProcessor } from '../../server/workers/dataplane-thread';

describe('cpulists', () => {
  for (const [text, cpus] of [
    ['0', [0]],
    ['1', [1]],
    ['0-3,6', [0, 1, 2, 3, 6]],
    ['6,0-3', [0, 1, 2, 3, 6]],
    ['2-3,3,1', [1, 2, 3]],
    ['0-10:4', [0, 4, 8]],
    ['07', [7]],
    ['65535', [65535]],
  ] as Array<[string, number[]]>) {
    it(`reads "${text}"`, () => {
      expect(parseCpuList(text)).to.deep.equal(cpus);
    });
  }

  for (const [text, fragment] of [
    ['', 'lists no CPU'],
    [' ', 'lists no CPU'],
    ['a', '"a" in "a" is not a CPU number or range'],
    ['0-', '"0-" in "0-" is not'],
    ['0,,1', '"" in "0,,1" is not'],
    ['1,', '"" in "1," is not'],
    ['-1', '"-1" in "-1" is not'],
    ['0 - 3', 'is not a CPU number or range'],
    ['3-1', 'from the lower CPU to the higher'],
    ['0-4:0', 'stride must be at least 1'],
    ['65536', 'CPU numbers go up to 65535'],
    ['0-99999999999', 'CPU numbers go up to 65535'],
    ['1.5', 'is not a CPU number or range'],
  ] as Array<[string, string]>) {
    it(`refuses "${text}"`, () => {
      expect(() => parseCpuList(text)).to.throw(CpuListError, fragment);
    });
  }

  it('writes the shortest list, and reads back what it writes', () => {
    expect(formatCpuList([6, 0, 1, 2, 3])).to.equal('0-3,6');
    expect(formatCpuList([1])).to.equal('1');
    expect(formatCpuList([0, 2, 4])).to.equal('0,2,4');
    expect(formatCpuList([1, 1, 2])).to.equal('1-2');
    expect(formatCpuList([])).to.equal('');
    const cpus = [0, 1, 2, 5, 7, 8, 9, 63, 64];
    expect(parseCpuList(formatCpuList(cpus))).to.deep.equal(cpus);
  });
});

describe('worker CPU choice', () => {
  it('puts worker i on the i-th CPU mcrd may use, wrapping', () => {
    expect(chooseCpus({ workers: 2, interfaceCpus: {} }, [0, 1]).workerCpus).to.deep.equal([0, 1]);
    expect(chooseCpus({ workers: 3, interfaceCpus: {} }, [1]).workerCpus).to.deep.equal([1, 1, 1]);
    expect(chooseCpus({ workers: 5, interfaceCpus: {} }, [2, 3, 6]).workerCpus).to.deep.equal([2, 3, 6, 2, 3]);
  });

  it('never chooses a CPU outside the allowed set (the old i % CPU count put worker 0 on CPU 0 under taskset -c 1)', () => {
    const { workerCpus } = chooseCpus({ workers: 1, interfaceCpus: {} }, [1]);
    expect(workerCpus).to.deep.equal([1]);
  });

  it('uses --cpus, worker i on cpus[i % cpus.length]', () => {
    expect(chooseCpus({ workers: 4, cpus: [1, 3], interfaceCpus: {} }, [0, 1, 2, 3]).workerCpus).to.deep.equal([1, 3, 1, 3]);
    expect(chooseCpus({ workers: 1, cpus: [3], interfaceCpus: {} }, [0, 1, 2, 3]).workerCpus).to.deep.equal([3]);
  });

  it('refuses --cpus naming a CPU mcrd may not use, naming the CPU and the allowed set', () => {
    expect(() => chooseCpus({ workers: 1, cpus: [0], interfaceCpus: {} }, [1])).to.throw(
      CpuChoiceError,
      /^--cpus 0: CPU 0 is not available to mcrd: the CPUs mcrd may use are 1 \(its CPU affinity/,
    );
    expect(() => chooseCpus({ workers: 2, cpus: [0, 1, 2, 3], interfaceCpus: {} }, [1, 2])).to.throw(CpuChoiceError, /^--cpus 0-3: CPUs 0,3 are not available to mcrd: the CPUs mcrd may use are 1-2 /);
    expect(() => chooseCpus({ workers: 1, cpus: [5], interfaceCpus: {}, cpusName: 'cpus (config /etc/mcr.json5)' }, [0, 1])).to.throw(
      CpuChoiceError,
      /^cpus \(config \/etc\/mcr\.json5\) 5: CPU 5 is not available/,
    );
  });

  it('places an interface on the workers running on its CPUs', () => {
    const choice = chooseCpus({ workers: 4, interfaceCpus: { eth0: [0, 1], eth1: [3] } }, [0, 1, 2, 3]);
    expect(choice.workerCpus).to.deep.equal([0, 1, 2, 3]);
    expect([...choice.interfaceWorkers]).to.deep.equal([
      ['eth0', [0, 1]],
      ['eth1', [3]],
    ]);
    // Several workers on one CPU: all of them.
    expect(chooseCpus({ workers: 4, interfaceCpus: { eth0: [1] } }, [0, 1]).interfaceWorkers.get('eth0')).to.deep.equal([1, 3]);
  });

  it('refuses an interface preference outside the allowed set, or on CPUs no worker runs on, saying what to change', () => {
    expect(() => chooseCpus({ workers: 1, interfaceCpus: { eth0: [0] } }, [1])).to.throw(CpuChoiceError, /^--interface-cpus eth0=0: CPU 0 is not available to mcrd: the CPUs mcrd may use are 1 /);
    expect(() => chooseCpus({ workers: 2, cpus: [0, 1], interfaceCpus: { eth0: [2, 3] } }, [0, 1, 2, 3])).to.throw(
      CpuChoiceError,
      '--interface-cpus eth0=2-3: no worker runs on those CPUs (the 2 workers run on 0-1): add them to --cpus',
    );
    expect(() => chooseCpus({ workers: 1, interfaceCpus: { eth0: [1] } }, [0, 1])).to.throw(
      CpuChoiceError,
      '--interface-cpus eth0=1: no worker runs on that CPU (the 1 worker runs on 0): start more workers (--workers)',
    );
  });
});

describe('rule placement with interface CPUs', () => {
  const pairs = Array.from({ length: 256 }, (_, i) => ({ group: `239.1.${i >> 4}.${i & 15}`, port: 5000 + 2 * i }));

  it('without a preference is workerFor over every worker', () => {
    const placement = new RulePlacement(4);
    for (const { group, port } of pairs) expect(placement.workerOf({ interface: 'eth0', group, port })).to.equal(workerFor(group, port, 4));
  });

  it('puts the rules of a preferring interface on its workers only, spread over them, and leaves the others alone', () => {
    const placement = new RulePlacement(4, new Map([['eth0', [1, 3]]]));
    const used = new Set<number>();
    for (const { group, port } of pairs) {
      const worker = placement.workerOf({ interface: 'eth0', group, port });
      expect([1, 3]).to.include(worker);
      expect(worker).to.equal([1, 3][workerFor(group, port, 2)]);
      used.add(worker);
      expect(placement.workerOf({ interface: 'eth1', group, port })).to.equal(workerFor(group, port, 4));
    }
    expect([...used].sort()).to.deep.equal([1, 3]);
  });

  it('refuses workers that do not exist', () => {
    expect(() => new RulePlacement(2, new Map([['eth0', [2]]]))).to.throw(RangeError);
    expect(() => new RulePlacement(2, new Map([['eth0', []]]))).to.throw(RangeError);
  });

  it('is what the forwarding plan uses: the capture socket of each interface is on its chosen worker', () => {
    const rule = (id: string, iface: string, group: string): Rule =>
      Rule.fromPartial({ id, input: { interface: iface, group, port: 5000, source: '' }, outputs: [{ interface: 'out1', address: '239.9.9.9', port: 6000 }] });
    const rules = pairs.map(({ group }, i) => rule(`r-${i}`, i % 2 ? 'in0' : 'in1', group));
    const info = (name: string, index: number) => ({ name, index, up: true, running: true, mtu: 1500, mac: '', addresses: [] });
    const interfaces = new Map([['in0', info('in0', 2)], ['in1', info('in1', 3)], ['out1', info('out1', 4)]]);
    const plan = planForwarding(rules, new RulePlacement(3, new Map([['in0', [2]]])), interfaces);
    expect(plan.workers).to.have.lengthOf(3);
    expect(plan.workers[0].captures.has('in0')).to.equal(false);
    expect(plan.workers[1].captures.has('in0')).to.equal(false);
    expect(plan.workers[2].captures.get('in0')!.targets).to.have.lengthOf(128);
    for (const r of rules.filter((r) => r.input!.interface === 'in0')) expect(plan.statuses.get(r.id)!.worker).to.equal(2);
    const in1Workers = new Set(rules.filter((r) => r.input!.interface === 'in1').map((r) => plan.statuses.get(r.id)!.worker));
    expect(in1Workers.size, 'in1 spread over all three').to.equal(3);
  });
});

describe('mcrd CPU options', () => {
  it('defaults --workers to one per CPU mcrd may use, or per CPU of --cpus', () => {
    expect(parseDaemonArgs([]).workers).to.equal(os.availableParallelism());
    expect(defaultWorkers()).to.equal(os.availableParallelism());
    expect(parseDaemonArgs([]).cpus).to.equal(undefined);
    expect(parseDaemonArgs(['--cpus', '0-2,5']).cpus).to.deep.equal([0, 1, 2, 5]);
    expect(parseDaemonArgs(['--cpus', '0-2,5']).workers).to.equal(4);
    expect(parseDaemonArgs(['--cpus', '0-2,5', '--workers', '2']).workers).to.equal(2);
  });

  it('reads repeated --interface-cpus', () => {
    const o = parseDaemonArgs(['--interface-cpus', 'eth0=0-1', '--interface-cpus', 'eth1.100=3']);
    expect(o.interfaceCpus).to.deep.equal({ eth0: [0, 1], 'eth1.100': [3] });
    expect([...o.commandLine]).to.deep.equal(['interfaceCpus']);
    expect(parseDaemonArgs([]).interfaceCpus).to.deep.equal({});
  });

  for (const [args, fragment] of [
    [['--cpus', '1-0'], "option '--cpus <list>' argument '1-0' is invalid. \"1-0\" in \"1-0\": a range goes from the lower CPU to the higher"],
    [['--cpus', 'all'], '--cpus'],
    [['--interface-cpus', 'eth0'], 'expected IF=CPULIST (eth0=0-3), got "eth0"'],
    [['--interface-cpus', '=1'], 'expected IF=CPULIST'],
    [['--interface-cpus', 'a/b=1'], 'expected IF=CPULIST'],
    [['--interface-cpus', 'eth0=x'], '"x" in "x" is not a CPU number or range'],
    [['--interface-cpus', 'eth0=1', '--interface-cpus', 'eth0=2'], 'eth0 is given twice'],
  ] as Array<[string[], string]>) {
    it(`refuses ${args.join(' ')}`, () => {
      expect(() => parseDaemonArgs(args)).to.throw(UsageError, fragment);
    });
  }

  const FILE = parseConfig('{ cpus: "2-3", interfaceCpus: { eth0: "3" }, rules: [] }', 'mcr.json5');

  it('takes cpus and interfaceCpus from the config file, with one worker per CPU of its cpus', () => {
    const options = withFileSettings(parseDaemonArgs(['--config', 'mcr.json5']), FILE);
    expect(options.cpus).to.deep.equal([2, 3]);
    expect(options.interfaceCpus).to.deep.equal({ eth0: [3] });
    expect(options.workers).to.equal(2);
    expect(withFileSettings(parseDaemonArgs(['--config', 'mcr.json5']), parseConfig('{ workers: 5, cpus: "1" }', 'mcr.json5')).workers).to.equal(5);
  });

  it('lets the flags win over the file', () => {
    const options = withFileSettings(parseDaemonArgs(['--config', 'mcr.json5', '--cpus', '1', '--interface-cpus', 'eth1=1']), FILE);
    expect(options.cpus).to.deep.equal([1]);
    expect(options.interfaceCpus).to.deep.equal({ eth1: [1] });
    expect(options.workers).to.equal(1);
  });

  it('shows them in mcrctl config check', () => {
    expect(checkedView(parseConfig('{ cpus: "6,0-3", interfaceCpus: { eth0: "0-1", eth1: "3" } }', 'mcr.json5'))).to.equal(
      'mcr.json5: valid: no rules key (the rules are left to the API), cpus 0-3,6, interfaceCpus eth0=0-1 eth1=3\n',
    );
  });

  it('reports bad cpus and interfaceCpus in the file at their place', () => {
    const text = '{\n  cpus: "0-",\n  interfaceCpus: { eth0: "1", "a/b": "2", eth1: 3 },\n}';
    let error: unknown;
    try {
      parseConfig(text, 'mcr.json5');
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(ConfigFileError);
    expect((error as ConfigFileError).message.split('\n')).to.deep.equal([
      'mcr.json5:2:3: cpus: "0-" in "0-" is not a CPU number or range: expected a list like 0-3,6 (as taskset -c takes)',
      'mcr.json5:3:31: interfaceCpus["a/b"]: "a/b" is not a valid interface name (1-15 bytes, no "/", ":" or spaces, not "." or "..")',
      'mcr.json5:3:43: interfaceCpus.eth1: must be a string, got 3',
    ]);
    expect(() => parseConfig('{ interfaceCpus: ["eth0=1"] }', 'mcr.json5')).to.throw(ConfigFileError, 'interfaceCpus: must be an object of interface names and CPU lists');
  });
});

describe('data-plane thread placement from /proc', () => {
  const stat = (comm: string, processor: number) =>
    `4250 (${comm}) S 4242 4242 1 0 -1 4194368 30 0 0 0 12 3 0 0 20 0 12 0 2000 900000000 9000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 -1 ${processor} 0 0 0 0 0 0 0 0 0 0 0 0 0\n`;

  it('reads field 39 of stat, even when the command name holds spaces and parentheses', () => {
    expect(statProcessor(stat('mcr-dataplane', 1))).to.equal(1);
    expect(statProcessor(stat('a) b (c', 7))).to.equal(7);
    expect(statProcessor('garbage')).to.equal(undefined);
    expect(statProcessor(fs.readFileSync('/proc/self/stat', 'utf8'))).to.be.a('number');
  });

  it('reads Cpus_allowed_list of status', () => {
    expect(cpusAllowedList('Name:\tx\nCpus_allowed:\t2\nCpus_allowed_list:\t1\nMems_allowed:\t1\n')).to.equal('1');
    expect(cpusAllowedList('Cpus_allowed_list:\t0-3,6\n')).to.equal('0-3,6');
    expect(cpusAllowedList('Name:\tx\n')).to.equal(undefined);
  });

  it('finds the thread named mcr-dataplane among the process\'s threads', () => {
    const proc = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-proc-'));
    try {
      const thread = (tid: number, comm: string, processor: number, allowed: string) => {
        const dir = path.join(proc, '4242', 'task', String(tid));
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'comm'), `${comm}\n`);
        fs.writeFileSync(path.join(dir, 'stat'), stat(comm, processor));
        fs.writeFileSync(path.join(dir, 'status'), `Name:\t${comm}\nCpus_allowed_list:\t${allowed}\n`);
      };
      thread(4242, 'node', 0, '0-1');
      thread(4243, 'libuv-worker', 0, '0-1');
      thread(4250, 'mcr-dataplane', 1, '1');
      expect(dataplaneThread(4242, proc)).to.deep.equal({ threadId: 4250, lastCpu: 1, allowedCpus: '1' });
      expect(dataplaneThread(4243, proc), 'no such process').to.equal(undefined);
      expect(dataplaneThread(0, proc)).to.equal(undefined);
      fs.rmSync(path.join(proc, '4242', 'task', '4250'), { recursive: true });
      expect(dataplaneThread(4242, proc), 'no data-plane thread (yet)').to.equal(undefined);
    } finally {
      fs.rmSync(proc, { recursive: true, force: true });
    }
  });
});
