/**
 * The client library and mcrd are built and shipped separately, so each keeps its own copy of the
 * protocol constants (mcrd does not import its clients): this checks the copies agree.
 */
import { expect } from 'chai';

import * as client from '../../clients/lib/version';
import { SHUTTING_DOWN } from '../../server/api/errors';
import * as server from '../../server/version';

describe('protocol constants of the client library and mcrd', () => {
  it('are the same major version, sent under the same metadata key', () => {
    expect([client.PROTOCOL_MAJOR, client.PROTOCOL_HEADER]).to.deep.equal([server.PROTOCOL_MAJOR, server.PROTOCOL_HEADER]);
  });

  it('name the config-rules feature and the shutting-down message alike', () => {
    expect([client.CONFIG_RULES_FEATURE, client.SHUTTING_DOWN]).to.deep.equal([server.CONFIG_RULES_FEATURE, SHUTTING_DOWN]);
  });
});
