/**
 * Pseudo-random RuleService requests for the API property test, each with what its answer must be.
 *
 * A create or update starts from a valid definition built of fresh values (a group, ports and a name
 * no rule uses), gets some valid edge cases (ports 1 and 65535, as many outputs as allowed, odd
 * interface names, output-only fields set, ...) and then zero or more faults (a bad address, port 0
 * or 65536, an interface name with '/', 100 outputs, a name taken by another rule, a stale
 * generation, a reference to nothing, ...). Each fault records the status it calls for. A request
 * without faults must succeed; one with faults must be refused with the status of one of them (the
 * order of the checks decides which). Edge cases go first and faults last, so no later change can
 * repair a fault: the last one always stands.
 */
import { status } from '@grpc/grpc-js';

import { CreateRuleRequest, DeleteRuleRequest, GetRuleRequest, OversizePolicy, Output, Rule, RuleState, TtlPolicy, UpdateRuleRequest } from '../../../gen/mcr/v1/rules';
import { deriveRuleId, matchKey } from '../../../server/rules/id';
import { SeededRandom } from '../seeded-random';
import {
  BAD_ADDRESSES,
  BAD_DESTINATIONS,
  BAD_DSCPS,
  BAD_IDENTIFIERS,
  BAD_INTERFACES,
  BAD_PORTS,
  BAD_SOURCES,
  BAD_TTLS,
  MISSING_REFS,
  NOT_MULTICAST,
  ODD_IDENTIFIER_PREFIXES,
  ODD_INTERFACES,
  OVERSIZED_LENGTH,
} from './values';

export type RuleMethod = 'CreateRule' | 'UpdateRule' | 'DeleteRule' | 'GetRule';

export type TypedMessage =
  | { method: 'CreateRule'; message: CreateRuleRequest }
  | { method: 'UpdateRule'; message: UpdateRuleRequest }
  | { method: 'DeleteRule'; message: DeleteRuleRequest }
  | { method: 'GetRule'; message: GetRuleRequest };

export type TypedRequest = TypedMessage & {
  /** Statuses the faults call for; empty: a valid request, which must succeed. */
  faults: status[];
  /** What was done to the request, in order (with the status of each fault). */
  notes: string[];
};

/** Interfaces of the test topology, so that some rules really capture and send. */
export interface RealInterfaces {
  inputs: readonly string[];
  outputs: readonly string[];
}

/** Invented interfaces: rules on them are stored and wait, and cost the data plane nothing. */
const ABSENT_INTERFACES = ['fz0', 'fz1', 'fz2'];
const EDGE_GROUPS = ['224.0.0.0', '224.0.0.1', '239.255.255.255', '232.1.2.3'];
const EDGE_SOURCES = ['10.1.0.2', '1.2.3.4', '223.255.255.254'];
/** Large, but under the message limit: refused as a value (or as too large, should a request-size limit below it exist). */
const LARGE_LENGTH = 100_000;

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}... (${text.length} chars)` : text;
}

/** Fresh values (never used before in this run) and random choices. */
class Values {
  private serial = 0;

  constructor(
    readonly random: SeededRandom,
    readonly maxOutputs: number,
    private readonly real: RealInterfaces,
  ) {}

  fresh(): number {
    return ++this.serial;
  }

  group(): string {
    const n = this.fresh();
    return `239.77.${(n >> 8) & 0xff}.${n & 0xff}`;
  }

  port(): number {
    return 10_000 + (this.fresh() % 50_000);
  }

  output(): Output {
    const n = this.fresh();
    const multicast = this.random.chance(0.7);
    return {
      interface: this.random.chance(0.5) ? this.random.pick(this.real.outputs) : this.random.pick(ABSENT_INTERFACES),
      address: multicast ? `239.88.${(n >> 8) & 0xff}.${n & 0xff}` : `10.3.${(n >> 8) & 0xff}.${(n & 0xff) || 1}`,
      port: this.port(),
      ttl: undefined,
      dscp: undefined,
      ttlPolicy: TtlPolicy.TTL_POLICY_UNSPECIFIED,
      preserveTos: undefined,
      oversize: OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED,
      source: '',
    };
  }

  outputs(count: number): Output[] {
    return Array.from({ length: count }, () => this.output());
  }

  /** A valid definition no stored rule collides with. */
  rule(): Rule {
    return Rule.fromPartial({
      name: this.random.chance(0.7) ? `fz-${this.fresh()}` : '',
      input: {
        interface: this.random.chance(0.25) ? this.random.pick(this.real.inputs) : this.random.pick(ABSENT_INTERFACES),
        group: this.group(),
        port: this.port(),
        source: '',
      },
      outputs: this.outputs(this.random.int(1, 3)),
    });
  }

  pick<T>(items: readonly T[]): T {
    return this.random.pick(items);
  }
}

/** A request being built: the definition (for creates and updates) and what was done to it. */
class Draft {
  readonly faults = new Set<status>();
  readonly notes: string[] = [];

  constructor(
    readonly method: RuleMethod,
    /** Stored rules the request can collide with (all but the one an update replaces). */
    readonly others: Rule[],
    readonly rule: Rule,
  ) {}

  fault(code: status, note: string): void {
    this.faults.add(code);
    this.notes.push(`${note} -> ${status[code]}`);
  }

  note(note: string): void {
    this.notes.push(note);
  }

  /** A value just set that validation must refuse. */
  invalid(field: string, value: unknown): void {
    this.fault(status.INVALID_ARGUMENT, `${field} ${show(value)}`);
  }

  anyOutput(values: Values): Output {
    return this.rule.outputs[values.random.int(0, this.rule.outputs.length - 1)];
  }

  get hasInput(): boolean {
    return this.rule.input !== undefined;
  }

  get hasOutputs(): boolean {
    return this.rule.outputs.length > 0;
  }

  get namedOthers(): Rule[] {
    return this.others.filter((other) => other.name !== '');
  }
}

interface Mutation {
  applies?: (draft: Draft) => boolean;
  apply: (draft: Draft, values: Values) => void;
}

/** Valid values at the edges of what validation accepts: none of them may make a request fail. */
const EDGE_CASES: Mutation[] = [
  { applies: (d) => d.hasInput, apply: (d, v) => d.note(`input port ${(d.rule.input!.port = v.pick([1, 65535]))}`) },
  { applies: (d) => d.hasInput, apply: (d, v) => d.note(`group ${(d.rule.input!.group = v.pick(EDGE_GROUPS))}`) },
  { applies: (d) => d.hasInput, apply: (d, v) => d.note(`input interface ${show((d.rule.input!.interface = v.pick(ODD_INTERFACES)))}`) },
  { applies: (d) => d.hasInput, apply: (d, v) => d.note(`source ${(d.rule.input!.source = v.pick(EDGE_SOURCES))}`) },
  {
    applies: (d) => d.hasOutputs,
    apply: (d, v) => {
      const output = d.anyOutput(v);
      output.port = v.pick([1, 65535, output.port]);
      // A decrementing output (the next edge case) takes no ttl.
      output.ttl = output.ttlPolicy === TtlPolicy.TTL_POLICY_DECREMENT ? undefined : v.pick([1, 255, undefined]);
      output.dscp = v.pick([0, 63, undefined]);
      d.note(`an output with port ${output.port}, ttl ${output.ttl}, dscp ${output.dscp}`);
    },
  },
  {
    applies: (d) => d.hasOutputs,
    apply: (d, v) => {
      const output = d.anyOutput(v);
      output.ttlPolicy = v.pick([TtlPolicy.TTL_POLICY_UNSPECIFIED, TtlPolicy.TTL_POLICY_FIXED, TtlPolicy.TTL_POLICY_DECREMENT]);
      if (output.ttlPolicy === TtlPolicy.TTL_POLICY_DECREMENT) output.ttl = undefined;
      output.preserveTos = v.pick([true, false, undefined]);
      output.oversize = v.pick([OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED, OversizePolicy.OVERSIZE_POLICY_FRAGMENT, OversizePolicy.OVERSIZE_POLICY_DROP]);
      d.note(`an output with ttl_policy ${TtlPolicy[output.ttlPolicy]}, ttl ${output.ttl}, preserve_tos ${output.preserveTos}, oversize ${OversizePolicy[output.oversize]}`);
    },
  },
  { applies: (d) => d.hasOutputs, apply: (d, v) => d.note(`an output on interface ${show((d.anyOutput(v).interface = v.pick(ODD_INTERFACES)))}`) },
  { apply: (d, v) => ((d.rule.outputs = v.outputs(v.maxOutputs)), d.note(`${v.maxOutputs} outputs (the limit)`)) },
  {
    apply: (d, v) => {
      const suffix = `-${v.fresh()}`;
      d.rule.name = v.random.chance(0.5) ? v.pick(ODD_IDENTIFIER_PREFIXES) + suffix : 'n'.repeat(63 - suffix.length) + suffix;
      d.note(`name ${show(d.rule.name)}`);
    },
  },
  { apply: (d) => ((d.rule.name = ''), d.note('no name')) },
  {
    apply: (d) => {
      Object.assign(d.rule, { generation: 12345n, createdUnixNanos: -1n, updatedUnixNanos: 1n });
      d.rule.status = { state: RuleState.RULE_STATE_ERROR, reason: 'set by the client', worker: 99, lastPacketUnixNanos: 7n };
      d.note('output-only fields set (to be ignored)');
    },
  },
];

/** Faults: each makes the request wrong in one way and records the status that must refuse it. */
const FAULTS: Mutation[] = [
  { applies: (d) => d.hasInput, apply: (d, v) => d.invalid('input.group', (d.rule.input!.group = v.pick(BAD_ADDRESSES))) },
  { applies: (d) => d.hasInput, apply: (d, v) => d.invalid('input.group', (d.rule.input!.group = v.pick(NOT_MULTICAST))) },
  { applies: (d) => d.hasInput, apply: (d, v) => d.invalid('input.port', (d.rule.input!.port = v.pick(BAD_PORTS))) },
  { applies: (d) => d.hasInput, apply: (d, v) => d.invalid('input.interface', (d.rule.input!.interface = v.pick([...BAD_INTERFACES, '']))) },
  { applies: (d) => d.hasInput, apply: (d, v) => d.invalid('input.source', (d.rule.input!.source = v.pick([...BAD_ADDRESSES, ...BAD_SOURCES]))) },
  { apply: (d) => ((d.rule.input = undefined), d.fault(status.INVALID_ARGUMENT, 'no input')) },
  { apply: (d) => ((d.rule.outputs = []), d.fault(status.INVALID_ARGUMENT, 'no outputs')) },
  { applies: (d) => d.hasOutputs, apply: (d, v) => d.invalid('an output address', (d.anyOutput(v).address = v.pick([...BAD_ADDRESSES, ...BAD_DESTINATIONS]))) },
  { applies: (d) => d.hasOutputs, apply: (d, v) => d.invalid('an output port', (d.anyOutput(v).port = v.pick(BAD_PORTS))) },
  { applies: (d) => d.hasOutputs, apply: (d, v) => d.invalid('an output interface', (d.anyOutput(v).interface = v.pick([...BAD_INTERFACES, '']))) },
  { applies: (d) => d.hasOutputs, apply: (d, v) => d.invalid('an output ttl', (d.anyOutput(v).ttl = v.pick(BAD_TTLS))) },
  { applies: (d) => d.hasOutputs, apply: (d, v) => d.invalid('an output dscp', (d.anyOutput(v).dscp = v.pick(BAD_DSCPS))) },
  { applies: (d) => d.hasOutputs, apply: (d, v) => d.invalid('an output ttl_policy', (d.anyOutput(v).ttlPolicy = v.pick([3, 99, -1]) as TtlPolicy)) },
  { applies: (d) => d.hasOutputs, apply: (d, v) => d.invalid('an output oversize policy', (d.anyOutput(v).oversize = v.pick([3, 99, -1]) as OversizePolicy)) },
  {
    applies: (d) => d.hasOutputs,
    apply: (d, v) => {
      const output = d.anyOutput(v);
      output.ttlPolicy = TtlPolicy.TTL_POLICY_DECREMENT;
      d.invalid('a ttl with ttl_policy TTL_POLICY_DECREMENT', (output.ttl = v.pick([1, 64, 255])));
    },
  },
  {
    applies: (d) => d.hasInput && d.hasOutputs,
    apply: (d, v) => {
      const { interface: ifname, group, port } = d.rule.input!;
      Object.assign(d.anyOutput(v), { interface: ifname, address: group, port });
      d.fault(status.INVALID_ARGUMENT, 'an output equal to the input');
    },
  },
  {
    applies: (d) => d.hasOutputs,
    apply: (d) => {
      // Replacing the last output (rather than adding one) never crosses the outputs limit.
      const copy = { ...d.rule.outputs[0] };
      if (d.rule.outputs.length >= 2) d.rule.outputs[d.rule.outputs.length - 1] = copy;
      else d.rule.outputs.push(copy);
      d.fault(status.INVALID_ARGUMENT, 'two equal outputs');
    },
  },
  {
    apply: (d, v) => {
      d.rule.outputs = v.outputs(v.random.int(v.maxOutputs + 1, Math.max(100, v.maxOutputs + 1)));
      d.fault(status.RESOURCE_EXHAUSTED, `${d.rule.outputs.length} outputs (the limit is ${v.maxOutputs})`);
    },
  },
  { apply: (d, v) => d.invalid('name', (d.rule.name = v.pick(BAD_IDENTIFIERS))) },
  {
    apply: (d) => {
      d.rule.name = 'n'.repeat(LARGE_LENGTH);
      d.fault(status.INVALID_ARGUMENT, `a name of ${LARGE_LENGTH} characters`);
      d.fault(status.RESOURCE_EXHAUSTED, '(or too large, should a request-size limit be below it)');
    },
  },
  {
    applies: (d) => d.hasInput,
    apply: (d) => {
      d.rule.input!.interface = 'i'.repeat(OVERSIZED_LENGTH);
      d.fault(status.RESOURCE_EXHAUSTED, `an input interface of ${OVERSIZED_LENGTH} characters (over the message limit)`);
    },
  },
  { apply: (d, v) => d.invalid('id', (d.rule.id = v.pick(BAD_IDENTIFIERS))) },
  {
    // Creating: the id is taken. Updating: the id is not the updated rule's.
    applies: (d) => d.others.length > 0,
    apply: (d, v) => {
      d.rule.id = v.pick(d.others).id;
      d.fault(d.method === 'CreateRule' ? status.ALREADY_EXISTS : status.INVALID_ARGUMENT, `id ${d.rule.id}, another rule's`);
    },
  },
  {
    applies: (d) => d.namedOthers.length > 0,
    apply: (d, v) => {
      d.rule.id = v.pick(d.namedOthers).name;
      d.fault(d.method === 'CreateRule' ? status.ALREADY_EXISTS : status.INVALID_ARGUMENT, `id ${show(d.rule.id)}, another rule's name`);
    },
  },
  {
    applies: (d) => d.namedOthers.length > 0,
    apply: (d, v) => {
      d.rule.name = v.pick(d.namedOthers).name;
      d.fault(status.ALREADY_EXISTS, `name ${show(d.rule.name)}, another rule's`);
    },
  },
  {
    applies: (d) => d.others.length > 0,
    apply: (d, v) => {
      d.rule.name = v.pick(d.others).id;
      d.fault(status.ALREADY_EXISTS, `name ${d.rule.name}, another rule's id`);
    },
  },
  {
    applies: (d) => d.others.length > 0,
    apply: (d, v) => {
      const other = v.pick(d.others);
      d.rule.input = { ...other.input! };
      d.fault(status.ALREADY_EXISTS, `the match key of ${other.id}`);
    },
  },
];

export class RuleRequestGenerator {
  private readonly values: Values;

  constructor(random: SeededRandom, maxOutputsPerRule: number, real: RealInterfaces) {
    this.values = new Values(random, maxOutputsPerRule, real);
  }

  private get random(): SeededRandom {
    return this.values.random;
  }

  /** A request against a store holding `rules`. */
  next(rules: Rule[]): TypedRequest {
    // Keep the store between a few and a few dozen rules: enough to collide with, few enough to list.
    const method = this.random.weighted<RuleMethod>([
      [rules.length < 4 ? 6 : 3, 'CreateRule'],
      [rules.length === 0 ? 0 : 3, 'UpdateRule'],
      [rules.length > 20 ? 4 : 1.5, 'DeleteRule'],
      [1.5, 'GetRule'],
    ]);
    switch (method) {
      case 'CreateRule':
        return this.create(rules);
      case 'UpdateRule':
        return this.update(rules);
      case 'DeleteRule':
        return this.delete(rules);
      case 'GetRule':
        return this.get(rules);
    }
  }

  private create(rules: Rule[]): TypedRequest {
    const draft = new Draft('CreateRule', rules, this.values.rule());
    if (this.random.chance(0.15)) draft.note(`chooses id ${(draft.rule.id = `fzid-${this.values.fresh()}`)}`);
    this.mutate(draft);
    const validateOnly = this.flag(draft, 'validate_only', 0.15);
    const omitted = this.random.chance(0.02);
    if (omitted) draft.fault(status.INVALID_ARGUMENT, 'no rule at all');
    return this.finish(draft, { method: 'CreateRule', message: { rule: omitted ? undefined : draft.rule, validateOnly } });
  }

  private update(rules: Rule[]): TypedRequest {
    const target = this.random.pick(rules);
    const draft = new Draft('UpdateRule', rules.filter((rule) => rule.id !== target.id), this.values.rule());
    const ref = this.reference(draft, target);
    if (this.random.chance(0.3)) {
      draft.rule.input = { ...target.input! };
      draft.note('keeps its input');
    }
    if (this.random.chance(0.2)) draft.note(`repeats its id ${(draft.rule.id = target.id)}`);
    this.mutate(draft);
    const expectedGeneration = this.expectedGeneration(draft, target);
    const validateOnly = this.flag(draft, 'validate_only', 0.15);
    const omitted = this.random.chance(0.02);
    if (omitted) draft.fault(status.INVALID_ARGUMENT, 'no definition at all');
    const message: UpdateRuleRequest = { rule: ref, definition: omitted ? undefined : draft.rule, expectedGeneration, validateOnly, updateMask: undefined };
    return this.finish(draft, { method: 'UpdateRule', message });
  }

  private delete(rules: Rule[]): TypedRequest {
    const target = rules.length > 0 ? this.random.pick(rules) : undefined;
    const draft = new Draft('DeleteRule', rules, Rule.fromPartial({}));
    const ref = this.reference(draft, target);
    const expectedGeneration = target ? this.expectedGeneration(draft, target) : undefined;
    return this.finish(draft, { method: 'DeleteRule', message: { rule: ref, expectedGeneration } });
  }

  private get(rules: Rule[]): TypedRequest {
    const target = rules.length > 0 ? this.random.pick(rules) : undefined;
    const draft = new Draft('GetRule', rules, Rule.fromPartial({}));
    return this.finish(draft, { method: 'GetRule', message: { rule: this.reference(draft, target) } });
  }

  private flag(draft: Draft, name: string, p: number): boolean {
    const set = this.random.chance(p);
    if (set) draft.note(name);
    return set;
  }

  private mutate(draft: Draft): void {
    this.applySome(draft, EDGE_CASES, this.random.weighted([[5, 0], [4, 1], [1, 2]]));
    this.applySome(draft, FAULTS, this.random.weighted([[35, 0], [45, 1], [15, 2], [5, 3]]));
  }

  private applySome(draft: Draft, catalog: Mutation[], count: number): void {
    for (let i = 0; i < count; i++) {
      const usable = catalog.filter((mutation) => !mutation.applies || mutation.applies(draft));
      if (usable.length > 0) this.random.pick(usable).apply(draft, this.values);
    }
  }

  /** A reference to `target` (by id or name), or a faulty one. */
  private reference(draft: Draft, target: Rule | undefined): string {
    const choice = this.random.weighted<'id' | 'name' | 'missing' | 'empty' | 'oversized'>([
      [target ? 5 : 0, 'id'],
      [target?.name ? 3 : 0, 'name'],
      [2, 'missing'],
      [0.7, 'empty'],
      [0.15, 'oversized'],
    ]);
    switch (choice) {
      case 'id':
        draft.note(`refers to ${target!.id} by id`);
        return target!.id;
      case 'name':
        draft.note(`refers to ${target!.id} by its name ${show(target!.name)}`);
        return target!.name;
      case 'missing': {
        const ref = this.random.pick(MISSING_REFS);
        draft.fault(status.NOT_FOUND, `refers to ${show(ref)}`);
        return ref;
      }
      case 'empty':
        draft.fault(status.INVALID_ARGUMENT, 'an empty rule reference');
        return '';
      case 'oversized':
        draft.fault(status.RESOURCE_EXHAUSTED, `a reference of ${OVERSIZED_LENGTH} characters (over the message limit)`);
        return 'r'.repeat(OVERSIZED_LENGTH);
    }
  }

  private expectedGeneration(draft: Draft, target: Rule): bigint | undefined {
    const choice = this.random.weighted<'none' | 'current' | 'stale'>([[5, 'none'], [3, 'current'], [2, 'stale']]);
    if (choice === 'none') return undefined;
    if (choice === 'current') {
      draft.note(`expected_generation ${target.generation} (current)`);
      return target.generation;
    }
    // Stored rules start at generation 1, so 0 is stale too.
    const stale = this.random.pick([0n, target.generation + 1n, target.generation + 1000n, 0xffff_ffff_ffff_ffffn]);
    draft.fault(status.ABORTED, `expected_generation ${stale} (the rule is at ${target.generation})`);
    return stale;
  }

  /**
   * The request and its faults. Fresh values cannot collide with a stored rule, but an update that
   * keeps its target's input and then edges one of its fields, or edge values repeated by chance, can:
   * such a collision is a fault too (the match key, or for a create the id derived from it).
   */
  private finish(draft: Draft, typed: TypedMessage): TypedRequest {
    const definition = typed.method === 'CreateRule' ? typed.message.rule : typed.method === 'UpdateRule' ? typed.message.definition : undefined;
    if (draft.faults.size === 0 && definition?.input) {
      const key = matchKey(definition.input);
      const sameKey = draft.others.find((other) => matchKey(other.input!) === key);
      if (sameKey) draft.fault(status.ALREADY_EXISTS, `the match key of ${sameKey.id}, by chance`);
      const derived = typed.method === 'CreateRule' && definition.id === '' ? deriveRuleId(definition.input) : undefined;
      if (derived && draft.others.some((other) => other.id === derived)) draft.fault(status.ALREADY_EXISTS, `derived id ${derived} kept by another rule`);
    }
    return { ...typed, faults: [...draft.faults], notes: draft.notes };
  }
}
