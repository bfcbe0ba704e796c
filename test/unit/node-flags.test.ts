/** mcrd and its workers start with the V8 flags of server/node-flags.ts, however they are started. */
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';

import { NODE_FLAGS } from '../../server/node-flags';
import { workerCommand } from '../../server/workers/worker-process';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

describe('node flags', () => {
  it('bin/mcrd starts node with exactly NODE_FLAGS', () => {
    const [shebang] = fs.readFileSync(path.join(REPO_ROOT, 'bin', 'mcrd'), 'utf8').split('\n');
    expect(shebang).to.equal(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
  });

  it('npm start runs bin/mcrd', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(manifest.scripts.start).to.equal('bin/mcrd');
  });

  it('workers run node with NODE_FLAGS before their entry point', () => {
    const { args } = workerCommand('/opt/mcr/dist/workers/main.js');
    const node = args.indexOf(process.execPath);
    expect(node, 'node in the worker command').to.be.greaterThan(0);
    expect(args.slice(node + 1)).to.deep.equal([...NODE_FLAGS, '/opt/mcr/dist/workers/main.js']);
  });
});
