/**
 * Where a one-rule ApplyRules diff against N stored rules goes, in process (no gRPC, no workers):
 * the client's encoding, the strict wire check and the generated decoder of the whole body, what mcrd
 * runs instead (the two in one, rules recognized by their bytes), the store's apply, the answer and
 * its encoding (the whole view assembled from kept encodings, as mcrd does), the client's decoding, each timed as the median of `--runs` diffs
 * ("total" counts mcrd's check+decode, not the plain ones).
 *
 *   node -r ts-node/register/transpile-only scripts/apply-cost.ts [--rules 20000] [--outputs 4]
 *       [--runs 20] [--view 0|1|2|3]
 */
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import { ruleSetWithOneChange, ruleAt } from '../bench/control-plane/rule-set';
import { percentile } from '../bench/control-plane/latency';
import { ApplyRulesRequest, ApplyRulesResponse, ApplyRulesView, Rule, RuleState } from '../gen/mcr/v1/rules';
import { applyAnswer } from '../server/api/apply-answer';
import { encodeWholeAnswer } from '../server/api/apply-answer-encoding';
import { PreEncoded } from '../server/api/pre-encoded';
import { ServiceDefinition } from '@grpc/grpc-js';

import { RuleServiceService } from '../gen/mcr/v1/rules';
import { DescriptorSet } from '../server/api/descriptor-set';
import { KnownRules } from '../server/api/known-rules';
import { MalformedRequest, strictDefinition } from '../server/api/strict-requests';
import { checkWire } from '../server/api/wire-check';
import { RuleStore } from '../server/rules/store';
import { DEFAULT_RULE_LIMITS } from '../server/rules/validate';
import { numberOption } from './lib/argv';


const RULES = numberOption('rules', 20_000);
const OUTPUTS = numberOption('outputs', 4);
const RUNS = numberOption('runs', 20);
const VIEW = numberOption('view', 0) as ApplyRulesView;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'apply-cost-'));
  try {
    const store = await RuleStore.open(dir, DEFAULT_RULE_LIMITS);
    const all = Array.from({ length: RULES }, (_, i) => ruleAt(i, OUTPUTS)) as Rule[];
    await store.apply(ApplyRulesRequest.fromPartial({ rules: all }).rules, { replace: true }, 1n);
    const schemas = DescriptorSet.load().registry();
    const input = schemas.getMessage('mcr.v1.ApplyRulesRequest')!;
    const known = new KnownRules((name) => store.namedAsStored(name));
    const strict = Object.values(strictDefinition(RuleServiceService as unknown as ServiceDefinition, schemas, known)).find((m) => m.path.endsWith('/ApplyRules'))!;
    const status = { state: RuleState.RULE_STATE_ACTIVE, reason: '', worker: 1, lastPacketUnixNanos: 0n };
    const stages: Record<string, number[]> = {};
    const time = <T>(name: string, f: () => T): T => {
      const t0 = performance.now();
      const out = f();
      (stages[name] ??= []).push(performance.now() - t0);
      return out;
    };
    const sets = [ruleSetWithOneChange(RULES, OUTPUTS), all];
    for (let run = 0; run < RUNS; run++) {
      const rules = sets[run % 2];
      const t0 = performance.now();
      const bytes = time('client encode', () => ApplyRulesRequest.encode(ApplyRulesRequest.fromPartial({ rules, replace: true, view: VIEW })).finish());
      const problem = time('wire check', () => checkWire(input, bytes));
      if (problem) throw new Error(problem.detail);
      time('decode', () => ApplyRulesRequest.decode(bytes));
      // What mcrd runs: the check and the decoding in one, stored rules recognized by their bytes.
      const req = time('mcrd check+decode', () => strict.requestDeserialize(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length))) as ApplyRulesRequest;
      if (req instanceof MalformedRequest) throw new Error(req.error.message);
      const a0 = performance.now();
      const applied = await store.apply(req.rules, { replace: req.replace }, BigInt(run + 2));
      (stages['store apply'] ??= []).push(performance.now() - a0);
      // As mcrd answers (rule-service.ts): the whole view assembled from the unchanged rules' kept
      // encodings, any other view by applyAnswer.
      const answer = time('answer', () => {
        const withStatus = (rule: Rule): Rule => ({ ...rule, status: { ...status } });
        const whole = req.view === ApplyRulesView.APPLY_RULES_VIEW_UNSPECIFIED;
        if (whole) {
          const encoded = encodeWholeAnswer({ ...applied, added: applied.added.map(withStatus), changed: applied.changed.map(withStatus), storeGeneration: applied.generation, dryRun: false }, () => ({ ...status }));
          if (encoded) return encoded;
        }
        const lists = {
          added: whole ? applied.added.map(withStatus) : applied.added,
          changed: whole ? applied.changed.map(withStatus) : applied.changed,
          removed: applied.removed,
          unchanged: whole ? applied.unchanged.map(withStatus) : applied.unchanged,
        };
        return applyAnswer(lists, { storeGeneration: applied.generation, dryRun: false }, req.view);
      });
      const out = time('answer encode', () => (answer instanceof PreEncoded ? answer.bytes : ApplyRulesResponse.encode(answer).finish()));
      const decoded = time('client decode', () => ApplyRulesResponse.decode(out));
      const plain = stages['wire check'][run] + stages['decode'][run];
      (stages['total'] ??= []).push(performance.now() - t0 - plain);
      if (run === 0) console.log(`answer: view ${ApplyRulesView[decoded.view]}, ${out.length} bytes; request ${bytes.length} bytes`);
    }
    for (const [name, values] of Object.entries(stages)) console.log(`${name.padEnd(14)} p50 ${percentile(values, 50).toFixed(1)} ms  p90 ${percentile(values, 90).toFixed(1)} ms`);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
