/**
 * socat as the relay, the way a user would run it: one process per flow and output,
 *
 *   socat -u UDP4-RECV:PORT,bind=GROUP,reuseaddr,ip-add-membership=GROUP:IN_ADDR \
 *            UDP4-DATAGRAM:GROUP:PORT,ip-multicast-if=OUT_ADDR,ip-multicast-loop=0
 *
 * pinned with taskset to the relay CPU (where mcr's first worker runs). Binding the group address keeps
 * each process to its own group; processes of the same group each receive their own copy.
 * socat comes from Debian's package; when it is missing the benchmark installs it (root only) or
 * reports socat as skipped with the reason.
 */
import { execFileSync } from 'child_process';

import { residentByLabel } from '../memory';
import { NamespaceProcess } from '../process';
import { outputLink, RELAY_IN } from '../topology';
import { Relay, RelayContext, RelaySetup } from './relay';

const LIFETIME_BOUND_MS = 3 * 3600_000;
const INSTALL_TIMEOUT_MS = 300_000;

function which(command: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

function aptGet(args: string[]): void {
  execFileSync('apt-get', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: INSTALL_TIMEOUT_MS,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** The socat executable, installing Debian's package when missing and root; or why there is none. */
export function findSocat(log: (line: string) => void): { path: string } | { skipped: string } {
  const found = which('socat');
  if (found) return { path: found };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return { skipped: 'socat is not installed and installing it needs root' };
  if (which('apt-get') === null) return { skipped: 'socat is not installed and there is no apt-get to install it' };
  log('socat is missing: apt-get install socat');
  try {
    try {
      aptGet(['install', '-y', '-q', 'socat']);
    } catch {
      aptGet(['update', '-q']); // the package lists may be missing or stale
      aptGet(['install', '-y', '-q', 'socat']);
    }
  } catch (err) {
    const e = err as Error & { stderr?: Buffer };
    return { skipped: `apt-get install socat failed: ${e.stderr?.toString().trim().split('\n').pop() ?? e.message}` };
  }
  const installed = which('socat');
  return installed ? { path: installed } : { skipped: 'apt-get install socat succeeded but socat is not on PATH' };
}

export class SocatRelay implements Relay {
  readonly name = 'socat';
  readonly description: string;
  private processes: NamespaceProcess[] = [];

  constructor(
    private readonly ctx: RelayContext,
    private readonly socat: string,
  ) {
    this.description = `socat UDP4-RECV -> UDP4-DATAGRAM, one process per flow and output, pinned to CPU ${ctx.relayCpu}`;
  }

  unsupported(setup: RelaySetup): string | null {
    return setup.idleFlows.length > 0 ? 'socat has no rule table: installed rules without traffic do not apply' : null;
  }

  async start(setup: RelaySetup): Promise<void> {
    for (const flow of setup.flows) {
      for (const k of setup.outputs) {
        const input = `UDP4-RECV:${flow.port},bind=${flow.group},reuseaddr,ip-add-membership=${flow.group}:${RELAY_IN.address}`;
        const output = `UDP4-DATAGRAM:${flow.group}:${flow.port},ip-multicast-if=${outputLink(k).relay.address},ip-multicast-loop=0`;
        const argv = ['taskset', '-c', String(this.ctx.relayCpu), this.socat, '-u', input, output];
        this.processes.push(new NamespaceProcess(`socat ${flow.group} -> out${k}`, this.ctx.topology.ns.relay, argv, LIFETIME_BOUND_MS));
      }
    }
    // socat prints nothing when ready; the benchmark's warm-up traffic tells when it forwards.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const dead = this.processes.find((p) => !p.running);
    if (dead) {
      const message = `${dead.label} exited at start: ${dead.errors() || '(no stderr)'}`;
      await this.stop();
      throw new Error(message);
    }
  }

  async stop(): Promise<void> {
    const processes = this.processes;
    this.processes = [];
    await Promise.all(processes.map((p) => p.stop()));
  }

  pids(): number[] {
    return this.ctx.topology.pids('relay');
  }

  async counters(): Promise<Record<string, number>> {
    return {};
  }

  memory(): Record<string, number> {
    return residentByLabel(this.pids(), () => 'socat');
  }
}
