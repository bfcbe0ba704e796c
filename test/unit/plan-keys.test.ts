import { expect } from 'chai';

import { egressKey, membershipKey, outputIdentity, senderKey } from '../../server/forwarding/plan';

// The keys are built flat (decisions/0056); these are the strings they were as template literals.
describe('forwarding plan keys', () => {
  it('names a sender by interface, index, TTL and TOS', () => {
    expect(senderKey({ ifname: 'out1', ifindex: 7, ttl: 64, tos: 184 })).to.equal('out1#7|ttl=64|tos=184');
    expect(senderKey({ ifname: 'out1', ifindex: 7, mtu: 9000, ttl: 64, tos: 184, dontFragment: true })).to.equal('out1#7/9000|ttl=64|tos=184|df');
  });

  it('names an egress by its sender and destination', () => {
    expect(egressKey('out1#7|ttl=64|tos=184', '239.9.9.9', 6000)).to.equal('out1#7|ttl=64|tos=184|239.9.9.9:6000');
  });

  it('names an output by what it sends to, TTL and DSCP empty when not set', () => {
    expect(outputIdentity({ interface: 'out1', address: '10.2.0.2', port: 6001 })).to.equal('out1|10.2.0.2|6001||');
    expect(outputIdentity({ interface: 'out1', address: '239.9.9.9', port: 6000, ttl: 8, dscp: 46 })).to.equal('out1|239.9.9.9|6000|8|46');
  });

  it('names a membership by interface index, group and source', () => {
    expect(membershipKey(3, '239.1.1.1', '')).to.equal('3|239.1.1.1|');
    expect(membershipKey(3, '232.1.1.1', '10.1.0.2')).to.equal('3|232.1.1.1|10.1.0.2');
  });
});
