/**
 * The interfaces the rules name: index and up/down, looked up by name. Refreshed on every sync and
 * polled so that interfaces appearing later are picked up.
 */
import fs from 'fs';

import type { Native } from '../../native';
import type { InterfaceInfo, InterfaceLookup } from '../forwarding/plan';

const IFF_UP = 0x1;

function readSysfs(name: string, attribute: string): string | undefined {
  try {
    return fs.readFileSync(`/sys/class/net/${name}/${attribute}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export class InterfaceTable implements InterfaceLookup {
  private table = new Map<string, InterfaceInfo>();

  constructor(private readonly addon: Native) {}

  get(name: string): InterfaceInfo | undefined {
    return this.table.get(name);
  }

  /** Looks up every named interface again; true when anything changed. */
  refresh(names: Iterable<string>): boolean {
    const next = new Map<string, InterfaceInfo>();
    for (const name of new Set(names)) {
      const info = this.lookup(name);
      if (info) next.set(name, info);
    }
    const changed =
      next.size !== this.table.size ||
      [...next].some(([name, info]) => {
        const old = this.table.get(name);
        return !old || old.index !== info.index || old.up !== info.up;
      });
    this.table = next;
    return changed;
  }

  private lookup(name: string): InterfaceInfo | undefined {
    const index = this.addon.ifNameToIndex(name);
    if (index === 0) return undefined;
    // sysfs shows the namespace it was mounted in; trust its flags only when it agrees on the index.
    const sysIndex = Number(readSysfs(name, 'ifindex'));
    const flags = Number(readSysfs(name, 'flags'));
    const up = sysIndex === index && Number.isFinite(flags) ? (flags & IFF_UP) !== 0 : true;
    return { name, index, up };
  }
}
