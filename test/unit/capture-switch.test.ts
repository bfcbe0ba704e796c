/**
 * CaptureSwitch: a socket option on a capture exactly while an installed rule of it needs it, turned
 * on before the rules are installed and off only when asked after the filters changed; the books
 * follow changes rule by rule, and a full resend starts them afresh.
 */
import { expect } from 'chai';

import type { DataplaneRule } from '../../native';
import { CaptureSwitch, SwitchableCapture } from '../../server/forwarding/capture-switch';
import type { InstalledRule } from '../../server/forwarding/installed';
import { logger } from '../../server/log';

/** An installed rule on capture `ifname`, naming a VLAN or not (only what the switch reads). */
function rule(id: string, ifname: string, vlan?: number): InstalledRule {
  const dataplane = { id, input: 1, group: '239.1.1.1', port: 5000, source: '', outputs: [], ...(vlan ? { vlan } : {}) } as DataplaneRule;
  return { planned: { id, ifname }, dataplane } as unknown as InstalledRule;
}

describe('capture switch', () => {
  let calls: string[];
  let captures: Map<string, SwitchableCapture>;
  let vlanTags: CaptureSwitch;
  beforeEach(() => {
    calls = [];
    captures = new Map(['in0', 'in1'].map((ifname, fd) => [ifname, { fd, switched: new Set<string>() }]));
    vlanTags = new CaptureSwitch('VLAN tags', (r) => r.vlan !== undefined, (fd, on) => calls.push(`${fd} ${on ? 'on' : 'off'}`), logger('supervisor'));
  });

  /** A change made as worker-sync makes it: on, install, commit, filters, off. */
  const change = (upserts: InstalledRule[], removes: string[], force = false) => {
    const pending = vlanTags.after(upserts, removes, force);
    vlanTags.switchOn(captures, pending);
    vlanTags.commit(pending);
    vlanTags.switchOffUnneeded(captures);
  };

  it('is on exactly while a rule of the capture needs it, once per capture', () => {
    change([rule('a', 'in0', 100), rule('b', 'in0', 200), rule('c', 'in1')], []);
    expect(calls).to.deep.equal(['0 on']);
    change([], ['a']);
    expect(calls, 'b still needs it').to.deep.equal(['0 on']);
    change([rule('b', 'in0')], []);
    expect(calls, 'b no longer names a VLAN').to.deep.equal(['0 on', '0 off']);
    change([rule('c', 'in1', 7)], []);
    change([rule('c', 'in0', 7)], []);
    expect(calls, 'c moved from in1 to in0').to.deep.equal(['0 on', '0 off', '1 on', '0 on', '1 off']);
  });

  it('turns on before the rules are installed and off only when asked after', () => {
    change([rule('a', 'in0', 100)], []);
    const pending = vlanTags.after([], ['a'], false);
    vlanTags.switchOn(captures, pending);
    vlanTags.commit(pending);
    expect(calls, 'still on until the filters have changed').to.deep.equal(['0 on']);
    vlanTags.switchOffUnneeded(captures);
    expect(calls).to.deep.equal(['0 on', '0 off']);
  });

  it('starts afresh on a full resend, and after a reset', () => {
    change([rule('a', 'in0', 100), rule('b', 'in1', 100)], []);
    change([rule('b', 'in1', 100)], [], true);
    expect(calls, 'a is not in the resend').to.deep.equal(['0 on', '1 on', '0 off']);
    vlanTags.reset();
    for (const capture of captures.values()) capture.switched.clear();
    change([rule('d', 'in0', 5)], []);
    expect(calls.slice(3)).to.deep.equal(['0 on']);
  });

  it('keeps its books through 20,000 rules added and removed one change at a time', () => {
    for (let i = 0; i < 20_000; i++) change([rule(`r${i}`, i % 2 ? 'in1' : 'in0', 1 + (i % 4094))], []);
    for (let i = 0; i < 20_000; i++) change([], [`r${i}`]);
    expect(calls).to.deep.equal(['0 on', '1 on', '0 off', '1 off']);
  });
});
