/**
 * Where mcrd's start-up goes with a large store: builds the control-plane bench's namespaces, fills the
 * store with RULES x OUTPUTS through ApplyRules, restarts mcrd (optionally under --cpu-prof) and prints
 * the seconds to SERVING and to every rule installed, with mcrd's info log (its phases carry times).
 *   node -r ts-node/register/transpile-only scripts/startup-profile.ts [--rules 20000] [--outputs 4] [--prof DIR]
 */
import { parseArgs } from 'util';
import { ControlPlaneNamespaces } from '../bench/control-plane/namespaces';
import { MeasuredMcrd } from '../bench/control-plane/daemon';
import { ruleSet } from '../bench/control-plane/rule-set';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rules: { type: 'string', default: '20000' }, outputs: { type: 'string', default: '4' }, prof: { type: 'string' } } });
  const rules = Number(values.rules);
  const outputs = Number(values.outputs);
  const ns = ControlPlaneNamespaces.create(outputs, rules);
  const args = ['--max-rules', String(Math.max(rules, 100_000)), '--max-request-bytes', String(64 * 1024 * 1024)];
  let daemon = new MeasuredMcrd(ns.mcrd, args);
  try {
    await daemon.start(60_000);
    let t = Date.now();
    await daemon.client.applyRules({ rules: ruleSet(rules, outputs) } as never, { timeoutMs: 300_000 });
    await daemon.waitInstalled(rules, () => 300_000);
    console.log(`filled: ${((Date.now() - t) / 1000).toFixed(2)} s`);
    await daemon.stop();
    const options = (daemon.mcrd as unknown as { options: Record<string, unknown> }).options;
    if (values.prof) options.nodeFlags = ['--cpu-prof', `--cpu-prof-dir=${values.prof}`];
    options.logLevel = 'info';
    t = Date.now();
    await daemon.start(120_000);
    const serving = (Date.now() - t) / 1000;
    await daemon.waitInstalled(rules, () => 120_000);
    console.log(`restart: serving after ${serving.toFixed(2)} s, all installed after ${((Date.now() - t) / 1000).toFixed(2)} s`);
    await daemon.stop();
    console.log(daemon.mcrd.logs().split('\n').filter((l) => !l.includes('final counters')).slice(-60).join('\n'));
  } finally {
    await daemon.dispose().catch(() => undefined);
    ns.destroy();
  }
}

void main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
