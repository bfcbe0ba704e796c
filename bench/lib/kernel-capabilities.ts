/**
 * What the running kernel can do for the benchmark's (and the demo's) kernel reference, detected by
 * trying it rather than assumed from a version or a config file.
 *
 * Multicast routing: `mroute --probe` (bench/src/mroute.c) opens the routing socket and tries MRT_INIT
 * in the namespace asked about, then undoes it. A kernel built without CONFIG_IP_MROUTE answers
 * ENOPROTOOPT ("Protocol not available") and has no /proc/net/ip_mr_vif; the probe reports both.
 */
import { execFileSync } from 'child_process';

import { inNamespace } from '../../test/support/netns';
import { toolBinary } from './tools';

export interface KernelCapability {
  available: boolean;
  /** Why, in one sentence a report can quote: the step and errno that decided, and /proc/net/ip_mr_vif. */
  reason: string;
}

/** The JSON line `mroute --probe` prints. */
export interface MrouteProbe {
  event: 'probe';
  /** The call that failed, or "MRT_INIT" with errno 0 when it succeeded. */
  step: 'socket' | 'MRT_INIT' | 'MRT_DONE';
  errno: number;
  /** errno's name ("ENOPROTOOPT"), empty when errno is 0. */
  code: string;
  error: string;
  /** Whether /proc/net/ip_mr_vif exists in the probed namespace (it does when the kernel has CONFIG_IP_MROUTE). */
  ip_mr_vif: boolean;
}

const PROBE_TIMEOUT_MS = 10_000;

/** The answer a probe report gives (pure: unit-tested on every answer a kernel can give). */
export function interpretMrouteProbe(probe: MrouteProbe): KernelCapability {
  const proc = `/proc/net/ip_mr_vif ${probe.ip_mr_vif ? 'exists' : 'does not exist'}`;
  if (probe.errno === 0) return { available: true, reason: `MRT_INIT succeeded; ${proc}` };
  const failed = `${probe.step}: ${probe.error} (${probe.code})`;
  if (probe.step === 'MRT_INIT' && probe.code === 'EADDRINUSE') {
    // Another routing daemon (smcroute, pimd) holds this namespace's table: the kernel has multicast routing.
    return { available: true, reason: `${failed}: another multicast routing daemon runs in this namespace; ${proc}` };
  }
  if (probe.step === 'MRT_INIT' && probe.code === 'ENOPROTOOPT') {
    return { available: false, reason: `this kernel has no multicast routing (CONFIG_IP_MROUTE is not set): ${failed}; ${proc}` };
  }
  if (probe.step === 'socket' && (probe.code === 'EPERM' || probe.code === 'EACCES')) {
    return { available: false, reason: `cannot open the multicast routing socket without root (CAP_NET_RAW, CAP_NET_ADMIN): ${failed}; ${proc}` };
  }
  return { available: false, reason: `${failed}; ${proc}` };
}

/**
 * Whether the kernel routes IPv4 multicast in namespace `ns` (the caller's own when omitted), by
 * running `mroute --probe` there. `mroute` is the helper's path (default: the current build,
 * built first when stale). Synchronous; takes a few milliseconds. Never throws for an answer the
 * kernel gives; throws only when the helper itself cannot run or prints no report.
 */
export function kernelMulticastRouting(ns?: string, mroute: string = toolBinary('mroute')): KernelCapability {
  const argv = [mroute, '--probe'];
  const [command, ...args] = ns === undefined ? argv : ['ip', ...inNamespace(ns, argv)];
  let output: string;
  try {
    output = execFileSync(command, args, { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`mroute --probe${ns === undefined ? '' : ` in ${ns}`} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
  const line = output.trim().split('\n').pop() ?? '';
  let probe: MrouteProbe;
  try {
    probe = JSON.parse(line) as MrouteProbe;
  } catch {
    throw new Error(`mroute --probe printed no JSON report: ${JSON.stringify(line.slice(0, 200))}`);
  }
  return interpretMrouteProbe(probe);
}
