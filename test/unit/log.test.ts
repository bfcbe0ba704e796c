import { expect } from 'chai';
import { Writable } from 'stream';
import winston from 'winston';

import { getLogLevels, rateLimited, setLogLevel } from '../../server/log';

/** A logger whose JSON lines are kept in `lines`. */
function capturingLogger(): { target: winston.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { target: winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] }), lines };
}

describe('logging', () => {
  afterEach(() => setLogLevel('info'));

  it('sets levels per facility at runtime', () => {
    setLogLevel('debug', 'net');
    expect(getLogLevels()).to.include({ net: 'debug', api: 'info' });
    setLogLevel('error');
    expect(Object.values(getLogLevels())).to.satisfy((levels: string[]) => levels.every((l) => l === 'error'));
  });

  it('writes a repeated message once per window, then says how many were left out', () => {
    const { target, lines } = capturingLogger();
    let now = 0;
    const limited = rateLimited(target, 10_000, () => now);
    for (let i = 0; i < 5; i++) limited.warn('k', 'worker is slow', { worker: 1 });
    limited.warn('other', 'another thing');
    now = 10_001;
    limited.warn('k', 'worker is slow', { worker: 1 });
    expect(lines.map((l) => [l.message, l.suppressed])).to.deep.equal([
      ['worker is slow', undefined],
      ['another thing', undefined],
      ['worker is slow', 4],
    ]);
  });
});
