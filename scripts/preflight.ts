/**
 * Runs before `npm test` (the pretest script): stops at once with one precise message when this
 * machine or checkout cannot run the suite, instead of dozens of failures that each say a part of it.
 *
 *   - a system package the tests use is missing (scripts/prerequisites --check names it);
 *   - not root (the end-to-end tests build network namespaces and open packet sockets);
 *   - uid 65534 cannot read the checkout: mcrd's workers and the tests' traffic tools run as that
 *     user and load their code from here (the same check mcrd makes before it starts a worker).
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';

import { worldAccessProblems } from '../server/workers/code-access';

const ROOT = path.resolve(__dirname, '..');

/** Files the unprivileged processes load, one from each tree they read (those not built yet are skipped). */
const LOADED_BY_NOBODY = ['package.json', 'node_modules/ts-node/register/transpile-only.js', 'dist/workers/main.js', 'build/Release/mcr.node'];

function stop(message: string): never {
  process.stderr.write(`\nnpm test: ${message}\n\n`);
  process.exit(1);
}

function checkPrerequisites(): void {
  const check = spawnSync(path.join(ROOT, 'scripts', 'prerequisites'), ['--check'], { encoding: 'utf8' });
  if (check.error) stop(`cannot run scripts/prerequisites: ${check.error.message}`);
  if (check.status !== 0) stop(check.stdout.trim() || check.stderr.trim());
}

function checkRoot(): void {
  if (process.getuid?.() !== 0) {
    stop('the end-to-end tests need root (network namespaces, veth pairs, packet sockets): run `sudo npm test`, or `npm run test:unit` for the tests that do not.');
  }
}

function checkReadableByWorkers(): void {
  const present = LOADED_BY_NOBODY.map((file) => path.join(ROOT, file)).filter((file) => fs.existsSync(file));
  const problems = [...new Set(present.flatMap(worldAccessProblems))];
  if (problems.length === 0) return;
  stop(
    `mcrd's workers and the tests' traffic tools run as uid 65534 and cannot read this checkout:\n  ${problems.join('\n  ')}\n` +
      `Clone it where everyone can read (e.g. /opt/mcr or /srv/mcr), or open the path: chmod o+x on each directory named, chmod -R o+rX ${ROOT}.\n` +
      '(bash .ci/run does this by itself: it runs the suite from a readable copy in /tmp/mcr-ci.)',
  );
}

checkPrerequisites();
checkRoot();
checkReadableByWorkers();
