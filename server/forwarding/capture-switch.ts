/**
 * A socket option a worker's capture has on only while some rule of it needs it, so that the traffic
 * of other inputs does not pay for it: the kernel's receive times while a rule is traced
 * (docs/decisions/0057), the VLAN tags the kernel took out of frames while a rule names a VLAN
 * (docs/decisions/0061). It is turned on before the rules that need it are installed, and off once
 * the last of them is gone and the capture's filter no longer admits what they needed.
 */
import type { DataplaneRule } from '../../native';
import type { Logger } from '../log';
import type { InstalledRule } from './installed';

/** A capture as a switch sees it: its fd, and the names of the options on. */
export interface SwitchableCapture {
  fd: number;
  switched: Set<string>;
}

export class CaptureSwitch {
  /** The installed rules that need the option, by id: the capture interface each is on. */
  private rules = new Map<string, string>();

  constructor(
    private readonly name: string,
    private readonly needs: (rule: DataplaneRule) => boolean,
    private readonly set: (fd: number, on: boolean) => void,
    private readonly log: Logger,
  ) {}

  /**
   * The rules that need it once `upserts` and `removes` are installed; a full resend (`force`) names
   * every rule. Such rules are few: the map is copied only when it changes.
   */
  after(upserts: readonly InstalledRule[], removes: readonly string[], force: boolean): Map<string, string> {
    let rules = force ? new Map<string, string>() : this.rules;
    const edit = () => (rules === this.rules ? (rules = new Map(rules)) : rules);
    for (const id of removes) if (rules.has(id)) edit().delete(id);
    for (const { planned, dataplane } of upserts) {
      if (this.needs(dataplane)) {
        if (rules.get(planned.id) !== planned.ifname) edit().set(planned.id, planned.ifname);
      } else if (rules.has(planned.id)) {
        edit().delete(planned.id);
      }
    }
    return rules;
  }

  /** `enable`: turns the option on where `rules` need it (before they are installed); else off where they do not (after). */
  apply(captures: ReadonlyMap<string, SwitchableCapture>, rules: ReadonlyMap<string, string>, enable: boolean): void {
    if (rules.size === 0 && enable) return;
    const wanted = new Set(rules.values());
    for (const [ifname, capture] of captures) {
      const want = wanted.has(ifname);
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

  /** Turns the option off on the captures no installed rule needs it on. */
  switchOffUnneeded(captures: ReadonlyMap<string, SwitchableCapture>): void {
    this.apply(captures, this.rules, false);
  }

  /** The rules installed now (what after() gave for the change just made). */
  commit(rules: Map<string, string>): void {
    this.rules = rules;
  }

  /** Every capture is gone: no rule has the option any more. */
  reset(): void {
    this.rules = new Map();
  }
}
