/**
 * A socket option a worker's capture has on only while some rule of it needs it, so that the traffic
 * of other inputs does not pay for it: the kernel's receive times while a rule is traced
 * (docs/decisions/0057), the VLAN tags the kernel took out of frames while a rule names a VLAN
 * (docs/decisions/0061). It is turned on before the rules that need it are installed, and off once
 * the last of them is gone and the capture's filter no longer admits what they needed.
 *
 * The books follow each change in time proportional to the change (the rules it names), not to the
 * rules installed: a count of needing rules per capture interface, and which interface each such rule
 * is on.
 */
import type { DataplaneRule } from '../../native';
import type { Logger } from '../log';
import type { InstalledRule } from './installed';

/** A capture as a switch sees it: its fd, and the names of the options on. */
export interface SwitchableCapture {
  fd: number;
  switched: Set<string>;
}

/** What a change does to a switch's books: made by after(), kept by commit(). */
export interface SwitchChange {
  /** Whether the books start afresh (a full resend). */
  whole: boolean;
  /** By rule id: the capture interface of a rule that needs the option now, or undefined for one that no longer does. */
  rules: Map<string, string | undefined>;
  /** Needing rules per capture interface once the change is made. */
  counts: Map<string, number>;
}

export class CaptureSwitch {
  /** The installed rules that need the option, by id: the capture interface each is on. */
  private rules = new Map<string, string>();
  /** How many of them each capture interface has. */
  private counts = new Map<string, number>();

  constructor(
    private readonly name: string,
    private readonly needs: (rule: DataplaneRule) => boolean,
    private readonly set: (fd: number, on: boolean) => void,
    private readonly log: Logger,
  ) {}

  /** The books once `upserts` and `removes` are installed; a full resend (`force`) names every rule. */
  after(upserts: readonly InstalledRule[], removes: readonly string[], force: boolean): SwitchChange {
    const change: SwitchChange = { whole: force, rules: new Map(), counts: force ? new Map() : new Map(this.counts) };
    const current = (id: string) => (change.rules.has(id) ? change.rules.get(id) : force ? undefined : this.rules.get(id));
    const move = (id: string, to: string | undefined) => {
      const from = current(id);
      if (from === to) return;
      if (from !== undefined) change.counts.set(from, change.counts.get(from)! - 1);
      if (to !== undefined) change.counts.set(to, (change.counts.get(to) ?? 0) + 1);
      change.rules.set(id, to);
    };
    for (const id of removes) move(id, undefined);
    for (const { planned, dataplane } of upserts) move(planned.id, this.needs(dataplane) ? planned.ifname : undefined);
    return change;
  }

  /** `enable`: turns the option on where `change` needs it (before its rules are installed). */
  switchOn(captures: ReadonlyMap<string, SwitchableCapture>, change: SwitchChange): void {
    this.apply(captures, change.counts, true);
  }

  /** Turns the option off on the captures no installed rule needs it on. */
  switchOffUnneeded(captures: ReadonlyMap<string, SwitchableCapture>): void {
    this.apply(captures, this.counts, false);
  }

  /** The change is installed: its books are the switch's. */
  commit(change: SwitchChange): void {
    if (change.whole) this.rules = new Map();
    for (const [id, ifname] of change.rules) {
      if (ifname === undefined) this.rules.delete(id);
      else this.rules.set(id, ifname);
    }
    this.counts = change.counts;
  }

  /** Every capture is gone: no rule has the option any more. */
  reset(): void {
    this.rules = new Map();
    this.counts = new Map();
  }

  /** On where `counts` has needing rules (enable), or off where it has none (not enable). */
  private apply(captures: ReadonlyMap<string, SwitchableCapture>, counts: ReadonlyMap<string, number>, enable: boolean): void {
    for (const [ifname, capture] of captures) {
      const want = (counts.get(ifname) ?? 0) > 0;
      if (want !== enable || capture.switched.has(this.name) === want) continue;
      try {
        this.set(capture.fd, want);
        if (want) capture.switched.add(this.name);
        else capture.switched.delete(this.name);
      } catch (err) {
        this.log.warn(`cannot switch ${this.name}`, { interface: ifname, on: want, error: (err as Error).message });
      }
    }
  }
}
