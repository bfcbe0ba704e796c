/**
 * The import graph (docs/decisions/0034-import-direction.md): dependency-cruiser checks the rules of
 * .dependency-cruiser.cjs (one direction, api -> domain -> worker processes and network -> native;
 * no cycles) over the code mcrd, its workers and its clients are built from.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const DEPCRUISE = path.join(ROOT, 'node_modules', '.bin', 'depcruise');

describe('import graph', function () {
  this.timeout(60_000);

  it('has no cycle and no import against the layers', () => {
    const run = spawnSync(DEPCRUISE, ['server', 'workers', 'native', 'clients', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(run.error, 'depcruise runs').to.equal(undefined);
    expect(run.status, run.stdout + run.stderr).to.equal(0);
    expect(run.stdout).to.match(/no dependency violations found \((\d+) modules/);
    const modules = Number(/\((\d+) modules/.exec(run.stdout)![1]);
    expect(modules, 'the cruise saw the code (not an empty selection)').to.be.above(100);
  });

  it('catches an import against the direction, and a cycle', () => {
    // The same rules over a small tree that breaks them: the check is not vacuous.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-imports-'));
    try {
      const write = (file: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.writeFileSync(path.join(dir, file), text);
      };
      write('tsconfig.json', '{}');
      write('server/api/errors.ts', "import { y } from '../rules/store';\nexport const x = y;\n");
      write('server/rules/store.ts', "import { x } from '../api/errors';\nexport const y = 1;\nexport const z = x;\n");
      const run = spawnSync(DEPCRUISE, ['server', '--config', path.join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'err'], { cwd: dir, encoding: 'utf8' });
      expect(run.status, run.stdout + run.stderr).to.not.equal(0);
      expect(run.stdout).to.include('domain-not-api: server/rules/store.ts → server/api/errors.ts');
      expect(run.stdout).to.include('no-cycles');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
