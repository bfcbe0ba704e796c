/**
 * The kernel's own table doing the same amount of work, beside mcr's figures: N unicast /32 routes,
 * each with K next hops (one per output, as a rule has K outputs), installed by one `ip -batch`; then
 * one more route added and deleted by one `ip route` command each. (S,G) multicast routes would be the
 * closer comparison, but only where the kernel has CONFIG_IP_MROUTE: that is probed (MRT_INIT, see
 * kernel-capabilities.ts) and reported. The routes' namespace is emptied after.
 */
import { execFile } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { kernelMulticastRouting } from '../lib/kernel-capabilities';
import { bounded, describeError } from './bounded';
import { ipBatch, kernelIfname } from './namespaces';
import type { KernelRoutes } from './results';

/** Route i: 172.16.0.0/12 + i + 1 (room for a million). */
export function routePrefix(i: number): string {
  const value = (172 * 2 ** 24 + 16 * 2 ** 16 + 1 + i) >>> 0;
  return `${[24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.')}/32`;
}

/** `ip -batch` line of route i with `nexthops` next hops (kr1..krK). */
export function routeLine(verb: 'add' | 'del', i: number, nexthops: number): string {
  const via = nexthops === 1 ? `dev ${kernelIfname(1)}` : Array.from({ length: nexthops }, (_, k) => `nexthop dev ${kernelIfname(k + 1)}`).join(' ');
  return `route ${verb} ${routePrefix(i)}${verb === 'add' ? ` ${via}` : ''}`;
}

function ipAsync(args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: Math.ceil(timeoutMs), killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 64 << 20 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.slice(0, 6).join(' ')}... failed: ${stderr.trim().split('\n').slice(-2).join('; ') || err.message}`));
      else resolve();
    });
  });
}

export async function measureKernelRoutes(ns: string, routes: number, nexthops: number, boundMs: number): Promise<KernelRoutes> {
  let multicastRouting: KernelRoutes['multicastRouting'];
  try {
    multicastRouting = kernelMulticastRouting(ns);
  } catch (err) {
    multicastRouting = { available: false, reason: `could not probe: ${describeError(err)}` };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcrb-routes-'));
  try {
    const file = path.join(dir, 'routes');
    fs.writeFileSync(file, Array.from({ length: routes }, (_, i) => routeLine('add', i, nexthops)).join('\n') + '\n');
    const batch = (await bounded(boundMs, (left) => ipAsync(['-n', ns, '-batch', file], left()))).timed;
    const one = routes + 1;
    const addOne = (await bounded(10_000, (left) => ipAsync(['-n', ns, ...routeLine('add', one, nexthops).split(' ')], left()))).timed;
    const deleteOne = (await bounded(10_000, (left) => ipAsync(['-n', ns, ...routeLine('del', one, nexthops).split(' ')], left()))).timed;
    return { multicastRouting, routes, nexthops, batch, addOne, deleteOne };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    try {
      ipBatch(ns, ['route flush table main proto boot'], 120_000);
    } catch {
      // the namespace is deleted with the shape anyway
    }
  }
}
