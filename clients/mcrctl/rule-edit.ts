/**
 * What `rule add` and `rule update` ask for, as a RuleEdit, and the rule definitions built from it.
 * Pure functions: no I/O, so the merge semantics of `rule update` are testable on their own.
 */
import type { Input, IpProtocol, OversizePolicy, Output, Rule } from '../../gen/mcr/v1/rules';
import { Endpoint } from './args';
import { TTL_DECREMENT } from '../../server/formats/ttl-word';
import { OVERSIZE_DROP, OversizeWord } from '../../server/formats/oversize-word';
import { PROTOCOL_ESP, PROTOCOL_UDP, ProtocolWord } from '../../server/formats/protocol-word';
import { rulesProto } from './generated-code';

/** The rule fields given on a command line; undefined = not given. */
export interface RuleEdit {
  id?: string;
  name?: string;
  /**
   * --protocol: what the rule relays, and so how --in, --out, --add-out and --del-out are written
   * (esp: without ports, port 0). `rule update` switches the rule to it only with --in and --out;
   * without both, the rule must relay it already (see protocolToCheck).
   */
  protocol?: ProtocolWord;
  /** --in: interface, group (as `address`) and port (0 for ESP). */
  input?: Endpoint;
  /** --source; "" clears it. */
  source?: string;
  /** --vlan; false (`rule update --no-vlan`) clears it. */
  vlan?: number | false;
  /** Every --out, in order. Given = the whole new output list. */
  outputs?: Endpoint[];
  /** `rule update --add-out`: outputs added after the rule's (never with --out). */
  addOutputs?: Endpoint[];
  /** `rule update --del-out`: outputs of the rule to remove, before any is added. */
  removeOutputs?: Endpoint[];
  /**
   * --from, --ttl, --dscp, --[no-]preserve-tos and --oversize: for every output given on the command
   * line (or, without --out or --add-out, every output). --from is Output.source ("" clears it);
   * --ttl N is a fixed TTL, --ttl decrement TTL_POLICY_DECREMENT.
   */
  from?: string;
  ttl?: number | typeof TTL_DECREMENT;
  dscp?: number;
  preserveTos?: boolean;
  oversize?: OversizeWord;
}

/** A RuleEdit that can define a new rule. */
export type NewRuleEdit = RuleEdit & { input: Endpoint; outputs: Endpoint[] };

/** Whether the edit changes anything at all. */
export function isEmptyEdit(edit: RuleEdit): boolean {
  return Object.values(edit).every((value) => value === undefined);
}

function outputFrom(endpoint: Endpoint): Output {
  const { interface: name, address, port } = endpoint;
  return { interface: name, address, port, ttl: undefined, dscp: undefined, ttlPolicy: 0, preserveTos: undefined, oversize: 0, source: '' };
}

/**
 * Output.oversize for --oversize: OVERSIZE_POLICY_DROP, or for fragment the unset policy (the
 * default) unless it was OVERSIZE_POLICY_FRAGMENT already, as --ttl N leaves the TTL policy.
 */
function oversizePolicy(current: OversizePolicy, word: OversizeWord): OversizePolicy {
  const { OVERSIZE_POLICY_DROP, OVERSIZE_POLICY_FRAGMENT, OVERSIZE_POLICY_UNSPECIFIED } = rulesProto().OversizePolicy;
  if (word === OVERSIZE_DROP) return OVERSIZE_POLICY_DROP;
  return current === OVERSIZE_POLICY_FRAGMENT ? OVERSIZE_POLICY_FRAGMENT : OVERSIZE_POLICY_UNSPECIFIED;
}

/**
 * The output with the edit's --from/--ttl/--dscp/--[no-]preserve-tos/--oversize applied (kept as they
 * were where not given). --ttl decrement unsets the ttl (mcrd refuses both); --ttl N ends a
 * decrement, leaving the policy unset (fixed) unless it was TTL_POLICY_FIXED already.
 */
function withEditedSettings(output: Output, edit: RuleEdit): Output {
  const edited: Output = {
    ...output,
    source: edit.from ?? output.source,
    dscp: edit.dscp ?? output.dscp,
    preserveTos: edit.preserveTos ?? output.preserveTos,
  };
  if (edit.oversize !== undefined) edited.oversize = oversizePolicy(output.oversize, edit.oversize);
  if (edit.ttl === TTL_DECREMENT) {
    edited.ttl = undefined;
    edited.ttlPolicy = rulesProto().TtlPolicy.TTL_POLICY_DECREMENT;
  } else if (edit.ttl !== undefined) {
    const { TTL_POLICY_FIXED, TTL_POLICY_UNSPECIFIED } = rulesProto().TtlPolicy;
    edited.ttl = edit.ttl;
    edited.ttlPolicy = output.ttlPolicy === TTL_POLICY_FIXED ? TTL_POLICY_FIXED : TTL_POLICY_UNSPECIFIED;
  }
  return edited;
}

/** Input.protocol for --protocol: IP_PROTOCOL_ESP, or for udp (and without it) the unset protocol, the default. */
function protocolValue(word: ProtocolWord | undefined): IpProtocol {
  const { IP_PROTOCOL_ESP, IP_PROTOCOL_UNSPECIFIED } = rulesProto().IpProtocol;
  return word === PROTOCOL_ESP ? IP_PROTOCOL_ESP : IP_PROTOCOL_UNSPECIFIED;
}

/**
 * The input the edit gives: --in's interface, group and port (empty without --in), --source (any
 * source without it), --vlan (unset without it, and with --no-vlan) and --protocol (UDP without it).
 */
function editedInput(edit: RuleEdit): Input {
  const { input, source, vlan } = edit;
  return {
    interface: input?.interface ?? '',
    group: input?.address ?? '',
    port: input?.port ?? 0,
    source: source ?? '',
    vlan: vlan === false ? undefined : vlan,
    protocol: protocolValue(edit.protocol),
  };
}

/** The rule `rule add` asks mcrd to create (id empty unless --id: mcrd then derives it). */
export function newRuleDefinition(edit: NewRuleEdit): Rule {
  return rulesProto().Rule.fromPartial({
    id: edit.id ?? '',
    name: edit.name ?? '',
    input: editedInput(edit),
    outputs: edit.outputs.map((endpoint) => withEditedSettings(outputFrom(endpoint), edit)),
  });
}

/** An edit that cannot be made to the rule as it is (an output to remove that it does not have...). */
export class RuleEditError extends Error {
  override name = 'RuleEditError';
}

/** "eth1 239.9.9.9:6000", as --out gives it; "eth1 10.0.0.9" for an ESP rule's (port 0: none). */
function endpointText(endpoint: { interface: string; address: string; port: number }): string {
  return endpoint.port === 0 ? `${endpoint.interface} ${endpoint.address}` : `${endpoint.interface} ${endpoint.address}:${endpoint.port}`;
}

function sameDestination(output: Output, endpoint: Endpoint): boolean {
  return output.interface === endpoint.interface && output.address === endpoint.address && output.port === endpoint.port;
}

/** Refuses an endpoint given twice to one flag. */
function refuseRepeats(flag: string, endpoints: readonly Endpoint[]): void {
  endpoints.forEach((endpoint, index) => {
    if (endpoints.findIndex((other) => endpointText(other) === endpointText(endpoint)) < index) {
      throw new RuleEditError(`${flag} ${endpointText(endpoint)} is given twice`);
    }
  });
}

/**
 * The rule's outputs with --del-out's removed, then --add-out's appended (with --ttl/--dscp/...). An
 * output is named by interface, address and port. Removing one the rule does not have, adding one it
 * has (after the removals: --del-out X --add-out X --ttl 8 changes X's TTL), or removing the last one
 * is refused with RuleEditError.
 */
function editedOutputs(existing: Rule, edit: RuleEdit): Output[] {
  const label = existing.name ? `${existing.id} (${existing.name})` : existing.id;
  const removals = edit.removeOutputs ?? [];
  const additions = edit.addOutputs ?? [];
  refuseRepeats('--del-out', removals);
  refuseRepeats('--add-out', additions);
  const outputs = [...existing.outputs];
  for (const endpoint of removals) {
    const index = outputs.findIndex((output) => sameDestination(output, endpoint));
    if (index < 0) {
      throw new RuleEditError(`--del-out ${endpointText(endpoint)}: rule ${label} has no such output (it has: ${existing.outputs.map(endpointText).join(', ')})`);
    }
    outputs.splice(index, 1);
  }
  for (const endpoint of additions) {
    const index = existing.outputs.findIndex((output) => sameDestination(output, endpoint));
    if (outputs.some((output) => sameDestination(output, endpoint))) {
      throw new RuleEditError(`--add-out ${endpointText(endpoint)}: rule ${label} has this output already (outputs[${index}])`);
    }
    outputs.push(withEditedSettings(outputFrom(endpoint), edit));
  }
  if (outputs.length === 0) {
    throw new RuleEditError(`--del-out would remove every output of rule ${label}, and a rule needs one: add one with --add-out, or delete the rule`);
  }
  return outputs;
}

/**
 * Whether `rule update` must read the rule's outputs first: to edit them (--add-out, --del-out) or to
 * set something on every output it has (--from/--ttl/--dscp/--[no-]preserve-tos/--oversize without
 * --out).
 */
export function needsCurrentOutputs(edit: RuleEdit): boolean {
  const settings = [edit.from, edit.ttl, edit.dscp, edit.preserveTos, edit.oversize];
  const setsEvery = edit.outputs === undefined && settings.some((value) => value !== undefined);
  return edit.addOutputs !== undefined || edit.removeOutputs !== undefined || setsEvery;
}

/**
 * The protocol `rule update` must find the rule relaying: --protocol given without both --in and
 * --out, which a switch of protocol needs (the ports of the input and of every output go or come
 * with it), says how the addresses given are written, and is refused for a rule that relays the
 * other protocol. Undefined when there is nothing to check.
 */
export function protocolToCheck(edit: RuleEdit): ProtocolWord | undefined {
  return edit.input !== undefined && edit.outputs !== undefined ? undefined : edit.protocol;
}

/** Whether `rule update` must read the rule first: for its outputs (needsCurrentOutputs), or to check its protocol. */
export function needsCurrentRule(edit: RuleEdit): boolean {
  return needsCurrentOutputs(edit) || protocolToCheck(edit) !== undefined;
}

/** "UDP" or "ESP", as messages name what a rule relays. */
function protocolName(word: ProtocolWord): string {
  return word.toUpperCase();
}

/** What a switch to `word` does to a rule's addresses, for messages. */
export function portsChange(word: ProtocolWord): string {
  return word === PROTOCOL_ESP ? 'its input and outputs lose their ports' : 'its input and outputs need ports';
}

/** Refuses an edit written for a protocol (protocolToCheck) that the rule as it is does not relay. */
function checkProtocol(existing: Rule, word: ProtocolWord): void {
  const relays = existing.input?.protocol === rulesProto().IpProtocol.IP_PROTOCOL_ESP ? PROTOCOL_ESP : PROTOCOL_UDP;
  if (relays === word) return;
  const label = existing.name ? `${existing.id} (${existing.name})` : existing.id;
  throw new RuleEditError(
    `--protocol ${word}: rule ${label} relays ${protocolName(relays)}; switching it to ${protocolName(word)} needs --in and --out (every output) in the same command, as ${portsChange(word)}`,
  );
}

/** An UpdateRule's definition and update_mask paths: only the masked fields of it are read by mcrd. */
export interface MaskedRuleUpdate {
  definition: Rule;
  paths: string[];
}

/**
 * What `rule update` sends: a definition holding only what the edit gives, and the update_mask
 * naming exactly those fields, so mcrd merges it into the rule as it is when the change runs and
 * a concurrent change to another field is neither undone nor refused. --in names interface, group
 * and port (the source and VLAN stay unless --source, --vlan or --no-vlan is given; --no-vlan masks
 * input.vlan unset, which clears it); --out replaces the whole output list; --protocol with both
 * sets input.protocol. An edit that needs the rule (see needsCurrentRule) takes it as `existing`:
 * its outputs, sent as a whole list, or its protocol, checked; the caller then guards the update
 * with the generation it read. Throws RuleEditError (see editedOutputs and checkProtocol).
 */
export function maskedRuleUpdate(edit: RuleEdit, existing?: Rule): MaskedRuleUpdate {
  const paths: string[] = [];
  const definition = rulesProto().Rule.fromPartial({});
  const check = protocolToCheck(edit);
  if (check !== undefined) {
    if (!existing) throw new Error('maskedRuleUpdate: this edit needs the rule as it is (needsCurrentRule)');
    checkProtocol(existing, check);
  }
  if (edit.name !== undefined) {
    definition.name = edit.name;
    paths.push('name');
  }
  if (edit.input !== undefined || edit.source !== undefined || edit.vlan !== undefined) {
    definition.input = editedInput(edit);
    if (edit.input) paths.push('input.interface', 'input.group', 'input.port');
    if (edit.source !== undefined) paths.push('input.source');
    if (edit.vlan !== undefined) paths.push('input.vlan');
    // With --in and --out (so not checked against the rule), --protocol is the rule's new protocol.
    if (edit.protocol !== undefined && check === undefined) paths.push('input.protocol');
  }
  if (edit.outputs !== undefined) {
    definition.outputs = edit.outputs.map((endpoint) => withEditedSettings(outputFrom(endpoint), edit));
    paths.push('outputs');
  } else if (needsCurrentOutputs(edit)) {
    if (!existing) throw new Error('maskedRuleUpdate: this edit needs the rule as it is (needsCurrentOutputs)');
    const outputs = edit.addOutputs || edit.removeOutputs ? editedOutputs(existing, edit) : existing.outputs;
    definition.outputs = edit.addOutputs === undefined ? outputs.map((output) => withEditedSettings(output, edit)) : outputs;
    paths.push('outputs');
  }
  return { definition, paths };
}
