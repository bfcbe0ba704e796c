/**
 * An immutable set of stored rules with its unique indexes: id, match key and name. Ids and names
 * share one namespace (a client may refer to a rule by either), so a name may not be another rule's
 * id and an id may not be another rule's name.
 */
import type { Input, Rule } from '../../gen/mcr/v1/rules';
import { alreadyExists, ApiError, ErrorExtras, RULE_RESOURCE } from '../api/errors';
import { matchKey } from './id';

/** The details of an ALREADY_EXISTS naming the rule in the way. */
function exists(id: string): ErrorExtras {
  return { reason: 'RULE_EXISTS', resource: { type: RULE_RESOURCE, name: id } };
}

export class RuleSet {
  private constructor(
    private readonly byId: ReadonlyMap<string, Rule>,
    private readonly byKey: ReadonlyMap<string, Rule>,
    private readonly byName: ReadonlyMap<string, Rule>,
  ) {}

  static readonly EMPTY = new RuleSet(new Map(), new Map(), new Map());

  get size(): number {
    return this.byId.size;
  }

  /** By id, else by name. */
  find(ref: string): Rule | undefined {
    return this.byId.get(ref) ?? this.byName.get(ref);
  }

  /** By id only. */
  get(id: string): Rule | undefined {
    return this.byId.get(id);
  }

  /** By name only. */
  named(name: string): Rule | undefined {
    return this.byName.get(name);
  }

  /** Sorted by id. */
  sorted(): Rule[] {
    return [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * The ALREADY_EXISTS error `rule` would cause next to the other rules (a rule with the same id as
   * `rule` is the one being replaced, not a conflict when `replacing`), or undefined. `field` is
   * the request field holding the definition.
   */
  conflict(rule: Rule, field: string, replacing: boolean): ApiError | undefined {
    const other = (found: Rule | undefined) => (found && found.id !== rule.id ? found : undefined);
    const input = rule.input!;
    const sameKey = this.byKey.get(matchKey(input));
    if (sameKey && (sameKey.id !== rule.id || !replacing)) {
      return alreadyExists(`${field}.input`, `rule ${describeRule(sameKey)} already captures ${describeInput(input)}`, exists(sameKey.id));
    }
    if (!replacing && this.byId.has(rule.id)) {
      return alreadyExists(`${field}.id`, `a rule with id ${rule.id} already exists`, exists(rule.id));
    }
    const idAsName = other(this.byName.get(rule.id));
    if (idAsName) return alreadyExists(`${field}.id`, `${rule.id} is the name of rule ${idAsName.id}`, exists(idAsName.id));
    if (rule.name) {
      const sameName = other(this.byName.get(rule.name));
      if (sameName) return alreadyExists(`${field}.name`, `rule ${sameName.id} is already named ${JSON.stringify(rule.name)}`, exists(sameName.id));
      const nameAsId = other(this.byId.get(rule.name));
      if (nameAsId) return alreadyExists(`${field}.name`, `${JSON.stringify(rule.name)} is the id of another rule`, exists(nameAsId.id));
    }
    return undefined;
  }

  /** A set with `rule` added, or replacing the rule with its id. The caller has checked conflict(). */
  with(rule: Rule): RuleSet {
    const next = this.without(rule.id);
    const byId = new Map(next.byId).set(rule.id, rule);
    const byKey = new Map(next.byKey).set(matchKey(rule.input!), rule);
    const byName = new Map(next.byName);
    if (rule.name) byName.set(rule.name, rule);
    return new RuleSet(byId, byKey, byName);
  }

  /** A set without the rule with this id. */
  without(id: string): RuleSet {
    const old = this.byId.get(id);
    if (!old) return this;
    const byId = new Map(this.byId);
    byId.delete(id);
    const byKey = new Map(this.byKey);
    byKey.delete(matchKey(old.input!));
    const byName = new Map(this.byName);
    if (old.name) byName.delete(old.name);
    return new RuleSet(byId, byKey, byName);
  }
}

/** What an input captures: `eth0 239.1.1.1:5000`, with ` from 10.0.0.1` for a source-specific one. */
export function describeInput(input: Input): string {
  return `${input.interface} ${input.group}:${input.port}` + (input.source ? ` from ${input.source}` : '');
}

/** `r-0123456789ab ("name")` or just the id. */
export function describeRule(rule: Rule): string {
  return rule.name ? `${rule.id} (${JSON.stringify(rule.name)})` : rule.id;
}
