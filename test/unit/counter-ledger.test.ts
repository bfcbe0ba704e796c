import { expect } from 'chai';

import { CounterLedger } from '../../server/stats/ledger';

const s = (seconds: number) => BigInt(seconds * 1e9);

describe('counter ledger', () => {
  it('passes readings of one source through', () => {
    const ledger = new CounterLedger();
    expect(ledger.record('r', 'w0#1', 10n, s(0))).to.equal(10n);
    expect(ledger.record('r', 'w0#1', 25n, s(1))).to.equal(25n);
    expect(ledger.total('r')).to.equal(25n);
  });

  it('never goes backwards when the source restarts from zero', () => {
    const ledger = new CounterLedger();
    ledger.record('r', 'w0#1', 100n, s(0));
    expect(ledger.record('r', 'w0#2', 3n, s(1))).to.equal(103n);
    expect(ledger.record('r', 'w0#2', 10n, s(2))).to.equal(110n);
  });

  it('treats a lower reading from the same source as a reset', () => {
    const ledger = new CounterLedger();
    ledger.record('r', 'w0#1', 100n, s(0));
    expect(ledger.record('r', 'w0#1', 40n, s(1))).to.equal(140n);
  });

  it('keeps counting when a rule moves to another worker', () => {
    const ledger = new CounterLedger();
    ledger.record('r', 'w0#1', 50n, s(0));
    expect(ledger.record('r', 'w1#1', 50n, s(1))).to.equal(100n);
  });

  it('derives a per-second rate over windows of at least the minimum', () => {
    const ledger = new CounterLedger(s(0.5));
    ledger.record('r', 'a', 0n, s(0));
    ledger.record('r', 'a', 100n, s(0.25)); // window too short: no new sample
    expect(ledger.rate('r')).to.equal(0);
    ledger.record('r', 'a', 1000n, s(1));
    expect(ledger.rate('r')).to.equal(1000);
    ledger.record('r', 'b', 500n, s(2)); // restart: 1000 + 500
    expect(ledger.rate('r')).to.equal(500);
  });

  it('keeps totals exact above 2^53', () => {
    const ledger = new CounterLedger();
    const big = 2n ** 60n + 7n;
    ledger.record('r', 'a', big, s(0));
    expect(ledger.record('r', 'b', 1n, s(1))).to.equal(big + 1n);
  });

  it('forgets the keys under a prefix only', () => {
    const ledger = new CounterLedger();
    ledger.record('rule:a:packets', 'x', 1n, s(0));
    ledger.record('rule:a:out0:packets', 'x', 1n, s(0));
    ledger.record('rule:ab:packets', 'x', 1n, s(0));
    ledger.forget('rule:a:');
    expect(ledger.size).to.equal(1);
    expect(ledger.total('rule:a:packets')).to.equal(0n);
    expect(ledger.total('rule:ab:packets')).to.equal(1n);
  });
});
