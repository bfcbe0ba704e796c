/**
 * The group the control socket is handed to (`--socket-group`): members may connect (mode 0660),
 * nobody else but root. A numeric gid or a group name from the system's group database.
 */
import { execFileSync } from 'child_process';

/** The gid of `group` (a name or a number); throws a message naming the group when unknown. */
export function resolveGroup(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  let entry = '';
  try {
    // getent consults NSS (files, LDAP, sssd...), as ls and chgrp would.
    entry = execFileSync('getent', ['group', group], { encoding: 'utf8', timeout: 5000 }).trim();
  } catch {
    throw new Error(`--socket-group: no group named ${JSON.stringify(group)}`);
  }
  const gid = Number(entry.split(':')[2]);
  if (!Number.isInteger(gid)) throw new Error(`--socket-group: cannot read the gid of ${JSON.stringify(group)} from "${entry}"`);
  return gid;
}
