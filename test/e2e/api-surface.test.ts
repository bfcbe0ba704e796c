/**
 * The API as a client without mcr's proto files meets it: server reflection lists every service and
 * serves descriptors that decode and link (what `grpcurl -plaintext -unix SOCK list|describe` needs),
 * standard health, the socket's permissions, GetVersion's protocol check, and ListWorkers.
 */
import { credentials, Metadata, ServiceError, status } from '@grpc/grpc-js';
import { expect } from 'chai';
import fs from 'fs';

import { PROTOCOL_HEADER, PROTOCOL_MAJOR } from '../../clients/lib/version';
import { ListRulesRequest, RuleServiceClient } from '../../gen/mcr/v1/rules';
import { WorkerState } from '../../gen/mcr/v1/system';
import { useRelay } from '../support/fixture';
import { grpcFailure, namesField, statusName } from '../support/grpc';
import { ReflectionClient } from '../support/reflection';
import { waitForWorkersInSync } from '../support/rules';

const WORKERS = 2;
const MCR_SERVICES = ['mcr.v1.RuleService', 'mcr.v1.SystemService', 'mcr.v1.StatsService', 'mcr.v1.TraceService'];
const STANDARD_SERVICES = ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];
const RULE_METHODS = ['ApplyRules', 'CreateRule', 'GetRule', 'ListRules', 'UpdateRule', 'DeleteRule'];
const NOBODY = 65534;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('e2e: API surface', function () {
  this.timeout(60_000);
  const relay = useRelay({ workers: WORKERS });

  describe('server reflection', function () {
    let reflection: ReflectionClient | null = null;
    before(() => {
      reflection = new ReflectionClient(relay.mcrd.socketPath);
    });
    after(() => {
      reflection?.close();
      reflection = null;
    });

    it('lists the mcr.v1 services, health and reflection', async function () {
      const services = await reflection!.listServices();
      for (const name of [...MCR_SERVICES, ...STANDARD_SERVICES]) expect(services, 'services listed by reflection').to.include(name);
    });

    it('serves the file declaring mcr.v1.RuleService, which decodes and links with its imports', async function () {
      const { files, registry } = await reflection!.describeSymbol('mcr.v1.RuleService');
      expect(files[0].name, 'the file declaring it comes first').to.equal('mcr/v1/rules.proto');
      expect(files.map((f) => f.package), 'packages of the files served').to.satisfy((packages: string[]) => packages.every((p) => p === 'mcr.v1' || p === 'google.protobuf'));
      const service = registry.getService('mcr.v1.RuleService');
      expect(service, 'mcr.v1.RuleService in the linked descriptors').to.not.equal(undefined);
      expect(service!.methods.map((m) => m.name)).to.have.members(RULE_METHODS);
      const create = service!.methods.find((m) => m.name === 'CreateRule')!;
      expect(create.input.typeName).to.equal('mcr.v1.CreateRuleRequest');
      expect(create.output.typeName).to.equal('mcr.v1.CreateRuleResponse');
      const ruleField = create.input.fields.find((f) => f.name === 'rule');
      expect(ruleField?.message?.typeName, 'CreateRuleRequest.rule').to.equal('mcr.v1.Rule');
      expect(create.input.fields.map((f) => f.name), 'CreateRuleRequest fields').to.include('validate_only');
      expect(registry.getMessage('mcr.v1.Rule')?.fields.map((f) => f.name), 'Rule fields').to.include.members(['id', 'name', 'input', 'outputs']);
    });

    it('resolves, as grpcurl does, every method of every listed service and every type they use', async function () {
      const services = await reflection!.listServices();
      let types = 0;
      for (const name of services) {
        const { registry } = await reflection!.describeSymbol(name);
        const service = registry.getService(name);
        expect(service, `${name} in the descriptors served for it`).to.not.equal(undefined);
        expect(service!.methods.length, `methods of ${name}`).to.be.greaterThan(0);
        const seen = new Set<string>();
        const resolve = (typeName: string, from: string): void => {
          if (seen.has(typeName)) return;
          seen.add(typeName);
          const message = registry.getMessage(typeName);
          expect(message, `${typeName} (${from}) resolves`).to.not.equal(undefined);
          for (const field of message!.fields) {
            const at = `${typeName}.${field.name}`;
            if (field.message) resolve(field.message.typeName, at);
            if (field.enum) expect(registry.getEnum(field.enum.typeName), `${field.enum.typeName} (${at}) resolves`).to.not.equal(undefined);
          }
        };
        for (const method of service!.methods) {
          resolve(method.input.typeName, `${name}.${method.name} request`);
          resolve(method.output.typeName, `${name}.${method.name} response`);
        }
        types += seen.size;
      }
      for (const name of MCR_SERVICES) expect(services, 'services listed').to.include(name);
      expect(types, 'message types resolved').to.be.greaterThan(40);
    });
  });

  it('health: the overall service "" is SERVING', async function () {
    expect(await relay.client.healthStatus()).to.equal('SERVING');
  });

  it('the unix socket has mode 0660', function () {
    const stat = fs.statSync(relay.mcrd.socketPath);
    expect(stat.isSocket(), `${relay.mcrd.socketPath} is a socket`).to.equal(true);
    expect((stat.mode & 0o7777).toString(8)).to.equal('660');
  });

  it('GetVersion reports protocol 1 and its features', async function () {
    const version = await relay.client.getVersion();
    expect(version.protocolMajor).to.equal(1);
    expect(version.serverVersion).to.match(/^\d+\.\d+\.\d+/);
    expect(version.features).to.include.members(['rules', 'validate_only', 'apply_rules', 'workers', 'health', 'reflection']);
  });

  it('GetVersion from a client of protocol 2 is FAILED_PRECONDITION naming client_protocol_major', async function () {
    const err = await grpcFailure(relay.client.getVersion(2));
    expect(statusName(err.code), err.details).to.equal(statusName(status.FAILED_PRECONDITION));
    expect(namesField(err.details, 'client_protocol_major'), `"${err.details}" names client_protocol_major`).to.equal(true);
  });

  it('any call from a client saying it speaks protocol 2 is FAILED_PRECONDITION, saying so plainly; the library says 1', async function () {
    const rules = new RuleServiceClient(`unix:${relay.mcrd.socketPath}`, credentials.createInsecure());
    try {
      const listWith = (major: string | null) =>
        new Promise<ServiceError | null>((resolve) => {
          const metadata = new Metadata();
          if (major !== null) metadata.set(PROTOCOL_HEADER, major);
          rules.listRules(ListRulesRequest.fromPartial({}), metadata, { deadline: Date.now() + 5000 }, (err) => resolve(err));
        });
      const skewed = await listWith('2');
      expect(skewed && statusName(skewed.code)).to.equal(statusName(status.FAILED_PRECONDITION));
      expect(skewed!.details).to.match(/this client speaks mcr protocol 2\.x and this mcrd \S+ speaks 1\.\d+: use a client of the same major version/);
      expect(await listWith(String(PROTOCOL_MAJOR)), 'the same major').to.equal(null);
      expect(await listWith(null), 'a client that does not say (grpcurl)').to.equal(null);
    } finally {
      rules.close();
    }
  });

  it('ListWorkers: every requested worker runs as uid 65534, alive, with the expected rule set', async function () {
    const workers = await waitForWorkersInSync(relay.client, WORKERS);
    expect(workers.map((w) => w.index).sort()).to.deep.equal([...Array(WORKERS).keys()]);
    expect(new Set(workers.map((w) => w.pid)).size, 'distinct pids').to.equal(WORKERS);
    for (const worker of workers) {
      const label = `worker ${worker.index}`;
      expect(worker.state, `${label} state`).to.equal(WorkerState.WORKER_STATE_RUNNING);
      expect(worker.uid, `${label} uid`).to.equal(NOBODY);
      expect(worker.pid, `${label} pid`).to.be.greaterThan(0);
      expect(isAlive(worker.pid), `${label} pid ${worker.pid} is alive`).to.equal(true);
      expect(fs.statSync(`/proc/${worker.pid}`).uid, `${label} process owner`).to.equal(NOBODY);
      expect(worker.rulesetHash, `${label} ruleset hash`).to.not.equal('');
      expect(worker.rulesetHash, `${label} ruleset hash`).to.equal(worker.expectedRulesetHash);
    }
  });
});
