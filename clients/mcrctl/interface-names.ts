/**
 * The names of the interfaces that exist, for interface-warnings.ts: those mcrd sees (ListInterfaces,
 * whose answer also lists the missing interfaces rules name, which are left out here), or those of
 * the network namespace mcrctl runs in (/sys/class/net), for `config check` without an mcrd.
 */
import fs from 'fs';

import type { ListInterfacesResponse } from '../../gen/mcr/v1/system';

/** The interfaces of a ListInterfaces answer that exist. */
export function existingInterfaces(response: ListInterfacesResponse): string[] {
  return response.interfaces.filter((i) => i.exists).map((i) => i.name);
}

/** Where the kernel lists the network interfaces of the namespace a process is in. */
export const SYS_CLASS_NET = '/sys/class/net';

/**
 * The interfaces of this network namespace: the entries of /sys/class/net that are links to devices
 * (files there, such as bonding_masters, are not interfaces).
 */
export function localInterfaces(dir = SYS_CLASS_NET): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isSymbolicLink() || entry.isDirectory())
    .map((entry) => entry.name);
}
