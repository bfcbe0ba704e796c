/**
 * What the rule store must look like after a RuleService request: unchanged after a refusal or a
 * read, and changed by exactly the one rule a successful create, update or delete names. Computed
 * from the store before, the request as mcrd decoded it and its response, and then compared with
 * what ListRules shows, so that a half-applied change (a rule half-written, a generation bumped
 * without a change, a second rule touched) is caught.
 */
import { expect } from 'chai';

import {
  CreateRuleResponse,
  DeleteRuleResponse,
  GetRuleResponse,
  Input,
  Output,
  Rule,
  UpdateRuleResponse,
} from '../../../gen/mcr/v1/rules';
import { deriveRuleId } from '../../../server/rules/id';
import { describeValue } from '../poll';
import type { TypedMessage } from './rule-requests';

export interface StoreSnapshot {
  /** Sorted by id, as ListRules returns them. */
  rules: Rule[];
  generation: bigint;
}

/** A stored rule without its status (which changes by itself as interfaces and workers come and go). */
export function storedFields(rule: Rule) {
  const { id, name, input, outputs, generation, createdUnixNanos, updatedUnixNanos } = rule;
  return { id, name, input, outputs, generation, createdUnixNanos, updatedUnixNanos };
}

/** What validation keeps of a definition: the fields of the input and outputs, nothing else. */
function definitionFields(rule: { name: string; input?: Input; outputs: Output[] }) {
  const input = rule.input && { interface: rule.input.interface, group: rule.input.group, port: rule.input.port, source: rule.input.source };
  const outputs = rule.outputs.map(({ interface: ifname, address, port, ttl, dscp, ttlPolicy, preserveTos }) => ({ interface: ifname, address, port, ttl, dscp, ttlPolicy, preserveTos }));
  return { name: rule.name, input, outputs };
}

/** Asserts that two snapshots hold the same rules (status aside) and generation. */
export function expectSameStore(actual: StoreSnapshot, expected: StoreSnapshot, message: string): void {
  const view = (s: StoreSnapshot) => describeValue({ generation: s.generation, rules: s.rules.map(storedFields) });
  expect(view(actual), message).to.equal(view(expected));
}

/** The rule a reference names: by id, else by name (as mcrd resolves it). */
function resolve(store: StoreSnapshot, ref: string): Rule | undefined {
  return store.rules.find((rule) => rule.id === ref) ?? store.rules.find((rule) => rule.name !== '' && rule.name === ref);
}

function byId(a: Rule, b: Rule): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) expect.fail(`the response has no ${what}`);
  return value;
}

/**
 * The store after `request` (as decoded by mcrd) succeeded with `response`, checking on the way that
 * the response describes the change the request asked for.
 */
export function storeAfterSuccess(before: StoreSnapshot, request: TypedMessage, response: Buffer, context: string): StoreSnapshot {
  switch (request.method) {
    case 'CreateRule': {
      const created = required(CreateRuleResponse.decode(response).rule, 'rule');
      const definition = required(request.message.rule, 'rule in the request');
      expect(describeValue(definitionFields(created)), `the created rule is the definition sent (${context})`).to.equal(describeValue(definitionFields(definition)));
      const id = definition.id || deriveRuleId(definition.input!);
      expect(created.id, `the rule's id is the one chosen or derived from its match key (${context})`).to.equal(id);
      expect(created.generation, `a new rule is at generation 1 (${context})`).to.equal(1n);
      if (request.message.validateOnly) return before;
      return { rules: [...before.rules, created].sort(byId), generation: before.generation + 1n };
    }
    case 'UpdateRule': {
      const updated = required(UpdateRuleResponse.decode(response).rule, 'rule');
      const target = resolve(before, request.message.rule);
      if (!target) expect.fail(`UpdateRule succeeded for ${JSON.stringify(request.message.rule)}, which names no rule (${context})`);
      const definition = required(request.message.definition, 'definition in the request');
      expect(describeValue(definitionFields(updated)), `the updated rule has the definition sent (${context})`).to.equal(describeValue(definitionFields(definition)));
      expect([updated.id, updated.generation, updated.createdUnixNanos], `id kept, generation + 1, creation time kept (${context})`).to.deep.equal([
        target.id,
        target.generation + 1n,
        target.createdUnixNanos,
      ]);
      if (request.message.validateOnly) return before;
      return { rules: before.rules.map((rule) => (rule.id === target.id ? updated : rule)), generation: before.generation + 1n };
    }
    case 'DeleteRule': {
      const deleted = required(DeleteRuleResponse.decode(response).rule, 'rule');
      const target = resolve(before, request.message.rule);
      if (!target) expect.fail(`DeleteRule succeeded for ${JSON.stringify(request.message.rule)}, which names no rule (${context})`);
      expect(describeValue(storedFields(deleted)), `the response is the deleted rule as it was (${context})`).to.equal(describeValue(storedFields(target)));
      return { rules: before.rules.filter((rule) => rule.id !== target.id), generation: before.generation + 1n };
    }
    case 'GetRule': {
      const got = required(GetRuleResponse.decode(response).rule, 'rule');
      const target = resolve(before, request.message.rule);
      if (!target) expect.fail(`GetRule succeeded for ${JSON.stringify(request.message.rule)}, which names no rule (${context})`);
      expect(describeValue(storedFields(got)), `GetRule answers with the stored rule (${context})`).to.equal(describeValue(storedFields(target)));
      return before;
    }
  }
}
