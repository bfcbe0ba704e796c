/**
 * A namespace's IP, ICMP and UDP counters as its kernel keeps them (/proc/net/snmp): what the hosts
 * of a test saw, counted by something other than mcr.
 */
import { runIn } from './netns';

/** By "Section.Name" (Ip.ReasmOKs, Icmp.InDestUnreachs...), from the text of /proc/net/snmp. */
export function parseSnmp(text: string): Map<string, number> {
  const counters = new Map<string, number>();
  const lines = text.trim().split('\n');
  // Each section is two lines: "Ip: Forwarding DefaultTTL ..." and "Ip: 1 64 ...".
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [section, ...names] = lines[i].split(/\s+/);
    const [valueSection, ...values] = lines[i + 1].split(/\s+/);
    if (section !== valueSection || names.length !== values.length) throw new Error(`/proc/net/snmp: unexpected lines ${JSON.stringify(lines.slice(i, i + 2))}`);
    names.forEach((name, k) => counters.set(`${section.replace(/:$/, '')}.${name}`, Number(values[k])));
  }
  return counters;
}

export async function snmpCounters(ns: string): Promise<Map<string, number>> {
  return parseSnmp(await runIn(ns, ['cat', '/proc/net/snmp']));
}

/** How much counter `name` grew from `before` to `after`. */
export function grew(before: Map<string, number>, after: Map<string, number>, name: string): number {
  const [from, to] = [before.get(name), after.get(name)];
  if (from === undefined || to === undefined) throw new Error(`/proc/net/snmp has no ${name}`);
  return to - from;
}
