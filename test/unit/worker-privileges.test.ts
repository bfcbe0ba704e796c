import { expect } from 'chai';

import { parseStatus, privilegeProblems } from '../../workers/privileges';

const unprivileged = `Name:\tnode
Uid:\t65534\t65534\t65534\t65534
Gid:\t65534\t65534\t65534\t65534
Groups:\t
NoNewPrivs:\t1
CapInh:\t0000000000000000
CapPrm:\t0000000000000000
CapEff:\t0000000000000000
CapBnd:\t0000000000000000
CapAmb:\t0000000000000000
`;

describe('worker privilege check', () => {
  it('accepts a process with no privilege', () => {
    expect(privilegeProblems(parseStatus(unprivileged))).to.deep.equal([]);
  });

  it('names every privilege left', () => {
    const root = unprivileged
      .replace('Uid:\t65534\t65534\t65534\t65534', 'Uid:\t65534\t0\t0\t0')
      .replace('CapBnd:\t0000000000000000', 'CapBnd:\t000001ffffffffff')
      .replace('NoNewPrivs:\t1', 'NoNewPrivs:\t0');
    const problems = privilegeProblems(parseStatus(root));
    expect(problems.join('\n')).to.contain('uid 0').and.contain('CapBnd').and.contain('no_new_privs');
  });

  it('fails closed on an unreadable status', () => {
    expect(privilegeProblems(parseStatus(''))).to.not.be.empty;
  });

  it('sees this test process (root in CI) as privileged', () => {
    const fs = require('fs') as typeof import('fs');
    expect(privilegeProblems(parseStatus(fs.readFileSync('/proc/self/status', 'utf8')))).to.not.be.empty;
  });
});
