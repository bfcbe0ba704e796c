/** `npm run demo -- --non-interactive`, as CI runs it: mcr delivers the stream the kernel alone drops. */
import { expect } from 'chai';
import { execFile } from 'child_process';
import path from 'path';

import { requireRoot } from '../support/fixture';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const DEMO_TIMEOUT_MS = 120_000;

interface DemoSummary {
  event: 'demo';
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

  it('shows mcr forwarding what the kernel alone does not deliver, with traced packets, and exits 0', async function () {
    requireRoot();
    const { code, stdout, stderr } = await runDemo();
    const last = stdout.trim().split('\n').pop() ?? '';
    expect(code, `demo exit status; stderr: ${stderr}\nstdout: ${stdout}`).to.equal(0);
    const summary = JSON.parse(last) as DemoSummary;
    expect(summary.event).to.equal('demo');
    expect(summary.delivered.kernel, 'kernel alone').to.equal(0);
    expect(summary.sent.kernel).to.be.greaterThan(0);
    expect(summary.mcrForwarded).to.be.greaterThan(0);
    expect(summary.delivered.mcr, 'delivered through mcr').to.be.greaterThan(0);
    expect(summary.traced, 'traced packets shown').to.be.within(1, 5);
    expect(stdout).to.match(/== 4\. The first packets of the stream, traced/);
    expect(stdout).to.match(/-> 239\.1\.1\.1:5000 ttl 1 .*forwarded/);
  });
});
