import { expect } from 'chai';

import { IpProtocol } from '../../gen/mcr/v1/rules';
import { deriveRuleId, matchKey } from '../../server/rules/id';

const INPUT = { interface: 'eth0', group: '239.0.0.1', port: 5000, source: '' };

describe('rule ids', () => {
  it('builds the match key from interface, group, port and source', () => {
    expect(matchKey(INPUT)).to.equal('eth0|239.0.0.1|5000|');
    expect(matchKey({ ...INPUT, source: '10.10.1.100' })).to.equal('eth0|239.0.0.1|5000|10.10.1.100');
  });

  it('adds the VLAN only for an input that names one: other rules keep their ids', () => {
    expect(matchKey({ ...INPUT, vlan: 100 })).to.equal('eth0|239.0.0.1|5000||100');
    expect(matchKey({ ...INPUT, vlan: undefined })).to.equal('eth0|239.0.0.1|5000|');
    // printf 'eth0|239.0.0.1|5000||100' | sha256sum
    expect(deriveRuleId({ ...INPUT, vlan: 100 })).to.equal('r-ed0ab431a5ae');
  });

  it('writes "esp" in place of the port for an ESP input: UDP rules keep their ids', () => {
    const esp = { ...INPUT, port: 0, protocol: IpProtocol.IP_PROTOCOL_ESP };
    expect(matchKey(esp)).to.equal('eth0|239.0.0.1|esp|');
    expect(matchKey({ ...INPUT, protocol: IpProtocol.IP_PROTOCOL_UDP })).to.equal('eth0|239.0.0.1|5000|');
    expect(matchKey({ ...INPUT, protocol: IpProtocol.IP_PROTOCOL_UNSPECIFIED })).to.equal('eth0|239.0.0.1|5000|');
    // printf 'eth0|239.0.0.1|esp|' | sha256sum
    expect(deriveRuleId(esp)).to.equal('r-203e9aeaa4b8');
  });

  it('derives "r-" and the first 12 hex digits of sha256(match key), the same on every run', () => {
    // printf 'eth0|239.0.0.1|5000|' | sha256sum  ->  cb7178edcfca3575...
    expect(deriveRuleId(INPUT)).to.equal('r-cb7178edcfca');
    // printf 'eth0|239.0.0.1|5000|10.10.1.100' | sha256sum  ->  e58aa7440378f7da...
    expect(deriveRuleId({ ...INPUT, source: '10.10.1.100' })).to.equal('r-e58aa7440378');
  });

  it('gives a different id when any part of the match key differs', () => {
    const variants = [
      INPUT,
      { ...INPUT, interface: 'eth1' },
      { ...INPUT, group: '239.0.0.2' },
      { ...INPUT, port: 5001 },
      { ...INPUT, source: '10.0.0.1' },
      { ...INPUT, vlan: 100 },
      { ...INPUT, vlan: 200 },
    ];
    const ids = variants.map(deriveRuleId);
    expect(new Set(ids).size).to.equal(variants.length);
    for (const id of ids) expect(id).to.match(/^r-[0-9a-f]{12}$/);
  });
});
