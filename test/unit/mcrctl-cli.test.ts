/**
 * mcrctl end to end, in process: argv -> main() -> gRPC over a unix socket -> a tiny in-memory
 * RuleService/SystemService/StatsService written here -> output and exit code. The fake only has to
 * be faithful enough to exercise the CLI; mcrd's real behaviour is tested in test/e2e.
 */
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import {
  CreateRuleRequest,
  ListRulesResponse,
  Rule,
  RuleServiceServer,
  RuleServiceService,
  RuleState,
  UpdateRuleRequest,
} from '../../gen/mcr/v1/rules';
import { GetStatsResponse, StatsServiceServer, StatsServiceService } from '../../gen/mcr/v1/stats';
import { GetVersionRequest, SystemServiceServer, SystemServiceService, Worker, WorkerState } from '../../gen/mcr/v1/system';
import { main } from '../../clients/mcrctl/main';

type Reply<T> = grpc.sendUnaryData<T>;
const fail = (code: grpc.status, details: string): Partial<grpc.StatusObject> => ({ code, details });

/** An in-memory rule store behind the generated service interfaces, recording every request. */
class FakeMcrd {
  readonly rules = new Map<string, Rule>();
  readonly created: CreateRuleRequest[] = [];
  readonly updated: UpdateRuleRequest[] = [];
  readonly versionRequests: GetVersionRequest[] = [];
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
    listRules: (_call, reply) => reply(null, { rules: [...this.rules.values()], storeGeneration: BigInt(this.rules.size) }),
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
      const next = Rule.fromPartial({ ...call.request.definition, id: rule.id, generation: rule.generation + 1n, status: rule.status });
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

  readonly systemService: Pick<SystemServiceServer, 'getVersion' | 'listWorkers'> = {
    getVersion: (call, reply) => {
      this.versionRequests.push(call.request);
      reply(null, { serverVersion: '9.8.7', protocolMajor: 1, protocolMinor: 2, features: ['rules', 'validate_only'], startedUnixNanos: 0n });
    },
    listWorkers: (_call, reply) =>
      reply(null, {
        workers: [
          Worker.fromPartial({ index: 0, pid: 101, uid: 65534, core: 0, state: WorkerState.WORKER_STATE_RUNNING, rules: this.rules.size, rulesetHash: 'abc', expectedRulesetHash: 'abc', restarts: 0, startedUnixNanos: 0n }),
        ],
      }),
  };

  readonly statsService: Pick<StatsServiceServer, 'getStats' | 'getWorkerStats'> = {
    getStats: (call, reply) => {
      const rules = [...this.rules.values()].filter((r) => !call.request.rule || r.id === call.request.rule || r.name === call.request.rule);
      reply(
        null,
        GetStatsResponse.fromPartial({
          rules: rules.map((r) => ({ ruleId: r.id, name: r.name, packetsReceived: 18446744073709551615n, packetsForwarded: 7n, outputs: [] })),
        }),
      );
    },
    getWorkerStats: (_call, reply) => reply(null, { inputs: [], collectedUnixNanos: 0n }),
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
    mcrd.beforeUpdate = () => {};
  });

  it('rule add sends the rule it was given and prints the created rule', async () => {
    const { code, out, err } = await mcrctl(...ADD);
    expect(err).to.equal('');
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

  it('rule update replaces only what is given and guards with the generation it read', async () => {
    await mcrctl(...ADD);
    const { code, out } = await mcrctl('rule', 'update', 'cam1', '--name', 'cam-main');
    expect(code).to.equal(0);
    expect(mcrd.updated).to.have.length(1);
    const request = mcrd.updated[0];
    expect(request.rule).to.equal('r-000000000001');
    expect(request.expectedGeneration).to.equal(1n);
    expect(request.validateOnly).to.equal(false);
    expect(request.definition?.name).to.equal('cam-main');
    expect(request.definition?.input).to.deep.equal({ interface: 'eth0', group: '239.0.0.1', port: 5000, source: '' });
    expect(request.definition?.outputs.map((o) => [o.interface, o.ttl])).to.deep.equal([['eth1', 4], ['wg0', 4]]);
    expect(out).to.match(/^Updated rule r-000000000001 \(cam-main\) to generation 2\.\n/);
  });

  it('rule update exits 1 with ABORTED when the rule changed after it was read', async () => {
    await mcrctl(...ADD);
    mcrd.beforeUpdate = (rule) => mcrd.rules.set(rule.id, { ...rule, generation: rule.generation + 1n });
    const { code, err } = await mcrctl('rule', 'update', 'cam1', '--out', 'eth2', '239.9.9.10:6000');
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
    expect(out).to.equal('INDEX  PID    UID  CORE  STATE    RULES  HASH\n    0  101  65534     0  running      0  abc\n');
  });

  it('a missing socket exits 3 with a hint naming the socket', async () => {
    const missing = path.join(dir, 'absent.sock');
    const { code, out, err } = await mcrctl('--socket', missing, 'rule', 'list');
    expect(code).to.equal(3);
    expect(out).to.equal('');
    expect(err).to.equal(`mcrctl: cannot reach mcrd at unix:${missing} (no such socket): is mcrd running? (set --socket or MCR_SOCKET)\n`);
  });
});
