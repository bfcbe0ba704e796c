/** `npm run demo -- --non-interactive`, as CI runs it: mcr delivers the stream the kernel alone drops. */
import { expect } from 'chai';
import { execFile } from 'child_process';
import path from 'path';

import { kernelMulticastRouting } from '../../bench/lib/kernel-capabilities';
import { requireRoot } from '../support/fixture';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const DEMO_TIMEOUT_MS = 120_000;

interface DemoSummary {
  event: 'demo';
  kernelMulticastRouting: { available: boolean; reason: string };
  kernel: string;
  sent: { kernel: number; mcr: number };
  delivered: { kernel: number; mcr: number };
  mcrForwarded: number;
  traced: number;
}

function runDemo(): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const argv = ['-r', 'ts-node/register/transpile-only', path.join(REPO_ROOT, 'demo', 'run.ts'), '--non-interactive'];
    execFile(process.execPath, argv, { cwd: REPO_ROOT, timeout: DEMO_TIMEOUT_MS }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('e2e: npm run demo', function () {
  this.timeout(DEMO_TIMEOUT_MS + 10_000);

  it('shows mcr forwarding what the kernel alone does not deliver, with traced packets, and exits 0, on this kernel whether it routes multicast or not', async function () {
    requireRoot();
    // Detected here independently of the demo (in the test's own namespace), so the demo's account of
    // the kernel is checked against the kernel, whichever of the two kinds this machine runs.
    const routing = kernelMulticastRouting();
    const { code, stdout, stderr } = await runDemo();
    const last = stdout.trim().split('\n').pop() ?? '';
    expect(code, `demo exit status; stderr: ${stderr}\nstdout: ${stdout}`).to.equal(0);
    const summary = JSON.parse(last) as DemoSummary;
    expect(summary.event).to.equal('demo');
    expect(summary.kernelMulticastRouting.available, `the demo's view of the kernel (${summary.kernelMulticastRouting.reason}) against the test's (${routing.reason})`).to.equal(routing.available);
    if (routing.available) {
      expect(stdout).to.match(/== 2\. The kernel alone: its multicast routing, with an MFC entry/);
      expect(summary.kernel).to.match(/this kernel routes multicast .*unroutable .*TTL is 1/);
    } else {
      expect(stdout).to.match(/== 2\. The kernel alone: it has no multicast routing to set up/);
      expect(stdout).to.match(/multicast routing in this kernel: no \(.*\)/);
      expect(summary.kernel).to.match(/^the kernel cannot route multicast here: .+; mcr needs no multicast routing/);
    }
    expect(summary.delivered.kernel, 'kernel alone').to.equal(0);
    expect(summary.sent.kernel).to.be.greaterThan(0);
    expect(summary.mcrForwarded).to.be.greaterThan(0);
    expect(summary.delivered.mcr, 'delivered through mcr').to.be.greaterThan(0);
    expect(summary.traced, 'traced packets shown').to.be.within(1, 5);
    expect(stdout).to.match(/== 4\. The first packets of the stream, traced/);
    expect(stdout).to.match(/-> 239\.1\.1\.1:5000 ttl 1 .*forwarded/);
  });
});
