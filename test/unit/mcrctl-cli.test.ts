/**
 * mcrctl end to end, in process: argv -> main() -> gRPC over a unix socket -> a tiny in-memory
 * RuleService/SystemService/StatsService written here -> output and exit code. The fake only has to
 * be faithful enough to exercise the CLI; mcrd's real behaviour is tested in test/e2e.
 */
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import {
  CreateRuleRequest,
  IpProtocol,
  ListRulesResponse,
  Rule,
  RuleServiceServer,
  RuleServiceService,
  RuleState,
  UpdateRuleRequest,
} from '../../gen/mcr/v1/rules';
import { GetStatsResponse, GetWorkerStatsResponse, StatsServiceServer, StatsServiceService, WatchStatsRequest, WatchStatsResponse } from '../../gen/mcr/v1/stats';
import {
  EventKind,
  GetVersionRequest,
  Interface,
  SetLogLevelRequest,
  SystemServiceServer,
  SystemServiceService,
  WatchEventsRequest,
  WatchEventsResponse,
  Worker,
  WorkerState,
} from '../../gen/mcr/v1/system';
import { main } from '../../clients/mcrctl/main';
import { applyUpdateMask, checkUpdateMask } from '../../server/rules/update-mask';
import { CliIo } from '../../clients/mcrctl/io';
import { CLEAR_SCREEN } from '../../clients/mcrctl/watch';

type Reply<T> = grpc.sendUnaryData<T>;
/** 2024-01-02 15:04:05.678 local time, in unix nanoseconds: the time of the fake's events. */
const EVENT_TIME = BigInt(new Date(2024, 0, 2, 15, 4, 5, 678).getTime()) * 1_000_000n;
/** What the fake's WatchEvents tells, in turn and over again, with mcrd's cumulative dropped count. */
const EVENT_SCRIPT: ReadonlyArray<readonly [EventKind, string, bigint]> = [
  [EventKind.EVENT_KIND_INTERFACE_CHANGED, 'interface mcrtv0 (index 12) up', 0n],
  [EventKind.EVENT_KIND_RULE_STATUS_CHANGED, 'rule r-000000000001: active', 0n],
  [EventKind.EVENT_KIND_INTERFACE_REMOVED, 'interface mcrtv0 removed', 5n],
  [EventKind.EVENT_KIND_WORKER_DRIFT, 'worker 0: drift repaired by resync', 5n],
];
const fail = (code: grpc.status, details: string): Partial<grpc.StatusObject> => ({ code, details });

/** An in-memory rule store behind the generated service interfaces, recording every request. */
class FakeMcrd {
  readonly rules = new Map<string, Rule>();
  readonly created: CreateRuleRequest[] = [];
  readonly updated: UpdateRuleRequest[] = [];
  readonly versionRequests: GetVersionRequest[] = [];
  /** GetVersion's features; with 'config_rules', mcrd says its config file has the rules. */
  features = ['rules', 'validate_only'];
  /** Runs before an update is applied; lets a test play a concurrent writer. */
  beforeUpdate: (rule: Rule) => void = () => {};

  find(ref: string): Rule | undefined {
    return this.rules.get(ref) ?? [...this.rules.values()].find((r) => r.name !== '' && r.name === ref);
  }

  /** The one validation the CLI cannot do itself: the group must be multicast. */
  private invalid(rule: Rule | undefined): string | undefined {
    const first = Number(rule?.input?.group.split('.')[0]);
    return first >= 224 && first <= 239 ? undefined : 'rule.input.group: must be a multicast address (224.0.0.0/4)';
  }

  readonly ruleService: RuleServiceServer = {
    // The config commands run against a real rule store in mcrctl-config.test.ts.
    applyRules: (_call, reply) => reply(fail(grpc.status.UNIMPLEMENTED, 'not in this fake')),
    createRule: (call, reply: Reply<{ rule: Rule }>) => {
      this.created.push(call.request);
      const problem = this.invalid(call.request.rule);
      if (problem) return reply(fail(grpc.status.INVALID_ARGUMENT, problem));
      const rule = Rule.fromPartial({
        ...call.request.rule,
        id: call.request.rule!.id || `r-${String(this.rules.size + 1).padStart(12, '0')}`,
        generation: 1n,
        status: { state: RuleState.RULE_STATE_ACTIVE, worker: 0 },
      });
      if (!call.request.validateOnly) this.rules.set(rule.id, rule);
      reply(null, { rule });
    },
    getRule: (call, reply) => {
      const rule = this.find(call.request.rule);
      if (!rule) return reply(fail(grpc.status.NOT_FOUND, `rule "${call.request.rule}" does not exist`));
      reply(null, { rule });
    },
    listRules: (_call, reply) => reply(null, { rules: [...this.rules.values()], storeGeneration: BigInt(this.rules.size), nextPageToken: '' }),
    updateRule: (call, reply) => {
      this.updated.push(call.request);
      const found = this.find(call.request.rule);
      if (!found) return reply(fail(grpc.status.NOT_FOUND, `rule "${call.request.rule}" does not exist`));
      this.beforeUpdate(found);
      const rule = this.rules.get(found.id)!;
      const expected = call.request.expectedGeneration;
      if (expected !== undefined && expected !== rule.generation) {
        return reply(fail(grpc.status.ABORTED, `rule ${rule.id} is at generation ${rule.generation}, not ${expected}`));
      }
      // The update mask as mcrd reads it (an absent mask: the whole definition).
      const mask = checkUpdateMask(call.request.updateMask);
      const definition = mask ? applyUpdateMask(rule, call.request.definition, mask) : call.request.definition;
      const next = Rule.fromPartial({ ...definition, id: rule.id, generation: rule.generation + 1n, status: rule.status });
      if (!call.request.validateOnly) this.rules.set(rule.id, next);
      reply(null, { rule: next });
    },
    deleteRule: (call, reply) => {
      const rule = this.find(call.request.rule);
      if (!rule) return reply(fail(grpc.status.NOT_FOUND, `rule "${call.request.rule}" does not exist`));
      this.rules.delete(rule.id);
      reply(null, { rule });
    },
  };

  readonly logLevels: Record<string, string> = { supervisor: 'info', api: 'info', worker: 'info' };
  readonly logLevelRequests: SetLogLevelRequest[] = [];
  readonly watchRequests: WatchStatsRequest[] = [];
  readonly eventRequests: WatchEventsRequest[] = [];
  /** WatchStats and WatchEvents streams the client cancelled. */
  watchCancels = 0;
  /** When set, WatchStats and WatchEvents fail at once with this. */
  watchFailure?: Partial<grpc.StatusObject>;

  readonly systemService: Pick<SystemServiceServer, 'getVersion' | 'listWorkers' | 'setLogLevel' | 'getLogLevels' | 'listInterfaces' | 'watchEvents'> = {
    getVersion: (call, reply) => {
      this.versionRequests.push(call.request);
      reply(null, { serverVersion: '9.8.7', protocolMajor: 1, protocolMinor: 2, features: this.features, startedUnixNanos: 0n });
    },
    listWorkers: (_call, reply) =>
      reply(null, {
        workers: [
          Worker.fromPartial({ index: 0, pid: 101, uid: 65534, core: 0, state: WorkerState.WORKER_STATE_RUNNING, rules: this.rules.size, rulesetHash: 'abc', expectedRulesetHash: 'abc', restarts: 0, startedUnixNanos: 0n }),
        ],
      }),
    setLogLevel: (call, reply) => {
      this.logLevelRequests.push(call.request);
      const { facility, level } = call.request;
      if (facility && !(facility in this.logLevels)) return reply(fail(grpc.status.INVALID_ARGUMENT, `facility: unknown facility "${facility}"`));
      if (!['error', 'warn', 'info', 'debug'].includes(level)) return reply(fail(grpc.status.INVALID_ARGUMENT, `level: unknown level "${level}"`));
      for (const f of facility ? [facility] : Object.keys(this.logLevels)) this.logLevels[f] = level;
      reply(null, { levels: { ...this.logLevels } });
    },
    getLogLevels: (_call, reply) => reply(null, { levels: { ...this.logLevels } }),
    /** eth0 carries every rule's input, eth9 is named by every rule's outputs but missing. */
    listInterfaces: (_call, reply) => {
      const ids = [...this.rules.keys()];
      reply(null, {
        interfaces: [
          Interface.fromPartial({ name: 'eth0', index: 2, exists: true, up: true, running: true, mtu: 1500, mac: '52:54:00:12:34:56', addresses: [{ address: '10.0.0.1', prefixLength: 24 }], inputRules: ids }),
          Interface.fromPartial({ name: 'eth9', exists: false, outputRules: ids }),
        ],
        nextPageToken: '',
      });
    },
    /** The events of EVENT_SCRIPT of the kinds asked for (all when none), one every 20 ms. */
    watchEvents: (call) => {
      this.eventRequests.push(call.request);
      if (this.watchFailure) return call.emit('error', this.watchFailure);
      const wanted = EVENT_SCRIPT.filter(([kind]) => call.request.kinds.length === 0 || call.request.kinds.includes(kind));
      let sent = 0;
      const timer = setInterval(() => {
        const [kind, message, dropped] = wanted[sent++ % wanted.length];
        call.write(WatchEventsResponse.fromPartial({ event: { unixNanos: EVENT_TIME, kind, message }, droppedEvents: dropped }));
      }, 20);
      call.on('cancelled', () => {
        this.watchCancels++;
        clearInterval(timer);
      });
    },
  };

  readonly statsService: StatsServiceServer = {
    /** An update every 20 ms: counters count updates, the second one reports 4 dropped updates. */
    watchStats: (call) => {
      this.watchRequests.push(call.request);
      if (this.watchFailure) return call.emit('error', this.watchFailure);
      if (call.request.rule && !this.find(call.request.rule)) return call.emit('error', fail(grpc.status.NOT_FOUND, `no rule "${call.request.rule}"`));
      let sent = 0;
      const timer = setInterval(() => {
        sent++;
        call.write(
          WatchStatsResponse.fromPartial({
            rules: [{ ruleId: 'r-000000000001', name: 'cam1', packetsReceived: BigInt(sent), packetsPerSecond: 1500, outputs: [] }],
            intervalMs: call.request.intervalMs,
            droppedUpdates: sent >= 2 ? 4n : 0n,
          }),
        );
      }, 20);
      call.on('cancelled', () => {
        this.watchCancels++;
        clearInterval(timer);
      });
    },
    getStats: (call, reply) => {
      const rules = [...this.rules.values()].filter((r) => !call.request.rule || r.id === call.request.rule || r.name === call.request.rule);
      reply(
        null,
        GetStatsResponse.fromPartial({
          rules: rules.map((r) => ({ ruleId: r.id, name: r.name, packetsReceived: 18446744073709551615n, packetsForwarded: 7n, outputs: [] })),
        }),
      );
    },
    getWorkerStats: (_call, reply) =>
      reply(
        null,
        GetWorkerStatsResponse.fromPartial({
          inputs: [{ worker: 0, interface: 'eth0', frames: 9n, bytes: 900n, unmatched: 1n, parseErrors: { truncated: 2n }, kernelDrops: 3n }],
        }),
      ),
  };
}

describe('mcrctl against an in-process gRPC server', () => {
  let dir: string;
  let socket: string;
  let server: grpc.Server;
  let mcrd: FakeMcrd;

  /** Runs mcrctl with MCR_SOCKET pointing at the fake server. */
  async function mcrctl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const result = { code: -1, out: '', err: '' };
    const io = { stdout: (t: string) => void (result.out += t), stderr: (t: string) => void (result.err += t), env: { MCR_SOCKET: socket } };
    result.code = await main(args, io);
    return result;
  }

  /**
   * Runs a streaming command (`stats --watch`, `events`) and plays Ctrl-C once it has written `writes` times (or fails the test
   * after 5 s without them); `writes` list what each write was.
   */
  async function watchUntil(writes: number, args: string[], isTTY = false): Promise<{ code: number; writes: string[]; err: string }> {
    const result = { code: -1, writes: [] as string[], err: '' };
    let interrupt: (() => void) | undefined;
    let unregistered = false;
    const io: CliIo = {
      stdout: (t) => {
        result.writes.push(t);
        if (result.writes.length === writes) interrupt?.();
      },
      stderr: (t) => void (result.err += t),
      env: { MCR_SOCKET: socket },
      isTTY,
      onInterrupt: (handler) => {
        interrupt = handler;
        return () => void (unregistered = true);
      },
    };
    const guard = setTimeout(() => interrupt?.(), 5000);
    try {
      result.code = await main(args, io);
    } finally {
      clearTimeout(guard);
    }
    expect(result.writes.length, `writes before Ctrl-C; stderr: ${result.err}`).to.be.at.least(writes);
    expect(unregistered, 'the Ctrl-C handler is released').to.equal(true);
    return result;
  }

  /** Waits (bounded) until the fake has seen `n` WatchStats or WatchEvents cancellations. */
  async function cancelsReach(n: number): Promise<void> {
    for (let i = 0; i < 100 && mcrd.watchCancels < n; i++) await new Promise((r) => setTimeout(r, 10));
    expect(mcrd.watchCancels, 'streams cancelled').to.equal(n);
  }

  const ADD = ['rule', 'add', '--name', 'cam1', '--in', 'eth0', '239.0.0.1:5000', '--out', 'eth1', '239.9.9.9:6000', '--out', 'wg0', '10.20.0.7:6000', '--ttl', '4'];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcrctl-cli-'));
    socket = path.join(dir, 'mcr.sock');
    server = new grpc.Server();
    mcrd = new FakeMcrd();
    server.addService(RuleServiceService, mcrd.ruleService);
    server.addService(SystemServiceService, mcrd.systemService);
    server.addService(StatsServiceService, mcrd.statsService);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
  });

  after(() => {
    server.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    mcrd.rules.clear();
    mcrd.created.length = 0;
    mcrd.updated.length = 0;
    mcrd.versionRequests.length = 0;
    mcrd.features = ['rules', 'validate_only'];
    mcrd.beforeUpdate = () => {};
    mcrd.watchRequests.length = 0;
    mcrd.eventRequests.length = 0;
    mcrd.watchCancels = 0;
    mcrd.watchFailure = undefined;
    mcrd.logLevelRequests.length = 0;
  });

  it('rule add sends the rule it was given, prints the created rule, and warns about the interfaces mcrd does not see', async () => {
    const { code, out, err } = await mcrctl(...ADD);
    // The fake sees eth0 (and no eth1 or wg0); eth9 is missing too, so it is no suggestion.
    expect(err).to.equal(
      'warning: outputs[0].interface: mcrd sees no interface "eth1" (did you mean "eth0"?): this output waits until it appears\n' +
        'warning: outputs[1].interface: mcrd sees no interface "wg0": this output waits until it appears\n',
    );
    expect(code).to.equal(0);
    expect(mcrd.created).to.deep.equal([
      CreateRuleRequest.fromPartial({
        rule: {
          name: 'cam1',
          input: { interface: 'eth0', group: '239.0.0.1', port: 5000 },
          outputs: [
            { interface: 'eth1', address: '239.9.9.9', port: 6000, ttl: 4 },
            { interface: 'wg0', address: '10.20.0.7', port: 6000, ttl: 4 },
          ],
        },
        validateOnly: false,
      }),
    ]);
    expect(out).to.match(/^Created rule r-000000000001 \(cam1\)\.\n/);
    expect(out).to.include('Outputs:      [0] eth1 239.9.9.9:6000 ttl 4\n              [1] wg0 10.20.0.7:6000 ttl 4\n');
  });

  it('rule add --vlan sends the input with its VLAN, and the rule shows it', async () => {
    const { code, out } = await mcrctl(...ADD, '--vlan', '100');
    expect(code).to.equal(0);
    expect(mcrd.created[0].rule?.input).to.deep.equal({ interface: 'eth0', group: '239.0.0.1', port: 5000, source: '', vlan: 100, protocol: 0 });
    expect(out).to.include('Input:        eth0 vlan 100 239.0.0.1:5000\n');
  });

  it('rule add --protocol esp sends an ESP input and outputs without ports, and the rule shows them so', async () => {
    const { code, out } = await mcrctl('rule', 'add', '--name', 'tun1', '--protocol', 'esp', '--in', 'eth0', '239.1.1.1', '--out', 'eth1', '10.0.0.9', '--ttl', '8');
    expect(code).to.equal(0);
    const rule = mcrd.created[0].rule!;
    expect(rule.input).to.deep.equal({ interface: 'eth0', group: '239.1.1.1', port: 0, source: '', vlan: undefined, protocol: IpProtocol.IP_PROTOCOL_ESP });
    expect(rule.outputs.map((o) => [o.address, o.port, o.ttl])).to.deep.equal([['10.0.0.9', 0, 8]]);
    expect(out).to.include('Input:        eth0 239.1.1.1 esp\n');
    expect(out).to.include('Outputs:      [0] eth1 10.0.0.9 ttl 8\n');
  });

  it('rule add --dry-run asks for validation only', async () => {
    const { code, out } = await mcrctl(...ADD, '--dry-run');
    expect(code).to.equal(0);
    expect(mcrd.created[0].validateOnly).to.equal(true);
    expect(mcrd.rules.size).to.equal(0);
    expect(out).to.include('dry run, nothing changed');
  });

  it('--json prints the response as proto3 JSON, uint64 as strings', async () => {
    await mcrctl(...ADD);
    const { code, out } = await mcrctl('--json', 'rule', 'list');
    expect(code).to.equal(0);
    const parsed = JSON.parse(out);
    expect(parsed.storeGeneration).to.equal('1');
    expect(parsed.rules[0]).to.deep.include({ id: 'r-000000000001', name: 'cam1', generation: '1' });
    expect(parsed.rules[0].status.state).to.equal('RULE_STATE_ACTIVE');
    expect(ListRulesResponse.fromJSON(parsed).rules[0].outputs[1].address).to.equal('10.20.0.7');

    const stats = JSON.parse((await mcrctl('stats', 'cam1', '--json')).out);
    expect(stats.rules[0].packetsReceived).to.equal('18446744073709551615');
  });

  it('an INVALID_ARGUMENT answer exits 1 naming the field', async () => {
    const { code, out, err } = await mcrctl('rule', 'add', '--in', 'eth0', '10.0.0.1:5000', '--out', 'eth1', '239.9.9.9:6000');
    expect(code).to.equal(1);
    expect(out).to.equal('');
    expect(err).to.equal('mcrctl: invalid argument: rule.input.group: must be a multicast address (224.0.0.0/4)\n');
  });

  it('a missing rule exits 1 with NOT_FOUND', async () => {
    const { code, err } = await mcrctl('rule', 'get', 'cam9');
    expect(code).to.equal(1);
    expect(err).to.equal('mcrctl: not found: rule "cam9" does not exist\n');
  });

  it('rule list prints a table and rule get a detailed view', async () => {
    await mcrctl(...ADD);
    const list = await mcrctl('rule', 'list');
    expect(list.code).to.equal(0);
    expect(list.out).to.equal(
      [
        'ID              NAME  INPUT                OUTPUTS                    STATE   GEN',
        'r-000000000001  cam1  eth0 239.0.0.1:5000  eth1 239.9.9.9:6000 ttl 4  active    1',
        '                                           wg0 10.20.0.7:6000 ttl 4',
        '',
      ].join('\n'),
    );
    const get = await mcrctl('rule', 'get', 'cam1');
    expect(get.code).to.equal(0);
    expect(get.out).to.include('State:        active\n');
    expect(get.out).to.include('Input:        eth0 239.0.0.1:5000\n');
  });

  it('rule update sends only what is given, with an update mask, without reading the rule', async () => {
    await mcrctl(...ADD);
    const { code, out } = await mcrctl('rule', 'update', 'cam1', '--name', 'cam-main');
    expect(code).to.equal(0);
    expect(mcrd.updated).to.have.length(1);
    const request = mcrd.updated[0];
    expect(request.rule).to.equal('cam1');
    expect(request.updateMask).to.deep.equal(['name']);
    expect(request.expectedGeneration).to.equal(undefined);
    expect(request.validateOnly).to.equal(false);
    expect(request.definition?.name).to.equal('cam-main');
    expect(request.definition?.outputs).to.deep.equal([]);
    const rule = mcrd.rules.get('r-000000000001')!;
    expect(rule.input).to.deep.equal({ interface: 'eth0', group: '239.0.0.1', port: 5000, source: '', vlan: undefined, protocol: 0 });
    expect(rule.outputs.map((o) => [o.interface, o.ttl])).to.deep.equal([['eth1', 4], ['wg0', 4]]);
    expect(out).to.match(/^Updated rule r-000000000001 \(cam-main\) to generation 2\.\n/);
  });

  it('rule update of a field is not refused for a change someone made to another field meanwhile', async () => {
    await mcrctl(...ADD);
    mcrd.beforeUpdate = (rule) => mcrd.rules.set(rule.id, { ...rule, name: 'renamed', generation: rule.generation + 1n });
    const { code } = await mcrctl('rule', 'update', 'cam1', '--in', 'eth0', '239.0.0.2:5002');
    expect(code).to.equal(0);
    const rule = mcrd.rules.get('r-000000000001')!;
    expect([rule.name, rule.input?.group, rule.generation]).to.deep.equal(['renamed', '239.0.0.2', 3n]);
  });

  it('rule update --add-out and --del-out edit the outputs read, guarded by its generation; an impossible edit exits 1, sending nothing', async () => {
    await mcrctl(...ADD);
    const { code, out } = await mcrctl('rule', 'update', 'cam1', '--del-out', 'wg0', '10.20.0.7:6000', '--add-out', 'eth0', '239.9.9.10:6001', '--ttl', '2');
    expect(code).to.equal(0);
    expect(mcrd.updated[0].expectedGeneration).to.equal(1n);
    expect(mcrd.updated[0].updateMask).to.deep.equal(['outputs']);
    expect(mcrd.updated[0].definition?.outputs.map((o) => `${o.interface} ${o.address}:${o.port} ttl ${o.ttl}`)).to.deep.equal([
      'eth1 239.9.9.9:6000 ttl 4',
      'eth0 239.9.9.10:6001 ttl 2',
    ]);
    expect(out).to.match(/^Updated rule r-000000000001 \(cam1\) to generation 2\.\n/);

    const refused = await mcrctl('rule', 'update', 'cam1', '--del-out', 'wg0', '10.20.0.7:6000');
    expect(refused).to.deep.equal({
      code: 1,
      out: '',
      err: 'mcrctl: --del-out wg0 10.20.0.7:6000: rule r-000000000001 (cam1) has no such output (it has: eth1 239.9.9.9:6000, eth0 239.9.9.10:6001)\n',
    });
    expect(mcrd.updated, 'nothing sent for it').to.have.length(1);
  });

  it('rule update --protocol esp switches a rule with --in and --out; without both, it reads the rule and refuses a switch, sending nothing', async () => {
    await mcrctl(...ADD);
    const refused = await mcrctl('rule', 'update', 'cam1', '--protocol', 'esp', '--in', 'eth0', '239.1.1.1');
    expect(refused).to.deep.equal({
      code: 1,
      out: '',
      err:
        "mcrctl: --protocol esp: rule r-000000000001 (cam1) relays UDP; switching it to ESP needs --in and --out (every output) in the same command, " +
        'as its input and outputs lose their ports\n',
    });
    expect(mcrd.updated, 'nothing sent for it').to.have.length(0);

    const switched = await mcrctl('rule', 'update', 'cam1', '--protocol', 'esp', '--in', 'eth0', '239.1.1.1', '--out', 'eth1', '10.0.0.9');
    expect(switched.code).to.equal(0);
    expect(mcrd.updated[0].updateMask).to.deep.equal(['input.interface', 'input.group', 'input.port', 'input.protocol', 'outputs']);
    expect(mcrd.updated[0].expectedGeneration).to.equal(undefined);
    expect(switched.out).to.include('Input:        eth0 239.1.1.1 esp\n');

    // Now an ESP rule: its outputs are edited without ports, the update guarded by the generation read.
    const added = await mcrctl('rule', 'update', 'cam1', '--protocol', 'esp', '--add-out', 'eth2', '10.0.0.8');
    expect(added.code).to.equal(0);
    expect(mcrd.updated[1].expectedGeneration).to.equal(2n);
    expect(added.out).to.include('Outputs:      [0] eth1 10.0.0.9\n              [1] eth2 10.0.0.8\n');
  });

  it('rule add, update and delete warn when mcrd\'s config file has the rules (it would undo them); a dry run does not', async () => {
    mcrd.features = ['rules', 'config_rules'];
    const warning = 'warning: mcrd runs with --config FILE and FILE has "rules"';
    const add = await mcrctl('rule', 'add', '--name', 'cam1', '--in', 'eth0', '239.0.0.1:5000', '--out', 'eth0', '239.9.9.9:6000');
    expect(add.code).to.equal(0);
    expect(add.err).to.equal(
      'warning: mcrd runs with --config FILE and FILE has "rules": they are applied again, as FILE has them, on its next reload (SIGHUP) ' +
        'or restart, which will undo this change: make it in FILE too\n',
    );
    expect((await mcrctl('rule', 'update', 'cam1', '--ttl', '3')).err).to.include(warning);
    expect((await mcrctl('rule', 'update', 'cam1', '--ttl', '4', '--dry-run')).err).to.equal('');
    expect((await mcrctl('rule', 'delete', 'cam1')).err).to.include(warning);
    mcrd.features = ['rules'];
    expect((await mcrctl('rule', 'add', '--in', 'eth0', '239.0.0.1:5000', '--out', 'eth0', '239.9.9.9:6000')).err).to.equal('');
  });

  it('rule update of the outputs read exits 1 with ABORTED when the rule changed after it was read', async () => {
    await mcrctl(...ADD);
    mcrd.beforeUpdate = (rule) => mcrd.rules.set(rule.id, { ...rule, generation: rule.generation + 1n });
    const { code, err } = await mcrctl('rule', 'update', 'cam1', '--add-out', 'eth2', '239.9.9.10:6000');
    expect(code).to.equal(1);
    expect(err).to.equal('mcrctl: aborted: rule r-000000000001 is at generation 2, not 1\n');
    expect(mcrd.rules.get('r-000000000001')?.outputs).to.have.length(2);
  });

  it('rule update --expect-generation overrides the generation read', async () => {
    await mcrctl(...ADD);
    const { code } = await mcrctl('rule', 'update', 'cam1', '--ttl', '9', '--expect-generation', '5');
    expect(mcrd.updated[0].expectedGeneration).to.equal(5n);
    expect(code).to.equal(1);
  });

  it('rule delete deletes and says which rule', async () => {
    await mcrctl(...ADD);
    const { code, out } = await mcrctl('rule', 'delete', 'cam1');
    expect(code).to.equal(0);
    expect(out).to.equal('Deleted rule r-000000000001 (cam1).\n');
    expect(mcrd.rules.size).to.equal(0);
  });

  it('version sends the protocol major and shows both versions', async () => {
    const { code, out } = await mcrctl('version');
    expect(code).to.equal(0);
    expect(mcrd.versionRequests).to.deep.equal([{ clientProtocolMajor: 1 }]);
    expect(out).to.match(/^Client: {4}mcrctl \d+\.\d+\.\d+\S* \(protocol 1\)\nServer: {4}mcrd 9\.8\.7 \(protocol 1\.2\)\n/);
    const json = JSON.parse((await mcrctl('version', '--json')).out);
    expect(json.client.protocolMajor).to.equal(1);
    expect(json.server).to.deep.include({ serverVersion: '9.8.7', protocolMajor: 1, protocolMinor: 2 });
  });

  it('workers prints the worker table', async () => {
    const { code, out } = await mcrctl('workers');
    expect(code).to.equal(0);
    expect(out).to.equal('INDEX  PID    UID  CORE  LAST CPU  STATE    RULES  HASH\n    0  101  65534     0         -  running      0  abc\n');
  });

  it('a missing socket exits 3 with a hint naming the socket', async () => {
    const missing = path.join(dir, 'absent.sock');
    const { code, out, err } = await mcrctl('--socket', missing, 'rule', 'list');
    expect(code).to.equal(3);
    expect(out).to.equal('');
    expect(err).to.equal(`mcrctl: cannot reach mcrd at unix:${missing} (no such socket): is mcrd running? (set --socket or MCR_SOCKET)\n`);
  });

  describe('stats --watch', () => {
    it('--json prints one JSON object per update and exits 0 on Ctrl-C, cancelling the stream', async () => {
      await mcrctl(...ADD);
      const { code, writes, err } = await watchUntil(3, ['stats', 'cam1', '--watch', '--interval', '250', '--json']);
      expect(err).to.equal('');
      expect(code).to.equal(0);
      expect(mcrd.watchRequests).to.deep.equal([WatchStatsRequest.fromPartial({ rule: 'cam1', intervalMs: 250 })]);
      const lines = writes.map((w) => JSON.parse(w));
      expect(writes.every((w) => w.endsWith('\n') && w.indexOf('\n') === w.length - 1), 'one line per update').to.equal(true);
      expect(lines.slice(0, 3).map((l) => l.rules[0].packetsReceived)).to.deep.equal(['1', '2', '3']);
      expect(lines[0].droppedUpdates).to.equal(undefined);
      expect(lines[1].droppedUpdates).to.equal('4');
      await cancelsReach(1);
    });

    it('prints successive tables when stdout is not a terminal, with dropped updates once there are some', async () => {
      const { code, writes } = await watchUntil(2, ['stats', '--watch']);
      expect(code).to.equal(0);
      expect(mcrd.watchRequests).to.deep.equal([WatchStatsRequest.fromPartial({ rule: '', intervalMs: 1000 })]);
      expect(writes[0]).to.match(/^Every 1000 ms, collected -\n\nRULE +NAME/);
      expect(writes[0]).to.not.include('dropped');
      expect(writes[0]).to.include('1.50 kpps');
      expect(writes[0]).to.not.include(CLEAR_SCREEN);
      expect(writes[1]).to.match(/^Every 1000 ms, collected -, dropped updates: 4 \(this client read too slowly\)\n/);
      expect(writes[1].endsWith('\n\n'), 'a blank line after each update').to.equal(true);
      await cancelsReach(1);
    });

    it('redraws in place on a terminal', async () => {
      const { code, writes } = await watchUntil(2, ['stats', '--watch', '--interval', '100'], true);
      expect(code).to.equal(0);
      for (const w of writes) expect(w.startsWith(`${CLEAR_SCREEN}Every 100 ms`), JSON.stringify(w)).to.equal(true);
    });

    it('exits 1 with mcrd\'s message when the stream is refused', async () => {
      const { code, out, err } = await mcrctl('stats', 'cam9', '--watch');
      expect(code).to.equal(1);
      expect(out).to.equal('');
      expect(err).to.equal('mcrctl: not found: no rule "cam9"\n');
      mcrd.watchFailure = fail(grpc.status.UNAVAILABLE, 'mcrd is shutting down');
      expect(await mcrctl('stats', '--watch')).to.deep.equal({ code: 1, out: '', err: 'mcrctl: mcrd shut down\n' });
    });

    it('--inputs --watch polls GetWorkerStats at the interval', async () => {
      const started = Date.now();
      const { code, writes } = await watchUntil(3, ['stats', '--inputs', '--watch', '--interval', '100']);
      expect(code).to.equal(0);
      expect(Date.now() - started, 'three updates 100 ms apart').to.be.at.least(190);
      for (const w of writes) expect(w).to.match(/^Every 100 ms, collected -\n\nWORKER +INTERFACE/);
      expect(mcrd.watchRequests).to.deep.equal([]);
    });
  });

  it('stats --inputs prints the worker input table', async () => {
    const { code, out } = await mcrctl('stats', '--inputs');
    expect(code).to.equal(0);
    expect(out).to.equal(
      [
        'WORKER  INTERFACE  FRAMES  BYTES  UNMATCHED  PARSE ERRORS  KERNEL DROPS  MERGED FRAMES  MERGED DATAGRAMS',
        '     0  eth0            9    900          1  truncated 2              3              0                 0',
        '',
      ].join('\n'),
    );
    const json = JSON.parse((await mcrctl('--json', 'stats', '--inputs')).out);
    expect(json.inputs[0]).to.deep.include({ interface: 'eth0', frames: '9', kernelDrops: '3' });
  });

  describe('log-level', () => {
    it('prints each facility and its level, with or without get', async () => {
      const expected = ['FACILITY    LEVEL', 'supervisor  info', 'api         info', 'worker      info', ''].join('\n');
      expect(await mcrctl('log-level')).to.deep.equal({ code: 0, out: expected, err: '' });
      expect((await mcrctl('log-level', 'get')).out).to.equal(expected);
      expect(JSON.parse((await mcrctl('log-level', '--json')).out)).to.deep.equal({ levels: { supervisor: 'info', api: 'info', worker: 'info' } });
    });

    it('sets one facility, or every facility without one', async () => {
      const one = await mcrctl('log-level', 'set', 'worker', 'debug');
      expect(one.code).to.equal(0);
      expect(one.out).to.equal(['Log level of worker set to debug.', 'FACILITY    LEVEL', 'supervisor  info', 'api         info', 'worker      debug', ''].join('\n'));
      const all = await mcrctl('log-level', 'set', 'warn');
      expect(all.out).to.match(/^Log level of every facility set to warn\./);
      expect(mcrd.logLevelRequests).to.deep.equal([
        { facility: 'worker', level: 'debug' },
        { facility: '', level: 'warn' },
      ]);
      await mcrctl('log-level', 'set', 'info');
    });

    it('exits 1 with mcrd\'s message for an unknown facility or level', async () => {
      expect(await mcrctl('log-level', 'set', 'bogus', 'debug')).to.deep.equal({ code: 1, out: '', err: 'mcrctl: invalid argument: facility: unknown facility "bogus"\n' });
      expect(await mcrctl('log-level', 'set', 'api', 'loud')).to.deep.equal({ code: 1, out: '', err: 'mcrctl: invalid argument: level: unknown level "loud"\n' });
    });
  });

  it('interfaces prints the interface table, and --json the response', async () => {
    await mcrctl(...ADD);
    const { code, out, err } = await mcrctl('interfaces');
    expect(err).to.equal('');
    expect(code).to.equal(0);
    expect(out).to.equal(
      [
        'NAME  INDEX  STATE     MTU  MAC                ADDRESSES    INPUT RULES     OUTPUT RULES',
        'eth0      2  up       1500  52:54:00:12:34:56  10.0.0.1/24  r-000000000001  -',
        'eth9      -  missing     -  -                  -            -               r-000000000001',
        '',
      ].join('\n'),
    );
    const json = JSON.parse((await mcrctl('interfaces', '--json')).out);
    expect(json.interfaces[0]).to.deep.equal({
      name: 'eth0',
      index: 2,
      exists: true,
      up: true,
      running: true,
      mtu: 1500,
      mac: '52:54:00:12:34:56',
      addresses: [{ address: '10.0.0.1', prefixLength: 24 }],
      inputRules: ['r-000000000001'],
    });
    expect(json.interfaces[1]).to.deep.equal({ name: 'eth9', outputRules: ['r-000000000001'] });
  });

  describe('events', () => {
    const at = '2024-01-02 15:04:05.678';

    it('prints one line per event, notes dropped events when their count grows, exits 0 on Ctrl-C after cancelling', async () => {
      const { code, writes, err } = await watchUntil(5, ['events']);
      expect(err).to.equal('');
      expect(code).to.equal(0);
      expect(mcrd.eventRequests).to.deep.equal([{ kinds: [] }]);
      expect(writes.slice(0, 5)).to.deep.equal([
        `${at}  interface          interface mcrtv0 (index 12) up\n`,
        `${at}  rule-status        rule r-000000000001: active\n`,
        `note: 5 events dropped because this client read too slowly (5 in all)\n${at}  interface-removed  interface mcrtv0 removed\n`,
        `${at}  drift              worker 0: drift repaired by resync\n`,
        `${at}  interface          interface mcrtv0 (index 12) up\n`,
      ]);
      await cancelsReach(1);
    });

    it('--kind asks mcrd for those kinds only; --json prints one WatchEventsResponse per line', async () => {
      const { code, writes } = await watchUntil(2, ['events', '--kind', 'interface-removed', '--kind', 'drift', '--json']);
      expect(code).to.equal(0);
      expect(mcrd.eventRequests).to.deep.equal([{ kinds: [EventKind.EVENT_KIND_INTERFACE_REMOVED, EventKind.EVENT_KIND_WORKER_DRIFT] }]);
      expect(writes.every((w) => w.endsWith('\n') && w.indexOf('\n') === w.length - 1), 'one line per message').to.equal(true);
      const [first, second] = writes.map((w) => JSON.parse(w));
      expect(first).to.deep.equal({
        event: { unixNanos: EVENT_TIME.toString(), kind: 'EVENT_KIND_INTERFACE_REMOVED', message: 'interface mcrtv0 removed' },
        droppedEvents: '5',
      });
      expect(second.event.kind).to.equal('EVENT_KIND_WORKER_DRIFT');
      await cancelsReach(1);
    });

    it('exits 1 with mcrd\'s message when the stream is refused, 3 when mcrd cannot be reached', async () => {
      mcrd.watchFailure = fail(grpc.status.RESOURCE_EXHAUSTED, 'too many event watchers (limit 64)');
      expect(await mcrctl('events')).to.deep.equal({ code: 1, out: '', err: 'mcrctl: resource exhausted: too many event watchers (limit 64)\n' });
      const missing = path.join(dir, 'absent.sock');
      const unreachable = await mcrctl('--socket', missing, 'events');
      expect(unreachable.code).to.equal(3);
      expect(unreachable.err).to.include(`cannot reach mcrd at unix:${missing} (no such socket)`);
    });

    describe('as a process', function () {
      // Each case starts mcrctl under ts-node, which takes a second or two.
      this.timeout(30_000);

      /** Runs `mcrctl events` in a child process; once it printed a line, `stop` ends it as a user would. */
      function runUntilStopped(stop: (child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; out: string; err: string }> {
        const main = path.resolve(__dirname, '../../clients/mcrctl/main.ts');
        const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', main, 'events'], {
          env: { ...process.env, MCR_SOCKET: socket },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const result = { code: null as number | null, out: '', err: '' };
        let stopped = false;
        child.stdout!.on('data', (chunk: Buffer) => {
          result.out += chunk.toString();
          if (!stopped && result.out.includes('\n')) {
            stopped = true;
            stop(child);
          }
        });
        child.stdout!.on('error', () => undefined); // destroyed on purpose by the closed-pipe case
        child.stderr!.on('data', (chunk: Buffer) => void (result.err += chunk.toString()));
        const guard = setTimeout(() => child.kill('SIGKILL'), 25_000);
        return new Promise((resolve) =>
          child.on('exit', (code) => {
            clearTimeout(guard);
            resolve({ ...result, code });
          }),
        );
      }

      it('exits 0 on SIGINT, cancelling the stream', async () => {
        const { code, out, err } = await runUntilStopped((child) => child.kill('SIGINT'));
        expect(err).to.equal('');
        expect(code).to.equal(0);
        expect(out).to.match(new RegExp(`^${at}  interface +interface mcrtv0`));
        await cancelsReach(1);
      });

      it('exits 0 when the reader of its output goes away, cancelling the stream', async () => {
        const { code, err } = await runUntilStopped((child) => child.stdout!.destroy());
        expect(err).to.equal('');
        expect(code).to.equal(0);
        await cancelsReach(1);
      });

      it('a one-shot command whose reader has gone (`| head`) ends with its own exit code, no stack trace', async () => {
        const main = path.resolve(__dirname, '../../clients/mcrctl/main.ts');
        for (const args of [['--help'], ['rule', 'list'], ['rule', 'get', 'absent']]) {
          const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', main, ...args], {
            env: { ...process.env, MCR_SOCKET: socket },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          child.stdout!.on('error', () => undefined);
          child.stdout!.destroy(); // gone before mcrctl (seconds to start under ts-node) writes
          let err = '';
          child.stderr!.on('data', (chunk: Buffer) => void (err += chunk.toString()));
          const guard = setTimeout(() => child.kill('SIGKILL'), 25_000);
          const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
          clearTimeout(guard);
          expect(err, args.join(' ')).to.not.include('EPIPE');
          expect(err, args.join(' ')).to.not.match(/^\s+at /m);
          expect(code, args.join(' ')).to.equal(args[1] === 'get' ? 1 : 0);
        }
      });
    });
  });
});
