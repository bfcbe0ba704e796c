/**
 * From the rule store and the interfaces that exist, what every worker should have installed
 * (capture sockets with their targets, egress sockets, rules), which groups to join, and each
 * rule's status. A pure function: the applier makes the workers match it.
 */
import type { Output, Rule } from '../../gen/mcr/v1/rules';
import { RuleState } from '../../gen/mcr/v1/rules';
import { isMulticast, parseIPv4 } from '../formats/addresses';
import { flatJoin } from '../formats/flat-string';
import { relaysEsp } from '../formats/input-protocol';
import { decrementsTtl, dropsOversize, preservesTos } from '../rules/output-policy';
import { RulePlacement } from '../rules/placement';
import type { CaptureTarget } from '../net/bpf';
import { InterfaceInfo, InterfaceLookup, isUp } from '../net/interfaces';
import type { Membership } from '../net/memberships';
import type { DataplaneTrace, EgressSocketOptions, SenderPolicy } from '../../native';

/** TTL used when an output does not set one. */
export const DEFAULT_MULTICAST_TTL = 1;
export const DEFAULT_UNICAST_TTL = 64;

/**
 * An egress socket a worker needs: one per output interface, TTL and TOS policy, shared by every
 * output with those (docs/decisions/0035-shared-egress-sockets.md). What openEgressSocket takes (less
 * buffer sizing), how the data plane makes each packet's TTL and TOS from the received packet's
 * (SenderPolicy: keepTos, decrementTtl; docs/decisions/0058-tos-and-ttl-per-packet.md), what it does
 * with datagrams too big for one packet (dontFragment, by the interface's MTU when it was planned:
 * docs/decisions/0060-oversize-datagrams.md), and its key (see senderKey).
 */
export interface SenderSpec extends Omit<EgressSocketOptions, 'sndbuf' | 'source' | 'protocol'>, Omit<SenderPolicy, 'ttl' | 'tos' | 'dontFragment'> {
  key: string;
  /** What it sends: UDP datagrams, or ESP packets (a raw socket: an ESP rule's outputs, decision 0063). */
  protocol: 'udp' | 'esp';
  /** The source address its socket is bound to ('': the kernel's choice). */
  source: string;
  /** The interface's MTU (0: unknown). */
  mtu: number;
}

/** The policy part of a sender (or egress) spec. */
export function senderPolicyOf(spec: SenderSpec): SenderPolicy {
  return { ttl: spec.ttl, tos: spec.tos, keepTos: spec.keepTos, decrementTtl: spec.decrementTtl, dontFragment: spec.dontFragment };
}

/** Bits of the received TOS byte an output keeps: all (DSCP and ECN), ECN only (dscp set), or none. */
export const KEEP_ALL_TOS = 0xff;
export const KEEP_ECN = 0x03;

/**
 * The TTL and TOS policy of `output` as its sender applies it. `ttl`: the output's, else the default
 * for its destination (the socket's TTL, which a decrementing output's packets override).
 */
function outputPolicy(output: Output, ttl: number): SenderPolicy {
  const preserve = preservesTos(output);
  return {
    ttl,
    tos: (output.dscp ?? 0) << 2,
    keepTos: !preserve ? 0 : output.dscp === undefined ? KEEP_ALL_TOS : KEEP_ECN,
    decrementTtl: decrementsTtl(output),
    dontFragment: dropsOversize(output),
  };
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
  /** By targetKey. */
  targets: Map<string, CaptureTarget>;
}

export interface PlannedRule {
  id: string;
  ifname: string;
  group: string;
  port: number;
  source: string;
  /** 802.1Q VLAN ID of the frames the rule takes; 0: untagged frames. */
  vlan: number;
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
  egress: Map<string, EgressSpec>;
  /** By rule id. */
  rules: Map<string, PlannedRule>;
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

/** Capture targets a change added and removed on one capture interface. */
export interface TargetChanges {
  added: CaptureTarget[];
  removed: CaptureTarget[];
}

/** What a change did to one worker's plan. */
export interface WorkerDelta {
  /** Rules to look at again: in the plan now (added or changed), or not (removed, or moved away). */
  rules: Set<string>;
  /** Targets added and removed, by capture interface (a target removed and added again is neither). */
  targets: Map<string, TargetChanges>;
  /** Egress keys no rule of the worker needs any more. */
  egressGone: Set<string>;
}

/** What a change did to the plan: per worker, the memberships to join and leave, the rules. */
export interface PlanDelta {
  workers: WorkerDelta[];
  join: Map<string, Membership>;
  leave: Set<string>;
  /** Every rule planned again or removed. */
  rules: Set<string>;
}

export function membershipKey(ifindex: number, group: string, source: string): string {
  return flatJoin([ifindex, group, source], '|');
}

/**
 * Identifies an egress socket: interface (name, index and MTU), TTL and TOS, and the policy that makes
 * each packet's from the received one's (written only when there is one: "-dec" after the TTL, "&keep"
 * after the TOS), "|df" for one that does not fragment, and "|src=A" for one bound to a source address
 * (Output.source), and "|esp" for a raw ESP socket. The MTU is in it because the data plane counts
 * fragments by the MTU its sender was given: a changed MTU makes new senders. Not the interface's addresses: a socket bound to none lets
 * the kernel pick the source address at every send, so an address change needs no new socket.
 */
export function senderKey(
  spec: Pick<SenderSpec, 'ifname' | 'ifindex' | 'ttl' | 'tos'> & Partial<Pick<SenderSpec, 'keepTos' | 'decrementTtl' | 'dontFragment' | 'mtu' | 'source' | 'protocol'>>,
): string {
  const { keepTos = 0, decrementTtl = false, dontFragment = false, mtu = 0, source = '', protocol = 'udp' } = spec;
  return flatJoin([
    spec.ifname, '#', spec.ifindex, mtu ? `/${mtu}` : '', '|ttl=', spec.ttl, decrementTtl ? '-dec' : '', '|tos=', spec.tos, keepTos ? `&${keepTos}` : '', dontFragment ? '|df' : '',
    source ? `|src=${source}` : '', protocol === 'esp' ? '|esp' : '',
  ]);
}

/** Identifies an output: its sender (a senderKey) and its destination. */
export function egressKey(sender: string, address: string, port: number): string {
  return flatJoin([sender, '|', address, ':', port]);
}

/**
 * An output of a rule as its counters know it: what it sends to, as defined (not its index, which
 * moves when another output is removed, nor its interface's index, which an egress key includes).
 * The TTL, TOS and oversize policies and the source address are written by meaning, and only when
 * they are not the defaults (TTL_POLICY_FIXED is the unset policy, preserve_tos true,
 * OVERSIZE_POLICY_FRAGMENT and no source the unset ones, as sameDefinition holds): an output defined
 * before they existed keeps its identity, and its counters, across an upgrade.
 */
export function outputIdentity(
  output: Pick<Output, 'interface' | 'address' | 'port' | 'ttl' | 'dscp'> & Partial<Pick<Output, 'ttlPolicy' | 'preserveTos' | 'oversize' | 'source'>>,
): string {
  const decrement = decrementsTtl(output);
  const fixedTos = !preservesTos(output);
  const drop = dropsOversize(output);
  const base = flatJoin([output.interface, output.address, output.port, output.ttl ?? '', output.dscp ?? ''], '|');
  const policies = decrement || fixedTos ? flatJoin([base, decrement ? 'dec' : '', fixedTos ? 'fixed-tos' : ''], '|') : base;
  const sized = drop ? flatJoin([policies, 'drop-oversize'], '|') : policies;
  return output.source ? flatJoin([sized, 'from', output.source], '|') : sized;
}

/**
 * Whether an output through `outIf` may send from `source`: one of the interface's IPv4 addresses,
 * or any address when it has none (unnumbered links, tunnels).
 */
function mayUseSource(outIf: InterfaceInfo, source: string): boolean {
  return outIf.addresses.length === 0 || outIf.addresses.some((address) => address.startsWith(source) && address[source.length] === '/');
}

function defaultTtl(address: string): number {
  const value = parseIPv4(address);
  return value !== undefined && isMulticast(value) ? DEFAULT_MULTICAST_TTL : DEFAULT_UNICAST_TTL;
}

/** The data-plane trace settings of a rule, or undefined when it is not traced. */
export type TraceLookup = (ruleId: string) => DataplaneTrace | undefined;

/** A capture target's key in CaptureSpec.targets. */
export function targetKey(target: CaptureTarget): string {
  return `${target.group}:${target.port}:${target.source ?? ''}:${target.vlan ?? 0}`;
}

/** What planning one rule gives. */
interface RulePlan {
  worker: number;
  status: PlannedStatus;
  /** Present when the rule is installable. */
  planned?: PlannedRule;
  /** The egress sockets of its outputs (those whose interface exists and is up), one per output. */
  egress: EgressSpec[];
  capture?: { ifname: string; ifindex: number; target: CaptureTarget };
  membership?: Membership;
}

/** Default TTLs cached per destination address, up to this many (then the cache starts again). */
const TTL_CACHE_LIMIT = 65_536;

/** The sender keys made for one output interface (with this index and MTU), by TTL then TOS. */
interface SenderKeys {
  ifindex: number;
  mtu: number;
  /** By ttl + 256 * decrementTtl, then by tos + 256 * keepTos + 65536 * dontFragment + 131072 * ESP (and "|source" when bound to one). */
  byTtl: Map<number, Map<number | string, string>>;
}

function emptyDelta(workers: number): PlanDelta {
  return {
    workers: Array.from({ length: workers }, () => ({ rules: new Set<string>(), targets: new Map(), egressGone: new Set<string>() })),
    join: new Map(),
    leave: new Set(),
    rules: new Set(),
  };
}

/**
 * The forwarding plan, kept up to date one rule at a time: set() plans a rule again, remove() takes it
 * out, each in O(the rule's size), with reference counts on what rules share (egress sockets, capture
 * interfaces, memberships). A plan built by set() of every rule (planForwarding) and one changed by
 * set() and remove() since hold the same; take() returns what changed since the last take().
 *
 * Valid as long as the interfaces are those it planned with: after an interface change, plan afresh.
 */
export class ForwardingState implements ForwardingPlan {
  readonly workers: WorkerPlan[];
  readonly memberships = new Map<string, Membership>();
  readonly statuses = new Map<string, PlannedStatus>();
  private readonly byRule = new Map<string, RulePlan>();
  /**
   * Per worker: the outputs using each egress key that more than one output uses (of one rule or
   * several). A key in the worker's egress and not here has one user: the common case (an output
   * per destination), which then costs one map, not two.
   */
  private readonly egressShared: Array<Map<string, number>>;
  private readonly membershipRefs = new Map<string, number>();
  /** Per worker: rules using each capture target, by "ifname target-key" (the store keeps them unique; this does not rely on it). */
  private readonly targetRefs: Array<Map<string, number>>;
  /** Per worker, by capture interface: the targets added and removed since the last take(), by targetKey. */
  private readonly targetEdits: Array<Map<string, { added: Map<string, CaptureTarget>; removed: Map<string, CaptureTarget> }>>;
  private readonly placed: RulePlacement;
  private delta: PlanDelta;
  private readonly ttls = new Map<string, number>();
  /** By output interface name: made once, shared by every output through the same sender. */
  private readonly senderKeys = new Map<string, SenderKeys>();

  constructor(
    placement: number | RulePlacement,
    private readonly interfaces: InterfaceLookup,
    private readonly traces: TraceLookup = () => undefined,
  ) {
    this.placed = typeof placement === 'number' ? new RulePlacement(placement) : placement;
    this.workers = Array.from({ length: this.placed.workers }, () => ({ captures: new Map(), egress: new Map(), rules: new Map() }));
    this.egressShared = this.workers.map(() => new Map());
    this.targetRefs = this.workers.map(() => new Map());
    this.targetEdits = this.workers.map(() => new Map());
    this.delta = emptyDelta(this.workers.length);
  }

  /** Plans `rule` (again). */
  set(rule: Rule): void {
    this.remove(rule.id);
    const plan = this.planRule(rule);
    this.byRule.set(rule.id, plan);
    this.statuses.set(rule.id, plan.status);
    this.delta.workers[plan.worker].rules.add(rule.id);
    if (!plan.planned) return;
    const worker = this.workers[plan.worker];
    const delta = this.delta.workers[plan.worker];
    worker.rules.set(rule.id, plan.planned);
    const shared = this.egressShared[plan.worker];
    for (const spec of plan.egress) {
      if (!worker.egress.has(spec.key)) {
        worker.egress.set(spec.key, spec);
        delta.egressGone.delete(spec.key);
      } else {
        shared.set(spec.key, (shared.get(spec.key) ?? 1) + 1);
      }
    }
    const { ifname, ifindex, target } = plan.capture!;
    let capture = worker.captures.get(ifname);
    if (!capture) worker.captures.set(ifname, (capture = { ifname, ifindex, targets: new Map() }));
    const key = targetKey(target);
    const targetUses = this.targetRefs[plan.worker];
    const usesKey = `${ifname} ${key}`;
    const uses = targetUses.get(usesKey) ?? 0;
    targetUses.set(usesKey, uses + 1);
    if (uses === 0) {
      capture.targets.set(key, target);
      this.targetChanged(plan.worker, ifname, target, key, +1);
    }
    const membership = plan.membership!;
    const count = this.membershipRefs.get(membership.key) ?? 0;
    this.membershipRefs.set(membership.key, count + 1);
    if (count === 0) {
      this.memberships.set(membership.key, membership);
      if (!this.delta.leave.delete(membership.key)) this.delta.join.set(membership.key, membership);
    }
  }

  /** Takes the rule with this id out of the plan (nothing when it is not in it). */
  remove(id: string): void {
    const plan = this.byRule.get(id);
    this.delta.rules.add(id);
    if (!plan) return;
    this.byRule.delete(id);
    this.statuses.delete(id);
    this.delta.workers[plan.worker].rules.add(id);
    if (!plan.planned) return;
    const worker = this.workers[plan.worker];
    const delta = this.delta.workers[plan.worker];
    worker.rules.delete(id);
    const shared = this.egressShared[plan.worker];
    for (const spec of plan.egress) {
      const users = shared.get(spec.key);
      if (users === undefined) {
        worker.egress.delete(spec.key);
        delta.egressGone.add(spec.key);
      } else if (users > 2) {
        shared.set(spec.key, users - 1);
      } else {
        shared.delete(spec.key);
      }
    }
    const { ifname, target } = plan.capture!;
    const capture = worker.captures.get(ifname)!;
    const key = targetKey(target);
    const targetUses = this.targetRefs[plan.worker];
    const usesKey = `${ifname} ${key}`;
    const uses = targetUses.get(usesKey)! - 1;
    if (uses > 0) {
      targetUses.set(usesKey, uses);
    } else {
      targetUses.delete(usesKey);
      capture.targets.delete(key);
      if (capture.targets.size === 0) worker.captures.delete(ifname);
      this.targetChanged(plan.worker, ifname, target, key, -1);
    }
    const membership = plan.membership!;
    const count = this.membershipRefs.get(membership.key)! - 1;
    if (count > 0) {
      this.membershipRefs.set(membership.key, count);
      return;
    }
    this.membershipRefs.delete(membership.key);
    this.memberships.delete(membership.key);
    if (!this.delta.join.delete(membership.key)) this.delta.leave.add(membership.key);
  }

  /** What changed since the last take() (or since the state was made), and starts again. */
  take(): PlanDelta {
    const delta = this.delta;
    this.delta = emptyDelta(this.workers.length);
    // The per-interface maps stay (emptied): a pass does not make them again (decisions/0055).
    this.targetEdits.forEach((edits, worker) => {
      for (const [ifname, { added, removed }] of edits) {
        if (added.size === 0 && removed.size === 0) continue;
        delta.workers[worker].targets.set(ifname, { added: [...added.values()], removed: [...removed.values()] });
        added.clear();
        removed.clear();
      }
    });
    return delta;
  }

  /**
   * Records a target added (+1) or removed (-1) in `worker`; a removal and an addition of the same
   * cancel out. By key in maps (no search with a callback: a pass that both adds and removes targets
   * would run a callback the optimized code has never seen, and leave it at every such pass).
   */
  private targetChanged(worker: number, ifname: string, target: CaptureTarget, key: string, sign: 1 | -1): void {
    const edits = this.targetEdits[worker];
    let changes = edits.get(ifname);
    if (!changes) edits.set(ifname, (changes = { added: new Map(), removed: new Map() }));
    const [mine, theirs] = sign > 0 ? [changes.added, changes.removed] : [changes.removed, changes.added];
    if (!theirs.delete(key)) mine.set(key, target);
  }

  private ttlOf(address: string): number {
    let ttl = this.ttls.get(address);
    if (ttl === undefined) {
      if (this.ttls.size >= TTL_CACHE_LIMIT) this.ttls.clear();
      this.ttls.set(address, (ttl = defaultTtl(address)));
    }
    return ttl;
  }

  /** senderKey of an output through `outIf` with this TTL and TOS policy, made once per sender. */
  private senderKeyOf(outIf: InterfaceInfo, policy: SenderPolicy, source: string, protocol: SenderSpec['protocol']): string {
    let keys = this.senderKeys.get(outIf.name);
    if (keys?.ifindex !== outIf.index || keys.mtu !== outIf.mtu) {
      this.senderKeys.set(outIf.name, (keys = { ifindex: outIf.index, mtu: outIf.mtu, byTtl: new Map() }));
    }
    const ttlCode = policy.ttl + (policy.decrementTtl ? 256 : 0);
    let byTos = keys.byTtl.get(ttlCode);
    if (!byTos) keys.byTtl.set(ttlCode, (byTos = new Map()));
    const tosCode = policy.tos + 256 * policy.keepTos + (policy.dontFragment ? 65536 : 0) + (protocol === 'esp' ? 131072 : 0);
    const cacheKey = source ? `${tosCode}|${source}` : tosCode;
    let key = byTos.get(cacheKey);
    if (key === undefined) byTos.set(cacheKey, (key = senderKey({ ifname: outIf.name, ifindex: outIf.index, mtu: outIf.mtu, source, protocol, ...policy })));
    return key;
  }

  private planRule(rule: Rule): RulePlan {
    const { interfaces } = this;
    const input = rule.input!;
    const worker = this.placed.workerOf(input);
    const inputIf = interfaces.get(input.interface);
    if (!inputIf) {
      return { worker, egress: [], status: { state: RuleState.RULE_STATE_WAITING_FOR_INTERFACE, reason: `input interface ${input.interface} does not exist`, worker } };
    }
    if (!inputIf.up) {
      // Administratively down: its sockets and membership go, and are made afresh (the group joined
      // again, so snooping switches hear a report at once) when it is set up again. A link that is up
      // without carrier (a fresh veth until link watch runs, a cable out) stays installed below.
      return { worker, egress: [], status: { state: RuleState.RULE_STATE_INTERFACE_DOWN, reason: `input interface ${input.interface} is down`, worker } };
    }
    // Sized for every output, as most often all are planned, and cut to those that are: no regrowth.
    const egress = new Array<EgressSpec>(rule.outputs.length);
    const outputs = new Array<string>(rule.outputs.length);
    const outputIndexes = new Array<number>(rule.outputs.length);
    const outputIdentities = new Array<string>(rule.outputs.length);
    let count = 0;
    const protocol = relaysEsp(input) ? 'esp' : 'udp';
    const missing: string[] = [];
    let unusableSources = 0;
    rule.outputs.forEach((output, index) => {
      const outIf = interfaces.get(output.interface);
      if (!outIf) {
        missing.push(`outputs[${index}] interface ${output.interface} does not exist`);
        return;
      }
      if (!isUp(outIf)) {
        // No socket for it until it is up again (connecting through a down interface fails anyway).
        missing.push(`outputs[${index}] interface ${output.interface} is down`);
        return;
      }
      const { address, port, source } = output;
      if (source && !mayUseSource(outIf, source)) {
        missing.push(`outputs[${index}] source ${source} is not an address of ${output.interface}`);
        unusableSources++;
        return;
      }
      const policy = outputPolicy(output, output.ttl ?? this.ttlOf(address));
      const sender = this.senderKeyOf(outIf, policy, source, protocol);
      const key = egressKey(sender, address, port);
      // One entry per output: validation refuses two outputs of a rule to the same destination, and
      // were there two, set() and remove() count each (as two users of the key) all the same.
      egress[count] = { key, sender, ifname: outIf.name, ifindex: outIf.index, mtu: outIf.mtu, source, protocol, address, port, ...policy };
      outputs[count] = key;
      outputIndexes[count] = index;
      outputIdentities[count] = outputIdentity(output);
      count++;
    });
    for (const list of [egress, outputs, outputIndexes, outputIdentities]) list.length = count;
    if (count === 0) {
      // Every output unusable: for its source address alone (until the address is added), for a
      // missing interface (until it appears), else for interfaces that are down.
      const allDown = rule.outputs.every((o) => interfaces.get(o.interface) !== undefined);
      const state =
        unusableSources === rule.outputs.length
          ? RuleState.RULE_STATE_ERROR
          : allDown
            ? RuleState.RULE_STATE_INTERFACE_DOWN
            : RuleState.RULE_STATE_WAITING_FOR_INTERFACE;
      return { worker, egress: [], status: { state, reason: missing.join('; '), worker } };
    }
    const trace = this.traces(rule.id);
    const planned: PlannedRule = {
      id: rule.id,
      ifname: inputIf.name,
      group: input.group,
      port: input.port,
      source: input.source,
      vlan: input.vlan ?? 0,
      outputs,
      outputIndexes,
      outputIdentities,
      ...(trace ? { trace } : {}),
    };
    const key = membershipKey(inputIf.index, input.group, input.source);
    const membership: Membership = { key, ifindex: inputIf.index, group: input.group, source: input.source };
    const status: PlannedStatus = isUp(inputIf)
      ? { state: RuleState.RULE_STATE_ACTIVE, reason: missing.join('; '), worker, membership: key }
      : { state: RuleState.RULE_STATE_INTERFACE_DOWN, reason: `input interface ${input.interface} has no carrier`, worker, membership: key };
    return {
      worker,
      status,
      planned,
      egress,
      capture: { ifname: inputIf.name, ifindex: inputIf.index, target: { group: input.group, port: input.port, source: input.source, vlan: input.vlan ?? 0 } },
      membership,
    };
  }
}

/**
 * The whole plan of `rules`. `placement`: which worker owns each rule, or the worker count for plain
 * hash placement. The state it returns can be changed rule by rule from then on.
 */
export function planForwarding(rules: Iterable<Rule>, placement: number | RulePlacement, interfaces: InterfaceLookup, traces: TraceLookup = () => undefined): ForwardingState {
  const state = new ForwardingState(placement, interfaces, traces);
  for (const rule of rules) state.set(rule);
  state.take();
  return state;
}
