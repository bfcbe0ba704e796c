/**
 * The warnings mcrctl gives for interfaces that do not exist: the edit distance and the suggestions
 * drawn from it (did-you-mean.ts), which fields of a rule are looked at and how each warning reads
 * (interface-warnings.ts), and which entries of /sys/class/net are interfaces (interface-names.ts).
 */
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { Rule } from '../../gen/mcr/v1/rules';
import { Interface, ListInterfacesResponse } from '../../gen/mcr/v1/system';
import { closestNames, didYouMean, editDistance } from '../../clients/mcrctl/did-you-mean';
import { existingInterfaces, localInterfaces } from '../../clients/mcrctl/interface-names';
import { missingInterfaceWarnings } from '../../clients/mcrctl/interface-warnings';

describe('mcrctl interface warnings', () => {
  describe('edit distance and suggestions', () => {
    it('counts insertions, deletions, substitutions and a swap of neighbours as one edit each', () => {
      expect(editDistance('eth0', 'eth0')).to.equal(0);
      expect(editDistance('eth', 'eth0')).to.equal(1);
      expect(editDistance('eth10', 'eth0')).to.equal(1);
      expect(editDistance('eth1', 'eth0')).to.equal(1);
      expect(editDistance('eht0', 'eth0')).to.equal(1);
      expect(editDistance('', 'wg0')).to.equal(3);
      expect(editDistance('wlan0', 'wlp2s0')).to.equal(3);
    });

    it('suggests the closest names within a third of the length (at least one edit), ties together, at most three', () => {
      const names = ['lo', 'eth0', 'eth1', 'enp3s0', 'wg0', 'br-lan'];
      expect(closestNames('eht0', names)).to.deep.equal(['eth0']);
      expect(closestNames('eth2', names)).to.deep.equal(['eth0', 'eth1']);
      expect(closestNames('enp3s1', names)).to.deep.equal(['enp3s0']);
      expect(closestNames('wlan0', names), 'too far from every name').to.deep.equal([]);
      expect(closestNames('eth0', names), 'never the name itself').to.deep.equal(['eth1']);
      expect(closestNames('x', ['a', 'b', 'c', 'd'])).to.deep.equal(['a', 'b', 'c']);
    });

    it('words them', () => {
      expect(didYouMean('eht0', ['eth0'])).to.equal(' (did you mean "eth0"?)');
      expect(didYouMean('eth2', ['eth0', 'eth1'])).to.equal(' (did you mean "eth0" or "eth1"?)');
      expect(didYouMean('x', ['a', 'b', 'c'])).to.equal(' (did you mean "a", "b" or "c"?)');
      expect(didYouMean('wlan0', ['eth0'])).to.equal('');
    });
  });

  describe('missingInterfaceWarnings', () => {
    const rule = Rule.fromPartial({
      input: { interface: 'eht0', group: '239.0.0.1', port: 5000 },
      outputs: [
        { interface: 'eth1', address: '239.9.9.9', port: 6000 },
        { interface: 'wg9', address: '10.20.0.7', port: 6000 },
      ],
    });

    it('names the field of each interface that does not exist, says what waits for it, and suggests', () => {
      expect(missingInterfaceWarnings(rule, '', ['lo', 'eth0', 'eth1'], 'mcrd')).to.deep.equal([
        { field: 'input.interface', message: 'mcrd sees no interface "eht0" (did you mean "eth0"?): the rule waits until it appears' },
        { field: 'outputs[1].interface', message: 'mcrd sees no interface "wg9": this output waits until it appears' },
      ]);
    });

    it('puts the rule\'s path first, and says whose interfaces were looked at', () => {
      expect(missingInterfaceWarnings(rule, 'rules[2]', ['eht0', 'eth1', 'wg0'], 'this host')).to.deep.equal([
        { field: 'rules[2].outputs[1].interface', message: 'this host has no interface "wg9" (did you mean "wg0"?): this output waits until it appears' },
      ]);
      expect(missingInterfaceWarnings(rule, '', ['eht0', 'eth1', 'wg9'], 'mcrd')).to.deep.equal([]);
    });
  });

  describe('interface names', () => {
    it('takes from ListInterfaces those that exist, not the missing ones rules name', () => {
      const response = ListInterfacesResponse.fromPartial({
        interfaces: [Interface.fromPartial({ name: 'eth0', index: 2, exists: true }), Interface.fromPartial({ name: 'eth9', exists: false })],
      });
      expect(existingInterfaces(response)).to.deep.equal(['eth0']);
    });

    it('takes the links and directories of /sys/class/net, not its files', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-sys-class-net-'));
      try {
        fs.symlinkSync('../../devices/virtual/net/lo', path.join(dir, 'lo'));
        fs.symlinkSync('../../devices/pci0000:00/net/eth0', path.join(dir, 'eth0'));
        fs.mkdirSync(path.join(dir, 'veth1'));
        fs.writeFileSync(path.join(dir, 'bonding_masters'), 'bond0\n');
        expect(localInterfaces(dir).sort()).to.deep.equal(['eth0', 'lo', 'veth1']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('finds lo in the namespace the test runs in', () => {
      expect(localInterfaces()).to.include('lo');
    });
  });
});
