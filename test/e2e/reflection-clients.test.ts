/**
 * Clients no one here wrote, resolving the API through server reflection alone (no .proto file):
 *
 * - the descriptors served are, byte for byte, the ones `buf build` makes from proto/ (v1 and v1alpha);
 * - buf curl (Go, the strict resolver grpcurl also uses) lists every service and method and calls every
 *   RPC of every service, health included, unary and server streams;
 * - Python grpcio + protobuf (test/support/reflection_client.py) adds every served file to a descriptor
 *   pool, builds every message class and calls every unary RPC and a stream of each streaming service;
 * - every example of docs/reference/grpcurl.md runs, in document order, as buf curl (grpcurl itself is
 *   not packaged in Debian 12): `mcr list` as --list-services, `mcr describe SERVICE` as --list-methods,
 *   `mcr describe .MESSAGE` through the Python client's descriptor pool, `mcr -d JSON METHOD` as a call.
 *
 * One mcrd, in a namespace with the documents' interfaces (eth0, eth1, wg0).
 */
import { expect } from 'chai';
import { execFileSync, spawn } from 'child_process';
import fs from 'fs';
import path from 'path';

import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { sliceFileDescriptorSet } from '../../server/api/descriptor-set';
import { BadRequest, ErrorInfo } from '../../gen/google/rpc/error_details';
import { BUF, bufCurl, BufCurlResult, bufCurlList, describeRun, parseJsonSequence } from '../support/buf-curl';
import { withoutComment } from '../support/doc-commands';
import { useNamespacedMcrd } from '../support/fixture';
import { ReflectionClient, ReflectionVersion } from '../support/reflection';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const PYTHON_CLIENT = path.join(REPO_ROOT, 'test', 'support', 'reflection_client.py');
/** Debian's Python, the one python3-grpcio and python3-protobuf are installed for. */
const PYTHON = '/usr/bin/python3';
const MCR_SERVICES = ['mcr.v1.RuleService', 'mcr.v1.StatsService', 'mcr.v1.SystemService', 'mcr.v1.TraceService'];
const SERVICES = [...MCR_SERVICES, 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];
/** How long a server stream is left open before the client's deadline ends it. */
const STREAM_TIMEOUT = '1.5s';

/** A rule of this test's own, apart from the documents' camera1. */
const RULE = {
  name: 'reflected',
  input: { interface: 'eth0', group: '239.1.2.3', port: 5100 },
  outputs: [{ interface: 'eth1', address: '239.9.9.10', port: 6100, ttl: 4 }],
};

interface PythonCall {
  method: string;
  streaming: boolean;
  code: string;
  details: string;
  messages: Array<Record<string, unknown>>;
  /** A failed call's google.rpc.Status details, decoded with types from reflection. */
  statusDetails?: Array<{ type: string; value: Record<string, any> | null }>;
}
interface PythonOutput {
  services: string[];
  files: string[];
  messageClasses: number;
  calls: PythonCall[];
  describe: Record<string, { fields: Array<{ name: string; jsonName: string; type: string | number; map: boolean }> }>;
}

function runPython(plan: object): Promise<PythonOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [PYTHON_CLIENT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${PYTHON} ${PYTHON_CLIENT} exited ${code}:\n${stderr}`));
      else resolve(JSON.parse(stdout) as PythonOutput);
    });
    child.stdin.end(JSON.stringify(plan));
  });
}

/** The one response of a unary call that succeeded. */
function expectOne(result: BufCurlResult, method: string): Record<string, unknown> {
  expect(result.exitCode, describeRun(method, result)).to.equal(0);
  expect(result.messages, describeRun(method, result)).to.have.length(1);
  return result.messages[0];
}

/** A server stream ended by the client's deadline (not by an error of its own). */
function expectStreamRan(result: BufCurlResult, method: string): Array<Record<string, unknown>> {
  expect(result.error?.code, describeRun(method, result)).to.equal('deadline_exceeded');
  return result.messages;
}

describe('e2e: strict clients through server reflection alone (buf curl, Python grpcio)', function () {
  this.timeout(180_000);
  before(function () {
    expect(fs.existsSync(PYTHON), `${PYTHON} (sudo scripts/prerequisites installs python3-grpcio, python3-protobuf)`).to.equal(true);
  });
  const relay = useNamespacedMcrd('refl', { workers: 1, logLevel: 'warn' }, { start: true });
  const socket = () => relay.mcrd.socketPath;

  for (const version of ['v1', 'v1alpha'] as ReflectionVersion[]) {
    it(`serves (${version}) every file of \`buf build proto\` byte for byte, with its imports`, async function () {
      const built = execFileSync(BUF, ['build', 'proto', '--as-file-descriptor-set', '-o', '-'], { cwd: REPO_ROOT, maxBuffer: 64 << 20 });
      const files = sliceFileDescriptorSet(built);
      const reflection = new ReflectionClient(socket(), version);
      try {
        const servedMcr: string[] = [];
        for (const bytes of files) {
          const name = fromBinary(FileDescriptorProtoSchema, bytes).name;
          const served = await reflection.fileByFilename(name);
          expect(Buffer.compare(served[0], Buffer.from(bytes)), `${name}: served bytes equal buf build's`).to.equal(0);
          if (name.startsWith('mcr/v1/')) servedMcr.push(name);
        }
        expect(servedMcr.sort()).to.deep.equal(fs.readdirSync(path.join(REPO_ROOT, 'proto', 'mcr', 'v1')).map((f) => `mcr/v1/${f}`).sort());
        const { files: described } = await reflection.describeSymbol('mcr.v1.SystemService');
        expect(described[0].name).to.equal('mcr/v1/system.proto');
        expect(described[0].sourceCodeInfo?.location.length, 'comments (source info) come along').to.be.greaterThan(0);
        await reflection.fileContainingSymbol('mcr.v1.NoSuchThing').then(
          () => expect.fail('an unknown symbol was answered'),
          (err: Error) => expect(err.message).to.match(/error 5: symbol not found: mcr\.v1\.NoSuchThing/),
        );
      } finally {
        reflection.close();
      }
    });
  }

  it('buf curl lists every service and every method through reflection', async function () {
    expect(await bufCurlList(socket(), 'services')).to.include.members(SERVICES);
    const methods = await bufCurlList(socket(), 'methods');
    for (const method of ['mcr.v1.RuleService/CreateRule', 'mcr.v1.StatsService/WatchStats', 'mcr.v1.SystemService/GetVersion',
      'mcr.v1.TraceService/WatchTraces', 'grpc.health.v1.Health/Watch', 'grpc.reflection.v1.ServerReflection/ServerReflectionInfo']) {
      expect(methods, 'methods listed').to.include(method);
    }
    expect(methods.filter((m) => m.startsWith('mcr.v1.')), 'mcr.v1 methods listed').to.have.length(20);
  });

  it('buf curl calls every RPC of every service, unary and streaming, health included', async function () {
    const s = socket();
    const called = new Set<string>();
    const call = async (method: string, body: unknown, timeout?: string) => {
      called.add(method);
      return bufCurl(s, method, body, timeout);
    };
    const version = expectOne(await call('mcr.v1.SystemService/GetVersion', { clientProtocolMajor: 1 }), 'GetVersion');
    expect(version.protocolMajor).to.equal(1);
    expect(version.features).to.include('reflection');
    const workers = expectOne(await call('mcr.v1.SystemService/ListWorkers', {}), 'ListWorkers');
    expect((workers.workers as Array<{ uid: number; state: string }>)[0]).to.include({ uid: 65534, state: 'WORKER_STATE_RUNNING' });
    const set = expectOne(await call('mcr.v1.SystemService/SetLogLevel', { facility: 'net', level: 'debug' }), 'SetLogLevel');
    expect(set.levels, 'SetLogLevelResponse.levels, a map').to.include({ net: 'debug' });
    const levels = expectOne(await call('mcr.v1.SystemService/GetLogLevels', {}), 'GetLogLevels');
    expect(levels.levels, 'GetLogLevelsResponse.levels, a map').to.include({ net: 'debug', api: 'warn' });
    const interfaces = expectOne(await call('mcr.v1.SystemService/ListInterfaces', {}), 'ListInterfaces');
    const names = (interfaces.interfaces as Array<{ name: string }>).map((i) => i.name);
    expect(names).to.include.members(['eth0', 'eth1', 'wg0']);
    // Pages: a page of one, and the next through its token, as buf curl sends them back.
    const firstPage = expectOne(await call('mcr.v1.SystemService/ListInterfaces', { pageSize: 1 }), 'ListInterfaces page 1');
    expect(firstPage.interfaces).to.have.length(1);
    expect(firstPage.nextPageToken, 'ListInterfacesResponse.next_page_token').to.be.a('string');
    const secondPage = expectOne(await call('mcr.v1.SystemService/ListInterfaces', { pageSize: 1, pageToken: firstPage.nextPageToken }), 'ListInterfaces page 2');
    expect((secondPage.interfaces as Array<{ name: string }>).map((i) => i.name)).to.deep.equal([names[1]]);

    // WatchEvents sees the rule created while it runs.
    const events = call('mcr.v1.SystemService/WatchEvents', { kinds: ['EVENT_KIND_RULE_CHANGED'] }, '4s');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const created = expectOne(await call('mcr.v1.RuleService/CreateRule', { rule: RULE }), 'CreateRule');
    const id = (created.rule as { id: string }).id;
    expect(created.rule).to.include({ name: 'reflected' });
    const seen = expectStreamRan(await events, 'WatchEvents');
    expect(JSON.stringify(seen), 'WatchEvents: the rule change').to.include('reflected');

    expect((expectOne(await call('mcr.v1.RuleService/GetRule', { rule: 'reflected' }), 'GetRule')).rule).to.include({ id });
    const list = expectOne(await call('mcr.v1.RuleService/ListRules', {}), 'ListRules');
    expect((list.rules as Array<{ name: string }>).map((r) => r.name)).to.include('reflected');
    // (states are sent by name in the error details test below: a rule just created may still be being installed.)
    const filter = { inputInterface: 'eth0', groupPrefix: '239.1.2.0/24', namePrefix: 'refl' };
    const filtered = expectOne(await call('mcr.v1.RuleService/ListRules', { pageSize: 10, filter }), 'ListRules with a filter');
    expect((filtered.rules as Array<{ name: string }>).map((r) => r.name), 'RuleFilter through reflection').to.deep.equal(['reflected']);
    expect(filtered.storeGeneration).to.match(/^\d+$/);
    const unselected = expectOne(await call('mcr.v1.RuleService/ListRules', { filter: { groupPrefix: '239.2.0.0/16' } }), 'ListRules, none selected');
    expect(unselected.rules ?? []).to.deep.equal([]);
    const updated = expectOne(
      await call('mcr.v1.RuleService/UpdateRule', { rule: id, definition: { ...RULE, outputs: [{ ...RULE.outputs[0], ttl: 9 }] }, expectedGeneration: '1' }),
      'UpdateRule',
    );
    expect(JSON.stringify(updated), 'UpdateRule: the new TTL').to.include('"ttl":9');
    const applied = expectOne(await call('mcr.v1.RuleService/ApplyRules', { rules: [RULE], dryRun: true }), 'ApplyRules');
    expect(applied, 'ApplyRules (dry run) answers').to.be.an('object');

    const stats = expectOne(await call('mcr.v1.StatsService/GetStats', { rule: 'reflected' }), 'GetStats');
    expect(JSON.stringify(stats.rules), 'GetStats: the rule').to.include(id);
    const statsPage = expectOne(await call('mcr.v1.StatsService/GetStats', { pageSize: 500, filter: { namePrefix: 'refl' } }), 'GetStats with a filter');
    expect((statsPage.rules as Array<{ ruleId: string }>).map((r) => r.ruleId)).to.deep.equal([id]);
    expect(statsPage.storeGeneration).to.match(/^\d+$/);
    const workerStats = expectOne(await call('mcr.v1.StatsService/GetWorkerStats', {}), 'GetWorkerStats');
    expect(workerStats.collectedUnixNanos).to.match(/^\d+$/);
    const watched = expectStreamRan(
      await call('mcr.v1.StatsService/WatchStats', { rules: ['reflected'], filter: { inputInterface: 'eth0' }, intervalMs: 200 }, STREAM_TIMEOUT),
      'WatchStats',
    );
    expect((watched[0].rules as Array<{ ruleId: string }>).map((r) => r.ruleId), 'WatchStats selects by rules and filter').to.deep.equal([id]);
    expect(watched.length, 'WatchStats updates').to.be.greaterThan(1);
    expect(watched[0].intervalMs).to.equal(200);

    const enabled = expectOne(await call('mcr.v1.TraceService/EnableTrace', { rule: 'reflected', sampleEvery: 1 }), 'EnableTrace');
    expect(JSON.stringify(enabled), 'EnableTrace: running').to.include('RUNNING');
    expectStreamRan(await call('mcr.v1.TraceService/WatchTraces', {}, STREAM_TIMEOUT), 'WatchTraces');
    const trace = expectOne(await call('mcr.v1.TraceService/GetTrace', { rule: 'reflected' }), 'GetTrace');
    expect(JSON.stringify(trace)).to.include(id);
    const traces = expectOne(await call('mcr.v1.TraceService/ListTraces', { pageSize: 1000 }), 'ListTraces');
    expect(JSON.stringify(traces)).to.include(id);
    const disabled = expectOne(await call('mcr.v1.TraceService/DisableTrace', { rule: 'reflected' }), 'DisableTrace');
    expect(JSON.stringify(disabled)).to.include(id);

    const deleted = await call('mcr.v1.RuleService/DeleteRule', { rule: id });
    expect(deleted.exitCode, describeRun('DeleteRule', deleted)).to.equal(0);
    const gone = await call('mcr.v1.RuleService/GetRule', { rule: id });
    expect(gone.error?.code, describeRun('GetRule after DeleteRule', gone)).to.equal('not_found');

    expect((expectOne(await call('grpc.health.v1.Health/Check', { service: '' }), 'Check')).status).to.equal('SERVING');
    const health = expectStreamRan(await call('grpc.health.v1.Health/Watch', { service: 'mcr.v1.RuleService' }, STREAM_TIMEOUT), 'Watch');
    expect(health[0]?.status).to.equal('SERVING');
    const statuses = (expectOne(await call('grpc.health.v1.Health/List', {}), 'List')).statuses as Record<string, { status: string }>;
    expect(statuses['mcr.v1.RuleService'].status, 'HealthListResponse.statuses, a map').to.equal('SERVING');

    const every = (await bufCurlList(socket(), 'methods')).filter((m) => !m.startsWith('grpc.reflection.'));
    expect([...called].sort(), 'every RPC called').to.deep.equal(every.sort());
  });

  it('Python grpcio adds every served file to a descriptor pool and calls every unary RPC and each service stream', async function () {
    const out = await runPython({
      socket: socket(),
      calls: [
        { method: 'mcr.v1.SystemService/GetVersion', body: { clientProtocolMajor: 1 } },
        { method: 'mcr.v1.SystemService/ListWorkers' },
        { method: 'mcr.v1.SystemService/SetLogLevel', body: { facility: 'api', level: 'info' } },
        { method: 'mcr.v1.SystemService/GetLogLevels' },
        { method: 'mcr.v1.SystemService/ListInterfaces', body: { pageSize: 1 } },
        { method: 'mcr.v1.RuleService/CreateRule', body: { rule: { ...RULE, name: 'python' } } },
        { method: 'mcr.v1.RuleService/GetRule', body: { rule: 'python' } },
        { method: 'mcr.v1.RuleService/ListRules' },
        { method: 'mcr.v1.RuleService/ListRules', body: { pageSize: 1, filter: { namePrefix: 'pyth', groupPrefix: '239.1.2.3' } } },
        { method: 'mcr.v1.RuleService/UpdateRule', body: { rule: 'python', definition: { ...RULE, name: 'python', outputs: [{ ...RULE.outputs[0], ttl: 7 }] } } },
        { method: 'mcr.v1.RuleService/ApplyRules', body: { rules: [RULE], dryRun: true } },
        { method: 'mcr.v1.StatsService/GetStats', body: { rule: 'python', pageSize: 10, filter: { inputInterface: 'eth0' } } },
        { method: 'mcr.v1.StatsService/GetWorkerStats' },
        { method: 'mcr.v1.StatsService/WatchStats', body: { rules: ['python'], filter: { groupPrefix: '239.1.0.0/16' }, intervalMs: 100 }, maxMessages: 2 },
        { method: 'mcr.v1.TraceService/EnableTrace', body: { rule: 'python' } },
        { method: 'mcr.v1.TraceService/GetTrace', body: { rule: 'python' } },
        { method: 'mcr.v1.TraceService/ListTraces', body: { pageSize: 5 } },
        { method: 'mcr.v1.TraceService/WatchTraces', timeout: 1 },
        { method: 'mcr.v1.TraceService/DisableTrace', body: { rule: 'python' } },
        { method: 'mcr.v1.SystemService/WatchEvents', timeout: 1 },
        { method: 'mcr.v1.RuleService/DeleteRule', body: { rule: 'python' } },
        { method: 'grpc.health.v1.Health/Check' },
        { method: 'grpc.health.v1.Health/Watch', body: { service: 'mcr.v1.StatsService' } },
        { method: 'grpc.health.v1.Health/List' },
      ],
      describe: ['mcr.v1.GetLogLevelsResponse', 'grpc.health.v1.HealthListResponse'],
    });
    expect(out.services).to.include.members(SERVICES);
    expect(out.files).to.include.members(['mcr/v1/rules.proto', 'mcr/v1/stats.proto', 'mcr/v1/system.proto', 'mcr/v1/trace.proto', 'grpc/health/v1/health.proto']);
    expect(out.messageClasses, 'message classes built').to.be.greaterThan(60);
    const byMethod = new Map(out.calls.map((c) => [c.method, c]));
    for (const c of out.calls) {
      // The streams that see nothing within their second end by their deadline; every other call succeeds.
      const quiet = c.method.endsWith('/WatchTraces') || c.method.endsWith('/WatchEvents');
      expect(c.code, `${c.method}: ${c.details}`).to.equal(quiet ? 'DEADLINE_EXCEEDED' : 'OK');
    }
    const first = (method: string) => byMethod.get(method)!.messages[0] as Record<string, any>;
    expect(first('mcr.v1.SystemService/GetVersion').protocolMajor).to.equal(1);
    expect(first('mcr.v1.SystemService/GetLogLevels').levels).to.include({ api: 'info' });
    expect(first('mcr.v1.RuleService/GetRule').rule.name).to.equal('python');
    expect(JSON.stringify(first('mcr.v1.RuleService/UpdateRule'))).to.include('"ttl":7');
    expect(byMethod.get('mcr.v1.StatsService/WatchStats')!.messages).to.have.length(2);
    const pythonId = first('mcr.v1.RuleService/GetRule').rule.id;
    expect(first('mcr.v1.StatsService/WatchStats').rules.map((r: { ruleId: string }) => r.ruleId), 'WatchStats selects').to.deep.equal([pythonId]);
    expect(first('mcr.v1.StatsService/GetStats').rules.map((r: { ruleId: string }) => r.ruleId)).to.deep.equal([pythonId]);
    // The later ListRules call (a filter and a page size) is the one kept by method.
    expect(first('mcr.v1.RuleService/ListRules').rules.map((r: { name: string }) => r.name), 'RuleFilter').to.deep.equal(['python']);
    expect(first('mcr.v1.SystemService/ListInterfaces').interfaces).to.have.length(1);
    expect(first('mcr.v1.SystemService/ListInterfaces').nextPageToken, 'a page of one is followed by a token').to.be.a('string').and.not.equal('');
    expect(first('mcr.v1.TraceService/EnableTrace').status.state).to.equal('TRACE_STATE_RUNNING');
    expect(first('grpc.health.v1.Health/Watch').status).to.equal('SERVING');
    expect(first('grpc.health.v1.Health/List').statuses['mcr.v1.RuleService'].status).to.equal('SERVING');
    expect(out.describe['mcr.v1.GetLogLevelsResponse'].fields[0]).to.include({ type: 'mcr.v1.GetLogLevelsResponse.LevelsEntry', map: true });
    expect(out.describe['grpc.health.v1.HealthListResponse'].fields[0]).to.include({ type: 'grpc.health.v1.HealthListResponse.StatusesEntry', map: true });
  });

  it('error details: buf curl shows the BadRequest of an invalid CreateRule, with every violation', async function () {
    const method = 'mcr.v1.RuleService/CreateRule';
    const bad = { rule: { ...RULE, name: 'bad-curl', input: { ...RULE.input, port: 0 }, outputs: [{ ...RULE.outputs[0], ttl: 0 }] } };
    const result = await bufCurl(socket(), method, bad);
    expect(result.error?.code, describeRun(method, result)).to.equal('invalid_argument');
    const failure = parseJsonSequence(result.stderr).find((v) => typeof v.code === 'string')!;
    // buf curl prints each detail as its type and its bytes (base64): it names the type, the value is
    // decoded here (it adds a "debug" rendering only for types compiled into buf itself).
    const details = failure.details as Array<{ type: string; value: string }>;
    expect(details?.map((d) => d.type), describeRun(method, result)).to.deep.equal(['google.rpc.ErrorInfo', 'google.rpc.BadRequest']);
    expect(ErrorInfo.decode(Buffer.from(details[0].value, 'base64'))).to.deep.include({ reason: 'INVALID_RULE', domain: 'mcr.dev' });
    expect(BadRequest.decode(Buffer.from(details[1].value, 'base64')).fieldViolations.map((v) => [v.field, v.description])).to.deep.equal([
      ['rule.input.port', 'must be 1-65535, got 0'],
      ['rule.outputs[0].ttl', 'must be 1-255, got 0'],
    ]);
  });

  it('error details: buf curl shows the BadRequest of an invalid filter and page token', async function () {
    const method = 'mcr.v1.RuleService/ListRules';
    const result = await bufCurl(socket(), method, { filter: { groupPrefix: '239.1.2.0/16', states: ['RULE_STATE_VALIDATED'] } });
    expect(result.error?.code, describeRun(method, result)).to.equal('invalid_argument');
    const failure = parseJsonSequence(result.stderr).find((v) => typeof v.code === 'string')!;
    const details = failure.details as Array<{ type: string; value: string }>;
    expect(BadRequest.decode(Buffer.from(details[1].value, 'base64')).fieldViolations.map((v) => v.field)).to.deep.equal(['filter.group_prefix', 'filter.states[0]']);
    const token = await bufCurl(socket(), 'mcr.v1.TraceService/ListTraces', { pageToken: 'bm90LWEtdG9rZW4' });
    const tokenFailure = parseJsonSequence(token.stderr).find((v) => typeof v.code === 'string')!;
    const tokenDetails = tokenFailure.details as Array<{ type: string; value: string }>;
    expect(ErrorInfo.decode(Buffer.from(tokenDetails[0].value, 'base64')).reason).to.equal('INVALID_PAGE_TOKEN');
    expect(BadRequest.decode(Buffer.from(tokenDetails[1].value, 'base64')).fieldViolations.map((v) => v.field)).to.deep.equal(['page_token']);
  });

  it('error details: Python grpcio decodes them with types from reflection alone', async function () {
    const out = await runPython({
      socket: socket(),
      symbols: ['google.rpc.Status', 'google.rpc.BadRequest'],
      calls: [{ method: 'mcr.v1.RuleService/GetRule', body: { rule: 'no-such-rule' } }],
    });
    expect(out.files).to.include.members(['google/rpc/status.proto', 'google/rpc/error_details.proto']);
    const [call] = out.calls;
    expect(call.code).to.equal('NOT_FOUND');
    expect(call.statusDetails).to.deep.equal([
      { type: 'google.rpc.ErrorInfo', value: { reason: 'RULE_NOT_FOUND', domain: 'mcr.dev' } },
      { type: 'google.rpc.ResourceInfo', value: { resourceType: 'mcr.v1.Rule', resourceName: 'no-such-rule', description: 'no rule with id or name "no-such-rule"' } },
    ]);
  });

  it('runs every example of docs/reference/grpcurl.md in document order, as buf curl through reflection', async function () {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'reference', 'grpcurl.md'), 'utf8');
    const examples = [...doc.matchAll(/^mcr .*$/gm)].map((m) => withoutComment(m[0]));
    expect(examples.length, 'examples in the document').to.be.greaterThan(20);
    const s = socket();
    const streaming = new Set<string>();
    for (const service of SERVICES) {
      const reflection = new ReflectionClient(s);
      try {
        const found = (await reflection.describeSymbol(service)).registry.getService(service)!;
        for (const method of found.methods) if (method.methodKind === 'server_streaming') streaming.add(`${service}/${method.name}`);
      } finally {
        reflection.close();
      }
    }
    let ran = 0;
    for (const example of examples) {
      const call = /^mcr -d '(.*)' (\S+)$/.exec(example);
      const describe = /^mcr describe (\S+)/.exec(example);
      if (/^mcr list\b/.test(example)) {
        expect(await bufCurlList(s, 'services'), example).to.include.members(MCR_SERVICES);
      } else if (describe && !describe[1].startsWith('.')) {
        expect((await bufCurlList(s, 'methods')).filter((m) => m.startsWith(`${describe[1]}/`)), example).to.not.be.empty;
      } else if (describe) {
        const out = await runPython({ socket: s, describe: [describe[1].slice(1)] });
        expect(out.describe[describe[1].slice(1)].fields, example).to.not.be.empty;
      } else if (call) {
        const method = call[2];
        const body = JSON.parse(call[1]) as unknown;
        if (streaming.has(method)) {
          const result = await bufCurl(s, method, body, STREAM_TIMEOUT);
          expect(result.error?.code, `${example}\n${describeRun(method, result)}`).to.equal('deadline_exceeded');
        } else {
          const result = await bufCurl(s, method, body);
          expect(result.exitCode, `${example}\n${describeRun(method, result)}`).to.equal(0);
          expect(result.messages, `${example}\n${describeRun(method, result)}`).to.have.length(1);
        }
      } else {
        expect.fail(`an example this test does not know how to run: ${example}`);
      }
      ran++;
    }
    process.stdout.write(`      ran ${ran} of ${examples.length} examples\n`);
  });
});
