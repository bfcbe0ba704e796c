/**
 * The rule store survives kill -9 of mcrd (docs/decisions/0023), 20 times in one run:
 *
 * - during churn: 50 clients create, update and delete rules of their own as fast as mcrd answers;
 *   mcrd is killed at a random moment. After the restart each client's rules are exactly what it
 *   was told was done, or that and the one change it had in flight (a change is one rule).
 * - during an ApplyRules of 20,000 rules (replacing a small set), killed either before the journal
 *   write or as soon as the journal starts to grow (amid the write or its fdatasync): after the kill
 *   the store holds the small set or all 20,000, nothing in between, and all 20,000 if the reply came.
 *
 * Every time the store must open as it is (a torn journal end is cut off by mcrd itself, nothing by
 * hand): read directly with RuleStore.open, and by mcrd started again on it. The rules name an
 * interface that does not exist, so they wait for it: no worker socket or traffic is involved.
 */
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';

import { ApplyRulesRequest, ApplyRulesView, Rule, RuleServiceClient } from '../../gen/mcr/v1/rules';
import { JOURNAL_FILE_NAME, RuleStore } from '../../server/rules/store';
import { reportMeasured } from '../support/faults';
import { useNamespacedMcrd } from '../support/fixture';
import { McrClient } from '../support/grpc';
import { sleep, waitFor } from '../support/poll';

const CHURN_KILLS = 13;
const APPLY_KILLS = 7;
const CLIENTS = 50;
/** Kill this long after the churn got going, drawn at random in [MIN, MAX]. */
const CHURN_KILL_MIN_MS = 0;
const CHURN_KILL_MAX_MS = 300;
/** Rules each client keeps at most; past that it deletes before it creates again. */
const RULES_PER_CLIENT = 4;
/** Changes one client makes in a round, at most (names and ports of each round are new). */
const SERIALS_PER_ROUND = 1000;
/** How a call in flight when mcrd died may fail: the connection's end, not a refusal. */
const CONNECTION_LOST = [grpc.status.UNAVAILABLE, grpc.status.CANCELLED, grpc.status.INTERNAL, grpc.status.UNKNOWN];
const APPLY_RULES = 20_000;
const BEFORE_APPLY_RULES = 10;
const LIMITS = { maxRules: 100_000, maxOutputsPerRule: 64 };
const MISSING_INTERFACE = 'crash0';

/** The fields that must survive, as one comparable string. */
function definitionKey(rule: Rule): string {
  const input = rule.input!;
  const outputs = rule.outputs.map((o) => `${o.interface} ${o.address}:${o.port}`).join(',');
  return `${rule.name} ${input.interface} ${input.group}:${input.port} -> ${outputs}`;
}

function churnRule(client: number, serial: number, port: number): Rule {
  return Rule.fromPartial({
    name: `c${client}-${serial}`,
    input: { interface: MISSING_INTERFACE, group: `239.100.${client}.${(serial % 250) + 1}`, port: 1000 + serial },
    outputs: [{ interface: MISSING_INTERFACE, address: '10.9.9.9', port }],
  });
}

/** Rule `i` of an apply: a group of its own, four outputs. */
function applyRule(i: number, prefix: string): Rule {
  return Rule.fromPartial({
    name: `${prefix}-${i}`,
    input: { interface: MISSING_INTERFACE, group: `239.${50 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}`, port: 5000 },
    outputs: [1, 2, 3, 4].map((k) => ({ interface: MISSING_INTERFACE, address: `10.0.${k}.${(i % 250) + 1}`, port: 6000 + k })),
  });
}

type Rules = Map<string, string>; // name -> definitionKey

/** One client of the churn: its acknowledged rules, and the change in flight when mcrd died. */
class ChurnClient {
  readonly acknowledged: Rules = new Map();
  inFlight: ((rules: Rules) => Rules) | undefined;
  /** How the change in flight failed. */
  failure: grpc.ServiceError | undefined;
  calls = 0;

  constructor(
    readonly index: number,
    private readonly client: McrClient,
    /** Names and ports are new in every round: start here. */
    private serial: number,
  ) {}

  /** Changes until a call fails (mcrd is gone), leaving that change as inFlight. */
  async run(): Promise<void> {
    for (;;) {
      const names = [...this.acknowledged.keys()];
      const step = this.serial % 3;
      let apply: (rules: Rules) => Rules;
      let call: () => Promise<Rule>;
      if (step === 1 && names.length > 0) {
        const name = names[names.length - 1];
        const [, serial] = name.split('-').map(Number);
        const next = churnRule(this.index, serial, 2000 + this.serial);
        call = () => this.client.updateRule(name, next);
        apply = (rules) => new Map(rules).set(name, definitionKey(next));
      } else if ((step === 2 || names.length >= RULES_PER_CLIENT) && names.length > 0) {
        const name = names[0];
        call = () => this.client.deleteRule(name);
        apply = (rules) => {
          const next = new Map(rules);
          next.delete(name);
          return next;
        };
      } else {
        const rule = churnRule(this.index, this.serial, 2000);
        call = () => this.client.createRule(rule);
        apply = (rules) => new Map(rules).set(rule.name, definitionKey(rule));
      }
      this.serial++;
      try {
        await call();
      } catch (err) {
        this.inFlight = apply;
        this.failure = err as grpc.ServiceError;
        return;
      }
      this.calls++;
      const next = apply(this.acknowledged);
      this.acknowledged.clear();
      for (const [name, key] of next) this.acknowledged.set(name, key);
    }
  }
}

/** The rules a store holds, by name. */
function byName(rules: Iterable<Rule>): Rules {
  return new Map([...rules].map((r) => [r.name, definitionKey(r)]));
}

function same(a: Rules, b: Rules): boolean {
  return a.size === b.size && [...a].every(([name, key]) => b.get(name) === key);
}

describe('e2e: resilience: kill -9 of mcrd during 50-client churn and during a 20,000-rule ApplyRules', function () {
  this.timeout(240_000);
  const daemon = useNamespacedMcrd(
    'crash',
    { workers: 1, logLevel: 'warn', extraArgs: ['--max-rules', String(LIMITS.maxRules), '--max-request-bytes', String(32 << 20)] },
    { start: false },
  );

  /** SIGKILL, and the exit seen. */
  async function kill(): Promise<void> {
    daemon.mcrd.signal('SIGKILL');
    expect(await daemon.mcrd.waitForExit(10_000), 'how the killed mcrd ended').to.deep.include({ signal: 'SIGKILL' });
  }

  /** The store as it is on disk, opened as mcrd opens it (which must not fail). */
  async function storeOnDisk(): Promise<Rules> {
    const store = await RuleStore.open(daemon.mcrd.stateDir, LIMITS);
    try {
      return byName(store.list());
    } finally {
      await store.close();
    }
  }

  it(`keeps every acknowledged change of 50 clients, and no half change (${CHURN_KILLS} kills)`, async function () {
    const measured: Array<{ calls: number; killAfterMs: number; restartMs: number }> = [];
    let started = Date.now();
    await daemon.mcrd.start();
    let checked: ChurnClient[] = [];
    for (let round = 0; round <= CHURN_KILLS; round++) {
      const restartMs = Date.now() - started;
      const connections = Array.from({ length: 5 }, () => new McrClient(daemon.mcrd.socketPath, { ownConnection: true }));
      const listed = byName((await connections[0].listRules()).rules);
      // mcrd started on what the last kill left: the acknowledged changes and no half change.
      if (round > 0) expect(same(listed, await storeOnDisk()), 'mcrd lists what the store on disk holds').to.equal(true);
      for (const c of checked) {
        const mine = new Map([...listed].filter(([name]) => name.startsWith(`c${c.index}-`)));
        const withInFlight = c.inFlight ? c.inFlight(c.acknowledged) : c.acknowledged;
        const describe = (rules: Rules) => JSON.stringify([...rules].sort());
        expect(
          same(mine, c.acknowledged) || same(mine, withInFlight),
          `round ${round}, client ${c.index}: stored ${describe(mine)}\nacknowledged ${describe(c.acknowledged)}\nor with the change in flight ${describe(withInFlight)}`,
        ).to.equal(true);
      }
      expect(listed.size, 'rules of other origins').to.equal([...listed.keys()].filter((name) => /^c\d+-/.test(name)).length);
      if (round === CHURN_KILLS) {
        connections.forEach((c) => c.close());
        break;
      }

      const clients = Array.from({ length: CLIENTS }, (_, i) => new ChurnClient(i, connections[i % connections.length], round * SERIALS_PER_ROUND));
      // Each client goes on from its rules as they are.
      for (const client of clients) {
        for (const [name, key] of listed) if (name.startsWith(`c${client.index}-`)) client.acknowledged.set(name, key);
      }
      const runs = clients.map((client) => client.run());
      // Once the churn is under way (the first calls of 50 clients set up their streams), at random.
      await waitFor('the churn to get going', async () => clients.reduce((sum, c) => sum + c.calls, 0), (calls) => calls >= CLIENTS, 10_000, 5);
      const killAfterMs = CHURN_KILL_MIN_MS + Math.floor(Math.random() * (CHURN_KILL_MAX_MS - CHURN_KILL_MIN_MS));
      await sleep(killAfterMs);
      await kill();
      await Promise.all(runs);
      connections.forEach((c) => c.close());
      for (const c of clients) {
        expect(CONNECTION_LOST, `round ${round}, client ${c.index}: its last call failed with ${c.failure?.message}`).to.include(c.failure?.code);
        expect(c.calls, `round ${round}, client ${c.index}: changes`).to.be.below(SERIALS_PER_ROUND);
      }
      measured.push({ calls: clients.reduce((sum, c) => sum + c.calls, 0), killAfterMs, restartMs });
      checked = clients;
      started = Date.now();
      await daemon.mcrd.start();
    }
    await kill();
    reportMeasured('churn kills', { rounds: measured.length, acknowledgedCalls: measured.map((m) => m.calls).join(' '), killAfterMs: measured.map((m) => m.killAfterMs).join(' '), restartMs: measured.map((m) => m.restartMs).join(' ') });
    expect(measured.every((m) => m.calls > 0), 'every round acknowledged some changes before the kill').to.equal(true);
  });

  it(`keeps an ApplyRules of ${APPLY_RULES} rules all or nothing (${APPLY_KILLS} kills)`, async function () {
    fs.rmSync(daemon.mcrd.stateDir, { recursive: true, force: true });
    const small = Array.from({ length: BEFORE_APPLY_RULES }, (_, i) => applyRule(i, 'small'));
    const large = Array.from({ length: APPLY_RULES }, (_, i) => applyRule(i, 'large'));
    const smallRules = byName(small);
    const largeRules = byName(large);
    const outcomes: string[] = [];
    /** When, in an apply let finish, the journal got the change (its write began): the kills are drawn around it. */
    let journalMs = 0;
    let applyMs = 0;
    const journalFile = path.join(daemon.mcrd.stateDir, JOURNAL_FILE_NAME);
    for (let round = 0; round < APPLY_KILLS + 1; round++) {
      // Each round starts from the small set, written as mcrd would have it.
      fs.rmSync(daemon.mcrd.stateDir, { recursive: true, force: true });
      const seed = await RuleStore.open(daemon.mcrd.stateDir, LIMITS);
      await seed.apply(small, { replace: true }, 1n);
      await seed.close();

      await daemon.mcrd.start();
      // The reply lists all 20,000 rules: more than grpc-js receives by default.
      const client = new RuleServiceClient(`unix:${daemon.mcrd.socketPath}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
      const started = Date.now();
      let failure = '';
      const reply = new Promise<boolean>((resolve) => {
        client.applyRules(ApplyRulesRequest.fromPartial({ rules: large, replace: true, view: ApplyRulesView.APPLY_RULES_VIEW_COUNTS }), new grpc.Metadata(), { deadline: Date.now() + 60_000 }, (err) => {
          failure = err?.message ?? '';
          resolve(!err);
        });
      });
      if (round === 0) {
        // A first apply let finish, to know when the journal write comes.
        let done = false;
        void reply.then(() => (done = true));
        const seeded = fs.statSync(journalFile).size;
        while (!done && journalMs === 0) {
          if (fs.statSync(journalFile).size > seeded) journalMs = Date.now() - started;
          await sleep(2);
        }
        expect(await reply, `the ApplyRules that is let finish: ${failure}`).to.equal(true);
        applyMs = Date.now() - started;
        expect(journalMs, 'ms until the journal was written').to.be.greaterThan(0);
        client.close();
        expect(same(await storeOnDisk(), largeRules)).to.equal(true);
        await kill();
        // mcrd starts again on all 20,000.
        const restart = Date.now();
        await daemon.mcrd.start();
        reportMeasured('mcrd start on 20,000 rules', { ms: Date.now() - restart });
        await kill();
        continue;
      }
      if (round % 2 === 1) {
        // Before the journal write (decoding, planning), at a random point of what it took the first time.
        await sleep(Math.floor(journalMs * (0.3 + 0.6 * Math.random())));
      } else {
        // Just as the journal starts to grow: amid the write or its fdatasync, whatever the machine's load.
        const seeded = fs.statSync(journalFile).size;
        let done = false;
        void reply.then(() => (done = true));
        while (!done && fs.statSync(journalFile).size <= seeded) await sleep(1);
        await sleep(Math.floor(Math.random() * 20));
      }
      await kill();
      const acknowledged = await reply;
      client.close();
      const onDisk = await storeOnDisk();
      const outcome = same(onDisk, largeRules) ? 'all' : same(onDisk, smallRules) ? 'none' : `${onDisk.size} rules, neither set`;
      outcomes.push(`${outcome}${acknowledged ? ' (acknowledged)' : ''}`);
      expect(outcome === 'all' || (outcome === 'none' && !acknowledged), `round ${round}: after the kill the store holds ${outcome}; acknowledged: ${acknowledged}`).to.equal(true);
      // mcrd opens it as it is (the restart with all 20,000 is left to the round that let it finish).
      if (outcome === 'none') {
        await daemon.mcrd.start();
        const check = new McrClient(daemon.mcrd.socketPath);
        expect(same(byName((await check.listRules()).rules), smallRules)).to.equal(true);
        check.close();
        await kill();
      }
    }
    reportMeasured('apply kills', { applyMs, journalMs, outcomes: outcomes.join(', ') });
    expect(fs.readdirSync(daemon.mcrd.stateDir).filter((f) => f.endsWith('.tmp')), 'temporary files left').to.deep.equal([]);
  });
});
