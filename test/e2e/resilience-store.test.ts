/**
 * Resilience of the rule store and of the process tree when mcrd itself dies:
 *
 * - mcrd is killed with SIGKILL in the middle of 20 rule changes (creates, updates, deletes), while a
 *   flow runs through another rule. Its workers must not survive it (within 1 s, and no packet is
 *   forwarded after they are gone); started again on the same state directory, it must hold exactly
 *   the changes it acknowledged (the change in flight when it died may be there or not).
 * - a rules.json (the snapshot) cut short in the middle of the JSON, or empty, makes mcrd refuse to
 *   start, name the file, and leave it exactly as it was.
 */
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';

import { Rule } from '../../gen/mcr/v1/rules';
import { JOURNAL_FILE_NAME, RuleStore } from '../../server/rules/store';
import { writeStore } from '../../server/rules/store-file';
import { useRelay } from '../support/fixture';
import { expectCleanStop, reportMeasured } from '../support/faults';
import { McrClient, RuleSpec } from '../support/grpc';
import { NET } from '../support/netns';
import { describeValue, sleep, waitFor } from '../support/poll';
import { ProcessTracker, readProcess, workerProcessesOf } from '../support/processes';
import { waitForRulePackets, waitForRuleState } from '../support/rules';
import { endpointIn, runStreams } from '../support/streams';
import { receivedStream } from '../support/traffic';

const CHANGES = 20;
/** The kill comes after this many acknowledged changes, drawn at random in [MIN, MAX]. */
const KILL_AFTER_MIN = 6;
const KILL_AFTER_MAX = 15;
/** The kill comes this long after the in-flight change was sent, drawn at random in [0, MAX]: before it
 * reaches mcrd, while mcrd stores it, or after. */
const KILL_DELAY_MAX_MS = 8;
/** Workers must be dead this soon after mcrd was killed. */
const WORKERS_GONE_LIMIT_MS = 1000;

const BASE_INPUT = { address: '239.7.0.1', port: 5300 };
const BASE_OUTPUT = { address: '239.9.7.1', port: 6300 };
const BASE_PACKETS = 5000;

/** The fields a test sets: what must survive a crash unchanged. */
function definitionKey(rule: RuleSpec): string {
  const r = Rule.fromPartial(rule);
  return describeValue({
    name: r.name,
    input: { interface: r.input?.interface, group: r.input?.group, port: r.input?.port, source: r.input?.source },
    outputs: r.outputs.map((o) => ({ interface: o.interface, address: o.address, port: o.port })),
  });
}

/** A rule as it must be stored; generation undefined when any generation will do. */
interface Expected {
  key: string;
  generation?: bigint;
}
type StoreState = Map<string, Expected>;

function stateOf(rules: Rule[]): StoreState {
  return new Map(rules.map((r) => [r.name, { key: definitionKey(r), generation: r.generation }]));
}

function sameState(listed: StoreState, expected: StoreState): boolean {
  if (listed.size !== expected.size) return false;
  for (const [name, want] of expected) {
    const got = listed.get(name);
    if (!got || got.key !== want.key || (want.generation !== undefined && got.generation !== want.generation)) return false;
  }
  return true;
}

function changeSpec(i: number, outputPort: number): RuleSpec {
  return {
    name: `change-${String(i).padStart(2, '0')}`,
    input: { interface: NET.relayIn.ifname, group: `239.7.1.${i + 1}`, port: 5400 + i },
    outputs: [{ interface: NET.relayOut2.ifname, address: '239.9.7.2', port: outputPort }],
  };
}

/** One change: its description, the call, and what the store holds once it is applied. */
interface Change {
  what: string;
  call: (client: McrClient) => Promise<Rule>;
  applied: (state: StoreState, reply?: Rule) => StoreState;
}

/**
 * Change `i` of the loop, given what is acknowledged so far: three creates, then an update of the
 * newest rule, then a delete of the oldest, over and over.
 */
function changeAt(i: number, acknowledged: StoreState): Change {
  const names = [...acknowledged.keys()].filter((name) => name.startsWith('change-')).sort();
  const withRule = (state: StoreState, name: string, spec: RuleSpec, reply?: Rule) =>
    new Map(state).set(name, reply ? { key: definitionKey(reply), generation: reply.generation } : { key: definitionKey(spec) });
  const step = i % 5;
  if (step === 3 && names.length > 0) {
    const name = names[names.length - 1];
    const spec = changeSpec(Number(name.slice('change-'.length)), 6500 + i);
    return { what: `update ${name}`, call: (c) => c.updateRule(name, spec), applied: (state, reply) => withRule(state, name, spec, reply) };
  }
  if (step === 4 && names.length > 0) {
    const name = names[0];
    return {
      what: `delete ${name}`,
      call: (c) => c.deleteRule(name),
      applied: (state) => {
        const next = new Map(state);
        next.delete(name);
        return next;
      },
    };
  }
  const spec = changeSpec(i, 6400);
  return { what: `create ${spec.name}`, call: (c) => c.createRule(spec), applied: (state, reply) => withRule(state, spec.name!, spec, reply) };
}

describe('e2e: resilience: mcrd killed during rule changes', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 2 });
  const processes = new ProcessTracker();

  it(`keeps exactly the acknowledged changes, and its workers die with it (SIGKILL amid ${CHANGES} changes)`, async function () {
    const { client } = relay;
    const base = await client.createRule({
      name: 'base',
      input: { interface: NET.relayIn.ifname, group: BASE_INPUT.address, port: BASE_INPUT.port },
      outputs: [{ interface: NET.relayOut1.ifname, ...BASE_OUTPUT }],
    });
    await waitForRuleState(client, base.id);
    let acknowledged = stateOf([base]);
    const killAfter = KILL_AFTER_MIN + Math.floor(Math.random() * (KILL_AFTER_MAX - KILL_AFTER_MIN + 1));
    const killDelayMs = Math.floor(Math.random() * (KILL_DELAY_MAX_MS + 1));
    const mcrdPid = relay.mcrd.pid!;
    processes.track(mcrdPid, 'killed mcrd');
    let inFlight: Change | undefined;
    let inFlightOutcome = '';
    let killedAt = 0;
    let workersGoneAt = 0;

    const traffic = await runStreams(relay.topology, {
      flows: [{ ...BASE_INPUT, count: BASE_PACKETS, size: 200, seed: 600 }],
      rate: 1000,
      sinks: { sink1: [endpointIn('sink1', BASE_OUTPUT.address, BASE_OUTPUT.port, BASE_PACKETS)] },
      during: async () => {
        await waitForRulePackets(client, base.id, 200, 20_000);
        const workers = workerProcessesOf(mcrdPid).map((w) => w.pid);
        expect(workers, 'worker processes of mcrd').to.have.length(2);
        workers.forEach((pid) => processes.track(pid, `worker of killed mcrd ${mcrdPid}`));

        for (let i = 0; i < killAfter; i++) {
          const change = changeAt(i, acknowledged);
          acknowledged = change.applied(acknowledged, await change.call(client));
        }
        inFlight = changeAt(killAfter, acknowledged);
        const call = inFlight.call(client).then(
          (reply) => ({ ok: true as const, reply }),
          (err: Error) => ({ ok: false as const, error: err.message }),
        );
        if (killDelayMs > 0) await sleep(killDelayMs);
        killedAt = Date.now();
        relay.mcrd.signal('SIGKILL');

        // Dead, as a zombie not yet reaped (by PID 1) or gone altogether: no worker runs any more.
        const running = () => workers.filter((pid) => (readProcess(pid)?.state ?? 'Z') !== 'Z');
        await waitFor('the killed mcrd\'s workers to be dead', async () => running(), (left) => left.length === 0, WORKERS_GONE_LIMIT_MS * 2, 10);
        workersGoneAt = Date.now();
        const outcome = await call;
        if (outcome.ok) acknowledged = inFlight.applied(acknowledged, outcome.reply); // it made it: acknowledged
        inFlightOutcome = outcome.ok ? 'acknowledged' : outcome.error;
        expect(await relay.mcrd.waitForExit(5000), 'how the killed mcrd ended').to.deep.include({ signal: 'SIGKILL' });
        // Let the sender go on for a while: nothing may be forwarded any more.
        await sleep(1000);
      },
    });

    const workersGoneAfterMs = workersGoneAt - killedAt;
    const stream = receivedStream(traffic.received.sink1!, BASE_OUTPUT.address, BASE_OUTPUT.port);
    reportMeasured('kill -9 mcrd', { killAfter, killDelayMs, inFlight: inFlight?.what, inFlightOutcome, workersGoneAfterMs, lastPacketAfterKillMs: Math.round((stream.lastArrivalUnixMs ?? 0) - killedAt) });
    expect(workersGoneAfterMs, 'ms from the kill until no worker of that mcrd runs').to.be.at.most(WORKERS_GONE_LIMIT_MS);
    expect(await relay.topology.pids('relay'), 'processes in the relay namespace after the kill').to.deep.equal([]);
    expect(stream.received, 'packets forwarded before the kill').to.be.greaterThan(0);
    // Arrivals carry the kernel's receive time in ns, Date.now() whole ms: the workers were seen gone
    // before workersGoneAt + 1, and a packet received in that same millisecond is not a late one.
    expect(stream.lastArrivalUnixMs, 'the last packet arrived before the workers were gone').to.be.below(workersGoneAt + 1);

    await relay.mcrd.start();
    const listed = stateOf((await relay.reconnect().listRules()).rules);
    const withInFlight = inFlight!.applied(acknowledged);
    const describe = (state: StoreState) => describeValue([...state].sort(([a], [b]) => a.localeCompare(b)));
    const restored = sameState(listed, acknowledged) ? 'the acknowledged changes' : sameState(listed, withInFlight) ? 'those and the change in flight' : 'something else';
    reportMeasured('restart after the kill', { rules: listed.size, restored });
    expect(
      restored !== 'something else',
      `rules after the restart:\n  ${describe(listed)}\nacknowledged:\n  ${describe(acknowledged)}\nor with "${inFlight!.what}" applied:\n  ${describe(withInFlight)}`,
    ).to.equal(true);
  });

  it('leaves no mcrd or worker process behind when mcrd stops', async function () {
    await expectCleanStop(relay, processes);
  });
});

describe('e2e: resilience: a damaged rules.json', function () {
  this.timeout(60_000);
  const relay = useRelay({ workers: 1 });
  const processes = new ProcessTracker();
  const names = ['kept-1', 'kept-2', 'kept-3'];

  /** Starts mcrd over `content` as rules.json: it must refuse, name the file, and leave it as it was. */
  async function expectRefusedWith(content: string): Promise<void> {
    const { mcrd } = relay;
    const file = path.join(mcrd.stateDir, 'rules.json');
    fs.writeFileSync(file, content, { mode: 0o600 });
    const before = fs.statSync(file);
    const logged = mcrd.logs().length;
    const status = await mcrd.runUntilExit();
    const output = mcrd.logs().slice(logged);
    expect(status, `how mcrd ended; output:\n${output}`).to.deep.include({ signal: null });
    expect(status.code, `exit code; output:\n${output}`).to.be.a('number').and.not.equal(0);
    expect(output).to.include(`rule store ${file} is corrupt`);
    expect(fs.readFileSync(file, 'utf8'), 'content of rules.json').to.equal(content);
    const after = fs.statSync(file);
    expect([after.ino, after.mtimeMs, after.mode], 'inode, mtime and mode of rules.json').to.deep.equal([before.ino, before.mtimeMs, before.mode]);
    expect(fs.readdirSync(mcrd.stateDir), 'files in the state directory').to.deep.equal(['rules.json']);
    await waitFor('no process left in the relay namespace', () => relay.topology.pids('relay'), (pids) => pids.length === 0, 5000);
  }

  it('cut short in the middle of the JSON, or empty: mcrd refuses to start, names it, leaves it as it was', async function () {
    for (const [i, name] of names.entries()) {
      await relay.client.createRule({
        name,
        input: { interface: NET.relayIn.ifname, group: `239.8.0.${i + 1}`, port: 5500 },
        outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.8.1', port: 6500 }],
      });
    }
    expect(await relay.mcrd.stop(), 'mcrd exit on SIGTERM').to.deep.equal({ code: 0, signal: null, killed: false });
    const file = path.join(relay.mcrd.stateDir, 'rules.json');
    // The three changes are in the journal: made a snapshot alone, as a compaction leaves it.
    const stored = await RuleStore.open(relay.mcrd.stateDir, { maxRules: 10, maxOutputsPerRule: 4 });
    await writeStore(file, { generation: stored.generation, rules: stored.list() });
    await stored.close();
    fs.rmSync(path.join(relay.mcrd.stateDir, JOURNAL_FILE_NAME));
    const good = fs.readFileSync(file, 'utf8');
    // Cut inside the second rule: a torn write of a store that was valid.
    const cut = good.slice(0, good.indexOf(names[1]) + 3);
    expect(() => JSON.parse(cut), 'the truncated store is not valid JSON').to.throw();

    await expectRefusedWith(cut);
    await expectRefusedWith('');

    // Put back, the store is read again in full: nothing was replaced behind the test's back.
    fs.writeFileSync(file, good, { mode: 0o600 });
    await relay.mcrd.start();
    expect((await relay.reconnect().listRules()).rules.map((r) => r.name).sort()).to.deep.equal(names);
  });

  it('leaves no mcrd or worker process behind when mcrd stops', async function () {
    await expectCleanStop(relay, processes);
  });
});
