/**
 * What privilege this process still holds, read from /proc/self/status. A worker must hold none:
 * it is started as nobody with every capability set empty and no_new_privs, and refuses to run otherwise.
 */
import fs from 'fs';

export interface Privileges {
  uids: number[];
  gids: number[];
  groups: number[];
  capInh: bigint;
  capPrm: bigint;
  capEff: bigint;
  capBnd: bigint;
  capAmb: bigint;
  noNewPrivs: boolean;
}

export function parseStatus(text: string): Privileges {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const numbers = (key: string) => (fields.get(key) ?? '').split(/\s+/).filter(Boolean).map(Number);
  const caps = (key: string) => BigInt('0x' + (fields.get(key) ?? 'ffffffffffffffff'));
  return {
    uids: numbers('Uid'),
    gids: numbers('Gid'),
    groups: numbers('Groups'),
    capInh: caps('CapInh'),
    capPrm: caps('CapPrm'),
    capEff: caps('CapEff'),
    capBnd: caps('CapBnd'),
    capAmb: caps('CapAmb'),
    noNewPrivs: fields.get('NoNewPrivs') === '1',
  };
}

export function readPrivileges(): Privileges {
  return parseStatus(fs.readFileSync('/proc/self/status', 'utf8'));
}

/** Every reason the process is not fully unprivileged; empty when it is. */
export function privilegeProblems(p: Privileges): string[] {
  const problems: string[] = [];
  if (p.uids.length !== 4 || p.uids.some((u) => u === 0)) problems.push(`runs with uid 0 (Uid: ${p.uids.join(' ')})`);
  if (p.gids.length !== 4 || p.gids.some((g) => g === 0)) problems.push(`runs with gid 0 (Gid: ${p.gids.join(' ')})`);
  if (p.groups.includes(0)) problems.push('member of group 0');
  for (const [name, value] of [
    ['CapInh', p.capInh],
    ['CapPrm', p.capPrm],
    ['CapEff', p.capEff],
    ['CapBnd', p.capBnd],
    ['CapAmb', p.capAmb],
  ] as const) {
    if (value !== 0n) problems.push(`${name} is ${value.toString(16)}, not 0`);
  }
  if (!p.noNewPrivs) problems.push('no_new_privs is not set');
  return problems;
}
