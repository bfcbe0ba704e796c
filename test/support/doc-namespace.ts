/**
 * A namespace whose interfaces carry the names the documents use (eth0, eth1, wg0), for tests that run
 * the documents' examples against a real mcrd started in it (test/support/mcrd.ts). Each interface is
 * one end of a veth pair whose peer stays in the namespace; both ends are up.
 */
import crypto from 'crypto';

import { registerCleanup } from './cleanup';
import { deleteNamespace, ip, NAMESPACE_PREFIX, sweepStaleNamespaces, sysctl } from './netns';

/** The documents' interfaces and the addresses they are given. */
export const DOC_INTERFACES = [
  { ifname: 'eth0', address: '10.10.1.1/24' },
  { ifname: 'eth1', address: '10.30.0.1/24' },
  { ifname: 'wg0', address: '10.20.0.1/24' },
] as const;

/** Creates the namespace (deleted by destroy(), or by the cleanup hooks if the test process dies). */
export function createDocNamespace(suffix = 'docs'): { ns: string; destroy: () => void } {
  sweepStaleNamespaces();
  const ns = `${NAMESPACE_PREFIX}${crypto.randomBytes(2).toString('hex')}-${process.pid}-${suffix}`;
  const unregister = registerCleanup(() => deleteNamespace(ns));
  const destroy = () => {
    deleteNamespace(ns);
    unregister();
  };
  try {
    ip(['netns', 'add', ns]);
    sysctl(ns, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 });
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    for (const { ifname, address } of DOC_INTERFACES) {
      ip(['-n', ns, 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', `${ifname}p`]);
      ip(['-n', ns, 'addr', 'add', address, 'dev', ifname]);
      ip(['-n', ns, 'link', 'set', ifname, 'up']);
      ip(['-n', ns, 'link', 'set', `${ifname}p`, 'up']);
    }
  } catch (err) {
    destroy();
    throw err;
  }
  return { ns, destroy };
}
