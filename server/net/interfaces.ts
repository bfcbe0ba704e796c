/**
 * The host's interfaces, followed over rtnetlink: a full dump at start and after a netlink overrun
 * (so a missed event never leaves the table wrong), then link and IPv4 address events. Changes are
 * reported through onChange, coalesced over a short delay so that a flapping link costs one sync per
 * burst rather than one per event.
 */
import type { AddressInfo, LinkInfo, Native, NetlinkEvent, NetlinkMonitor } from '../../native';
import { logger } from '../log';

export interface InterfaceInfo {
  name: string;
  index: number;
  /** IFF_UP (administratively up). */
  up: boolean;
  /** IFF_RUNNING (operationally up: carrier). */
  running: boolean;
  mtu: number;
  mac: string;
  /** IPv4 addresses as "a.b.c.d/len". */
  addresses: string[];
}

/** Whether traffic can pass: administratively and operationally up. */
export function isUp(info: InterfaceInfo): boolean {
  return info.up && info.running;
}

export interface InterfaceLookup {
  get(name: string): InterfaceInfo | undefined;
}

/** How long changes are gathered before onChange runs. */
export const COALESCE_MS = 20;

const log = logger('net');

export interface InterfaceChange {
  /** Names whose link or addresses changed (including removals). */
  changed: Set<string>;
  removed: Set<string>;
}

export class InterfaceTable implements InterfaceLookup {
  private byIndex = new Map<number, InterfaceInfo>();
  private byName = new Map<string, InterfaceInfo>();
  private monitor?: NetlinkMonitor;
  private pending: InterfaceChange = { changed: new Set(), removed: new Set() };
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly addon: Native,
    private readonly onChange: (change: InterfaceChange) => void,
  ) {}

  /**
   * Subscribes to rtnetlink, then loads the current state (events racing the dump are re-applied after
   * it) and reports it before returning, not COALESCE_MS later: whoever starts the table plans with it
   * next, and would otherwise hear of the same interfaces again as a change (at start, a second full
   * forwarding pass over every rule).
   */
  start(): void {
    this.monitor = new this.addon.NetlinkMonitor((events) => this.apply(events));
    this.reload();
    this.report();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.monitor?.close();
    this.monitor = undefined;
  }

  get(name: string): InterfaceInfo | undefined {
    return this.byName.get(name);
  }

  all(): InterfaceInfo[] {
    return [...this.byName.values()].sort((a, b) => a.index - b.index);
  }

  /** Replaces the table with a fresh dump, reporting every difference. */
  private reload(): void {
    const { links, addresses } = this.monitor!.dump();
    const before = new Map(this.byName);
    this.byIndex.clear();
    this.byName.clear();
    for (const link of links) this.setLink(link);
    for (const address of addresses) this.addAddress(address);
    for (const [name, old] of before) {
      const now = this.byName.get(name);
      if (!now) this.note(name, true);
      else if (!sameInterface(old, now)) this.note(name, false);
    }
    for (const name of this.byName.keys()) if (!before.has(name)) this.note(name, false);
  }

  private apply(events: NetlinkEvent[]): void {
    for (const event of events) {
      switch (event.kind) {
        case 'overrun':
          log.warn('rtnetlink overrun: events were lost, reloading the interface table');
          this.reload();
          break;
        case 'link':
          this.setLink(event.link);
          break;
        case 'linkDeleted':
          this.deleteLink(event.link.index);
          break;
        case 'address':
          this.addAddress(event.address);
          break;
        case 'addressDeleted':
          this.deleteAddress(event.address);
          break;
      }
    }
  }

  private setLink(link: LinkInfo): void {
    const old = this.byIndex.get(link.index);
    if (old && old.name !== link.name) this.deleteLink(link.index); // renamed: the old name is gone
    const info: InterfaceInfo = {
      name: link.name,
      index: link.index,
      up: link.up,
      running: link.running,
      mtu: link.mtu,
      mac: link.mac,
      addresses: old && old.name === link.name ? old.addresses : [],
    };
    // A new interface under a name another index held (deleted and re-created): the new one wins.
    const sameName = this.byName.get(link.name);
    if (sameName && sameName.index !== link.index) this.byIndex.delete(sameName.index);
    this.byIndex.set(link.index, info);
    this.byName.set(link.name, info);
    if (!old || !sameInterface(old, info)) this.note(link.name, false);
  }

  private deleteLink(index: number): void {
    const old = this.byIndex.get(index);
    if (!old) return;
    this.byIndex.delete(index);
    if (this.byName.get(old.name)?.index === index) {
      this.byName.delete(old.name);
      this.note(old.name, true);
    }
  }

  private addAddress(address: AddressInfo): void {
    const info = this.byIndex.get(address.index);
    if (!info) return;
    const entry = `${address.address}/${address.prefixLength}`;
    if (info.addresses.includes(entry)) return;
    info.addresses = [...info.addresses, entry];
    this.note(info.name, false);
  }

  private deleteAddress(address: AddressInfo): void {
    const info = this.byIndex.get(address.index);
    if (!info) return;
    const entry = `${address.address}/${address.prefixLength}`;
    if (!info.addresses.includes(entry)) return;
    info.addresses = info.addresses.filter((a) => a !== entry);
    this.note(info.name, false);
  }

  private note(name: string, removed: boolean): void {
    this.pending.changed.add(name);
    if (removed) this.pending.removed.add(name);
    else this.pending.removed.delete(name);
    this.timer ??= setTimeout(() => this.report(), COALESCE_MS);
  }

  /** Reports the changes noted so far, if any. */
  private report(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const change = this.pending;
    if (change.changed.size === 0) return;
    this.pending = { changed: new Set(), removed: new Set() };
    this.onChange(change);
  }
}

function sameInterface(a: InterfaceInfo, b: InterfaceInfo): boolean {
  return (
    a.index === b.index &&
    a.up === b.up &&
    a.running === b.running &&
    a.mtu === b.mtu &&
    a.mac === b.mac &&
    a.addresses.length === b.addresses.length &&
    a.addresses.every((x, i) => x === b.addresses[i])
  );
}
