/** `--watch` output modes and polling. */
import { expect } from 'chai';

import { CLEAR_SCREEN, poll, renderWatchFrame, showUpdates, watchMode } from '../../clients/mcrctl/watch';

const frame = { heading: 'Every 100 ms, collected -', body: 'A  B\n1  2\n', json: { rules: [{ ruleId: 'r-1', packetsReceived: '5' }] } };

describe('mcrctl --watch', () => {
  it('chooses JSON with --json, redraws on a terminal, plain text otherwise', () => {
    expect(watchMode({ json: true, interactive: true })).to.equal('json');
    expect(watchMode({ json: false, interactive: true })).to.equal('terminal');
    expect(watchMode({ json: false, interactive: false })).to.equal('plain');
  });

  it('renders an update as one JSON line, a cleared screen, or a block followed by a blank line', () => {
    expect(renderWatchFrame('json', frame)).to.equal('{"rules":[{"ruleId":"r-1","packetsReceived":"5"}]}\n');
    expect(renderWatchFrame('terminal', frame)).to.equal(`${CLEAR_SCREEN}Every 100 ms, collected -\n\nA  B\n1  2\n`);
    expect(CLEAR_SCREEN).to.equal('\x1b[H\x1b[2J');
    expect(renderWatchFrame('plain', frame)).to.equal('Every 100 ms, collected -\n\nA  B\n1  2\n\n');
  });

  it('prints every update of a sequence in order', async () => {
    async function* updates() {
      yield 1;
      yield 2;
    }
    let out = '';
    await showUpdates(updates(), 'json', (n) => ({ heading: '', body: '', json: { n } }), (text) => (out += text));
    expect(out).to.equal('{"n":1}\n{"n":2}\n');
  });

  describe('poll', () => {
    it('calls at the interval until aborted, and stops waiting at once when aborted', async () => {
      const stop = new AbortController();
      const calls: number[] = [];
      const started = Date.now();
      const seen: number[] = [];
      for await (const n of poll(async () => calls.push(Date.now() - started), 50, stop.signal)) {
        seen.push(n);
        if (seen.length === 3) setTimeout(() => stop.abort(), 10);
      }
      const ended = Date.now() - started;
      expect(seen).to.deep.equal([1, 2, 3]);
      // Three calls about 50 ms apart, and no waiting out the next interval after the abort.
      expect(calls[1] - calls[0]).to.be.within(40, 200);
      expect(calls[2] - calls[1]).to.be.within(40, 200);
      expect(ended - calls[2]).to.be.below(45);
    });

    it('yields nothing when aborted during a call, and ends with the error of a failed call', async () => {
      const stop = new AbortController();
      const seen: string[] = [];
      for await (const v of poll(async () => (stop.abort(), 'late'), 10, stop.signal)) seen.push(v);
      expect(seen).to.deep.equal([]);

      const failing = poll(() => Promise.reject(new Error('UNAVAILABLE: gone')), 10, new AbortController().signal);
      const err = await failing.next().then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).to.equal('UNAVAILABLE: gone');
    });
  });
});
