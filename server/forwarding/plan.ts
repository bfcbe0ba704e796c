/**
 * From the rule store and the interfaces that exist, what every worker should have installed
 * (capture sockets with their targets, egress sockets, rules), which groups to join, and each
 * rule's status. A pure function: the applier makes the workers match it.
 */
import type { Rule } from '../../gen/mcr/v1/rules';
import { RuleState } from '../../gen/mcr/v1/rules';
import { isMulticast, parseIPv4 } from '../formats/addresses';
import { RulePlacement } from '../rules/placement';
import type { CaptureTarget } from '../net/bpf';
import { InterfaceLookup, isUp } from '../net/interfaces';
import type { Membership } from '../net/memberships';
import type { DataplaneTrace, EgressSocketOptions } from '../../native';

/** TTL used when an output does not set one. */
export const DEFAULT_MULTICAST_TTL = 1;
export const DEFAULT_UNICAST_TTL = 64;

/**
 * An egress socket a worker needs: one per output interface, TTL and TOS, shared by every output with
 * those (docs/decisions/0035-shared-egress-sockets.md). What openEgressSocket takes (less buffer
 * sizing), plus its key (see senderKey).
 */
export interface SenderSpec extends Omit<EgressSocketOptions, 'sndbuf'> {
  key: string;
}

/** An output a worker needs: a destination reached through the sender `sender` (a SenderSpec key). */
export interface EgressSpec extends Omit<SenderSpec, 'key'> {
  key: string;
  sender: string;
  address: string;
  port: number;
}

export interface CaptureSpec {
  ifname: string;
  ifindex: number;
  targets: CaptureTarget[];
}

export interface PlannedRule {
  id: string;
  ifname: string;
  group: string;
  port: number;
  source: string;
  /** Egress keys of the outputs whose interface exists, in output order. */
  outputs: string[];
  /** Output index (in the rule) of each entry of `outputs`. */
  outputIndexes: number[];
  /** What each entry of `outputs` sends to (outputIdentity): its counters' owner. */
  outputIdentities: string[];
  /** Present while the rule is traced. */
  trace?: DataplaneTrace;
}

export interface WorkerPlan {
  captures: Map<string, CaptureSpec>;
  /** Egress sockets, by senderKey. */
  senders: Map<string, SenderSpec>;
  /** Outputs, by egressKey. */
  egress: Map<string, EgressSpec>;
  rules: PlannedRule[];
}

export interface PlannedStatus {
  state: RuleState;
  reason: string;
  worker: number;
  /** Key of the group membership the rule needs, once it is installable. */
  membership?: string;
}

export interface ForwardingPlan {
  workers: WorkerPlan[];
  memberships: Map<string, Membership>;
  statuses: Map<string, PlannedStatus>;
}

export function membershipKey(ifindex: number, group: string, source: string): string {
  return `${ifindex}|${group}|${source}`;
}

/**
 * Identifies an egress socket: interface (name and index), TTL and TOS. Not the interface's addresses:
 * the socket is not connected, so the kernel picks the source address at every send and an address
 * change needs no new socket.
 */
export function senderKey(spec: Pick<SenderSpec, 'ifname' | 'ifindex' | 'ttl' | 'tos'>): string {
  return `${spec.ifname}#${spec.ifindex}|ttl=${spec.ttl}|tos=${spec.tos}`;
}

/** Identifies an output: its sender and its destination. */
export function egressKey(spec: Omit<EgressSpec, 'key' | 'sender'>): string {
  return `${senderKey(spec)}|${spec.address}:${spec.port}`;
}

/** Adds an output (and its sender, when new) to a worker's plan. */
function planEgress(plan: WorkerPlan, key: string, fields: Omit<EgressSpec, 'key' | 'sender'>): void {
  const sender = senderKey(fields);
  if (!plan.senders.has(sender)) plan.senders.set(sender, { key: sender, ifname: fields.ifname, ifindex: fields.ifindex, ttl: fields.ttl, tos: fields.tos });
  plan.egress.set(key, { key, sender, ...fields });
}

/**
 * An output of a rule as its counters know it: what it sends to, as defined (not its index, which
 * moves when another output is removed, nor its interface's index, which an egress key includes).
 */
export function outputIdentity(output: { interface: string; address: string; port: number; ttl?: number; dscp?: number }): string {
  return `${output.interface}|${output.address}|${output.port}|${output.ttl ?? ''}|${output.dscp ?? ''}`;
}

function defaultTtl(address: string): number {
  const value = parseIPv4(address);
  return value !== undefined && isMulticast(value) ? DEFAULT_MULTICAST_TTL : DEFAULT_UNICAST_TTL;
}

/** The data-plane trace settings of a rule, or undefined when it is not traced. */
export type TraceLookup = (ruleId: string) => DataplaneTrace | undefined;

/** `placement`: which worker owns each rule, or the worker count for plain hash placement. */
export function planForwarding(rules: Rule[], placement: number | RulePlacement, interfaces: InterfaceLookup, traces: TraceLookup = () => undefined): ForwardingPlan {
  const placed = typeof placement === 'number' ? new RulePlacement(placement) : placement;
  const workers: WorkerPlan[] = Array.from({ length: placed.workers }, () => ({
    captures: new Map(),
    senders: new Map(),
    egress: new Map(),
    rules: [],
  }));
  const memberships = new Map<string, Membership>();
  const statuses = new Map<string, PlannedStatus>();
  // Per pass: each destination's default TTL parsed once.
  const ttls = new Map<string, number>();
  const ttlOf = (address: string): number => {
    let ttl = ttls.get(address);
    if (ttl === undefined) ttls.set(address, (ttl = defaultTtl(address)));
    return ttl;
  };

  for (const rule of rules) {
    const input = rule.input!;
    const worker = placed.workerOf(input);
    const inputIf = interfaces.get(input.interface);
    if (!inputIf) {
      statuses.set(rule.id, {
        state: RuleState.RULE_STATE_WAITING_FOR_INTERFACE,
        reason: `input interface ${input.interface} does not exist`,
        worker,
      });
      continue;
    }
    if (!inputIf.up) {
      // Administratively down: its sockets and membership go, and are made afresh (the group joined
      // again, so snooping switches hear a report at once) when it is set up again. A link that is up
      // without carrier (a fresh veth until link watch runs, a cable out) stays installed below.
      statuses.set(rule.id, { state: RuleState.RULE_STATE_INTERFACE_DOWN, reason: `input interface ${input.interface} is down`, worker });
      continue;
    }
    const plan = workers[worker];
    const outputs: string[] = [];
    const outputIndexes: number[] = [];
    const outputIdentities: string[] = [];
    const missing: string[] = [];
    rule.outputs.forEach((output, index) => {
      const outIf = interfaces.get(output.interface);
      if (!outIf) {
        missing.push(`outputs[${index}] interface ${output.interface} does not exist`);
        return;
      }
      if (!isUp(outIf)) {
        // No output for it until it is up again (sending through a down interface fails anyway).
        missing.push(`outputs[${index}] interface ${output.interface} is down`);
        return;
      }
      const fields = {
        ifname: outIf.name,
        ifindex: outIf.index,
        address: output.address,
        port: output.port,
        ttl: output.ttl ?? ttlOf(output.address),
        tos: (output.dscp ?? 0) << 2,
      };
      const key = egressKey(fields);
      if (!plan.egress.has(key)) planEgress(plan, key, fields);
      outputs.push(key);
      outputIndexes.push(index);
      outputIdentities.push(outputIdentity(output));
    });
    if (outputs.length === 0) {
      const allDown = rule.outputs.every((o) => interfaces.get(o.interface) !== undefined);
      const state = allDown ? RuleState.RULE_STATE_INTERFACE_DOWN : RuleState.RULE_STATE_WAITING_FOR_INTERFACE;
      statuses.set(rule.id, { state, reason: missing.join('; '), worker });
      continue;
    }
    let capture = plan.captures.get(inputIf.name);
    if (!capture) {
      capture = { ifname: inputIf.name, ifindex: inputIf.index, targets: [] };
      plan.captures.set(inputIf.name, capture);
    }
    capture.targets.push({ group: input.group, port: input.port, source: input.source });
    const trace = traces(rule.id);
    plan.rules.push({
      id: rule.id,
      ifname: inputIf.name,
      group: input.group,
      port: input.port,
      source: input.source,
      outputs,
      outputIndexes,
      outputIdentities,
      ...(trace ? { trace } : {}),
    });
    const membership = membershipKey(inputIf.index, input.group, input.source);
    memberships.set(membership, { key: membership, ifindex: inputIf.index, group: input.group, source: input.source });
    statuses.set(
      rule.id,
      isUp(inputIf)
        ? { state: RuleState.RULE_STATE_ACTIVE, reason: missing.join('; '), worker, membership }
        : { state: RuleState.RULE_STATE_INTERFACE_DOWN, reason: `input interface ${input.interface} has no carrier`, worker, membership },
    );
  }
  return { workers, memberships, statuses };
}
