/** The client library against a small in-process gRPC server (unix socket and loopback TCP). */
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { ApplyRulesRequest, ApplyRulesResponse, CreateRuleResponse, Rule, RuleServiceServer, RuleServiceService } from '../../gen/mcr/v1/rules';
import { GetVersionRequest, Interface, SystemServiceServer, SystemServiceService } from '../../gen/mcr/v1/system';
import { connect, formatGrpcError, McrCallError, McrClient, PROTOCOL_MAJOR } from '../../clients/lib';

describe('client library calls', () => {
  let dir: string;
  let socket: string;
  let tcpPort: number;
  let server: grpc.Server;
  const versionRequests: GetVersionRequest[] = [];
  let createCalls = 0;
  const applyRequests: ApplyRulesRequest[] = [];
  /** Replies to GetRule calls held back to make them miss their deadline; answered at teardown. */
  const held: Array<() => void> = [];
  const clients: McrClient[] = [];

  function client(options: Parameters<typeof connect>[0]): McrClient {
    const c = connect(options);
    clients.push(c);
    return c;
  }

  const eth0 = Interface.fromPartial({ name: 'eth0', index: 2, exists: true, up: true, running: true, mtu: 1500, addresses: [{ address: '10.0.0.1', prefixLength: 24 }], inputRules: ['r-1'] });
  const system: Pick<SystemServiceServer, 'getVersion' | 'listWorkers' | 'listInterfaces'> = {
    getVersion: (call, reply) => {
      versionRequests.push(call.request);
      reply(null, { serverVersion: '1.0.0', protocolMajor: 1, protocolMinor: 0, features: [], startedUnixNanos: 0n });
    },
    listWorkers: (_call, reply) => reply(null, { workers: [] }),
    listInterfaces: (_call, reply) => reply(null, { interfaces: [eth0, Interface.fromPartial({ name: 'eth9', outputRules: ['r-1'] })], nextPageToken: '' }),
  };
  const rules: RuleServiceServer = {
    /** Answers with the desired rules as added, and what it was asked in dryRun. */
    applyRules: (call, reply) => {
      applyRequests.push(call.request);
      reply(null, ApplyRulesResponse.fromPartial({ added: call.request.rules, storeGeneration: 7n, dryRun: call.request.dryRun, addedCount: call.request.rules.length }));
    },
    createRule: (_call, reply: grpc.sendUnaryData<CreateRuleResponse>) => {
      createCalls++;
      reply({ code: grpc.status.UNAVAILABLE, details: 'mcrd is shutting down' });
    },
    getRule: (_call, reply) => held.push(() => reply({ code: grpc.status.CANCELLED, details: 'test over' })),
    listRules: (_call, reply) => reply(null, { rules: [], storeGeneration: 0n, nextPageToken: '' }),
    updateRule: (_call, reply) => reply({ code: grpc.status.UNIMPLEMENTED, details: '' }),
    deleteRule: (_call, reply) => reply({ code: grpc.status.UNIMPLEMENTED, details: '' }),
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-client-'));
    socket = path.join(dir, 'mcr.sock');
    server = new grpc.Server();
    server.addService(SystemServiceService, system);
    server.addService(RuleServiceService, rules);
    const bind = (target: string) =>
      new Promise<number>((resolve, reject) =>
        server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
      );
    await bind(`unix:${socket}`);
    tcpPort = await bind('127.0.0.1:0');
  });

  after(() => {
    for (const c of clients) c.close();
    for (const answer of held) answer();
    server.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sends its protocol major with GetVersion unless told otherwise', async () => {
    versionRequests.length = 0;
    const mcr = client({ socket });
    expect((await mcr.getVersion()).serverVersion).to.equal('1.0.0');
    await mcr.getVersion({ clientProtocolMajor: 0 });
    expect(versionRequests).to.deep.equal([{ clientProtocolMajor: PROTOCOL_MAJOR }, { clientProtocolMajor: 0 }]);
    expect(PROTOCOL_MAJOR).to.equal(1);
  });

  it('lists interfaces, missing ones included', async () => {
    const { interfaces } = await client({ socket }).listInterfaces();
    expect(interfaces.map((i) => [i.name, i.exists])).to.deep.equal([['eth0', true], ['eth9', false]]);
    expect(interfaces[0]).to.deep.equal(eth0);
  });

  it('connects over TCP to an address', async () => {
    const mcr = client({ address: `127.0.0.1:${tcpPort}` });
    expect(mcr.target).to.equal(`127.0.0.1:${tcpPort}`);
    expect((await mcr.listRules()).rules).to.deep.equal([]);
  });

  it('sends a mutation once, even when the answer is UNAVAILABLE', async () => {
    createCalls = 0;
    const mcr = client({ socket });
    const err = await mcr.createRule({ rule: { name: 'x' } }).then(
      () => expect.fail('CreateRule succeeded'),
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(McrCallError);
    expect((err as McrCallError).connectFailure).to.equal(false);
    expect(formatGrpcError(err)).to.equal('unavailable: mcrd is shutting down');
    expect(createCalls).to.equal(1);
  });

  it('gives every call a deadline (per client and per call)', async () => {
    const mcr = client({ socket, timeoutMs: 150 });
    const started = Date.now();
    const err = (await mcr.getRule({ rule: 'slow' }).catch((e: unknown) => e)) as McrCallError;
    expect(Date.now() - started).to.be.within(100, 2000);
    expect(err.code).to.equal(grpc.status.DEADLINE_EXCEEDED);
    expect(err.connectFailure).to.equal(false);
    expect(formatGrpcError(err)).to.equal('deadline exceeded: mcrd did not answer GetRule within 150 ms');
    const perCall = (await mcr.getRule({ rule: 'slow' }, { timeoutMs: 50 }).catch((e: unknown) => e)) as McrCallError;
    expect(perCall.timeoutMs).to.equal(50);
  });

  it('waits for readiness, and says when mcrd cannot be reached', async () => {
    await client({ socket }).waitForReady(2000);
    const missing = path.join(dir, 'absent.sock');
    const absent = client({ socket: missing });
    const err = (await absent.waitForReady(200).catch((e: unknown) => e)) as McrCallError;
    expect(err).to.be.instanceOf(McrCallError);
    expect(err.connectFailure).to.equal(true);
    expect(formatGrpcError(err)).to.equal(`cannot reach mcrd at unix:${missing} (no connection within 200 ms): is mcrd running?`);
    const call = (await absent.listWorkers().catch((e: unknown) => e)) as McrCallError;
    expect(call.connectFailure).to.equal(true);
    expect(formatGrpcError(call)).to.include('(no such socket)');
  });

  it('refuses a bad timeout', () => {
    expect(() => connect({ socket, timeoutMs: 0 })).to.throw(RangeError);
  });

  it('applyRules sends the desired set with its flags and resolves to the diff', async () => {
    applyRequests.length = 0;
    const rule = { name: 'cam1', input: { interface: 'eth0', group: '239.0.0.1', port: 5000 }, outputs: [{ interface: 'eth1', address: '239.9.9.9', port: 6000, ttl: 4 }] };
    const response = await client({ socket }).applyRules({ rules: [rule], replace: true, dryRun: true, expectedGeneration: 6n });
    expect(applyRequests).to.deep.equal([ApplyRulesRequest.fromPartial({ rules: [rule], replace: true, dryRun: true, expectedGeneration: 6n })]);
    expect(response.added).to.deep.equal([Rule.fromPartial(rule)]);
    expect(response.storeGeneration).to.equal(7n);
    expect(response.dryRun).to.equal(true);
  });

  it('applyRules fails a request it cannot encode with INTERNAL, naming the field', async () => {
    applyRequests.length = 0;
    const err = await client({ socket }).applyRules({ rules: [{ name: 'cam1', input: { port: 70000 * 70000 } }] }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(McrCallError).with.property('code', grpc.status.INTERNAL);
    expect((err as McrCallError).details).to.include('Input.port');
    expect(applyRequests).to.deep.equal([]);
  });

  it('rejects calls made after close', async () => {
    const mcr = connect({ socket });
    mcr.close();
    const err = await mcr.listRules().catch((e: unknown) => e);
    expect(err).to.be.instanceOf(Error).with.property('message').that.includes('shut down');
  });
});
