/**
 * Completion against a real mcrd: the bash and zsh scripts `mcrctl completion` prints offer, for a
 * RULE, the ids and names of the rules mcrd has and, for --in/--out IF, the interfaces mcrd sees (in
 * its own namespace), asking the mcrd the line's --socket (or $MCR_SOCKET) names; a rule added is
 * offered at the next Tab. The scripts run the real mcrctl (bin/mcrctl) found on their PATH.
 */
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import path from 'path';

import { useRelay } from '../support/fixture';
import { MCRCTL_BIN } from '../support/mcrctl';
import { NET } from '../support/netns';
import { bashComplete, zshComplete } from '../support/shell-completion';

describe('e2e: mcrctl completion of rules and interfaces', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 1 });
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, PATH: `${path.dirname(MCRCTL_BIN)}:${process.env.PATH}`, ...extra });
  let bash = '';
  let zsh = '';
  let ruleId = '';

  before(async () => {
    bash = execFileSync(process.execPath, [MCRCTL_BIN, 'completion', 'bash'], { encoding: 'utf8' });
    zsh = execFileSync(process.execPath, [MCRCTL_BIN, 'completion', 'zsh'], { encoding: 'utf8' });
    const rule = await relay.client.createRule({
      name: 'camera-1',
      input: { interface: NET.relayIn.ifname, group: '239.1.2.3', port: 5000 },
      outputs: [{ interface: NET.relayOut1.ifname, address: '239.9.9.9', port: 6000 }],
    });
    ruleId = rule.id;
  });

  it('bash offers the rules mcrd has for a RULE', () => {
    const socket = relay.mcrd.socketPath;
    expect(bashComplete(bash, ['--socket', socket, 'rule', 'get', ''], env())).to.include.members(['camera-1', ruleId]);
    expect(bashComplete(bash, ['stats', '--socket', socket, 'cam'], env())).to.deep.equal(['camera-1']);
    expect(bashComplete(bash, ['trace', 'stop', 'cam'], env({ MCR_SOCKET: socket }))).to.deep.equal(['camera-1']);
  });

  it('bash offers the interfaces mcrd sees for --in and --out', () => {
    const socket = relay.mcrd.socketPath;
    const interfaces = bashComplete(bash, ['--socket', socket, 'rule', 'add', '--in', ''], env());
    expect(interfaces).to.include.members([NET.relayIn.ifname, NET.relayOut1.ifname, NET.relayOut2.ifname, 'lo']);
    expect(bashComplete(bash, ['--socket', socket, 'rule', 'add', '--in', 'in0', '239.1.1.1:5000', '--out', 'out'], env())).to.deep.equal([NET.relayOut1.ifname, NET.relayOut2.ifname]);
  });

  it('zsh offers the rules and interfaces mcrd has', () => {
    const socket = relay.mcrd.socketPath;
    expect(zshComplete(zsh, `mcrctl --socket ${socket} rule delete `, env())).to.include.members(['camera-1', ruleId]);
    expect(zshComplete(zsh, `mcrctl --socket ${socket} rule update camera-1 --out o`, env())).to.deep.equal([NET.relayOut1.ifname, NET.relayOut2.ifname]);
  });

  it('offers a rule added since, and nothing from an mcrd that is not there', async () => {
    const socket = relay.mcrd.socketPath;
    await relay.client.createRule({
      name: 'camera-2',
      input: { interface: NET.relayIn.ifname, group: '239.1.2.4', port: 5000 },
      outputs: [{ interface: NET.relayOut2.ifname, address: '239.9.9.8', port: 6000 }],
    });
    expect(bashComplete(bash, ['--socket', socket, 'rule', 'get', 'camera-'], env())).to.deep.equal(['camera-1', 'camera-2']);
    expect(bashComplete(bash, ['--socket', `${socket}.absent`, 'rule', 'get', 'camera-'], env())).to.deep.equal([]);
  });
});
