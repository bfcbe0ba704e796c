/**
 * A worker that finds itself with any privilege left refuses to run. Started here directly as root
 * (without setpriv), with its control channel on fd 3 as mcrd would give it, it must say why on the
 * channel and exit with status 78 instead of starting its data plane.
 */
import { expect } from 'chai';
import { spawn } from 'child_process';
import path from 'path';

import { native } from '../../native';
import { decode, WorkerEvent } from '../../workers/protocol';
import { requireRoot } from '../support/fixture';

const WORKER_MAIN = path.resolve(__dirname, '..', '..', 'dist', 'workers', 'main.js');

describe('e2e: worker started with privileges', () => {
  before(requireRoot);

  it('reports the privileges it holds and exits 78 without serving', async () => {
    const addon = native();
    const [ours, theirs] = addon.socketpair();
    const messages: WorkerEvent[] = [];
    const channel = new addon.ControlChannel(ours, (data) => messages.push(decode<WorkerEvent>(data)), () => undefined);
    try {
      const child = spawn(process.execPath, [WORKER_MAIN], { stdio: ['ignore', 'ignore', 'inherit', theirs] });
      addon.closeFd(theirs);
      const code = await new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('worker did not exit within 10 s')); }, 10_000);
        child.once('exit', (c) => { clearTimeout(timer); resolve(c); });
      });
      expect(code).to.equal(78);
      const fatal = messages.find((m) => m.type === 'fatal');
      expect(fatal, JSON.stringify(messages)).to.exist;
      expect((fatal as { message: string }).message).to.contain('uid 0').and.contain('CapEff');
      expect(messages.some((m) => m.type === 'ready')).to.equal(false);
    } finally {
      channel.close();
    }
  });
});
