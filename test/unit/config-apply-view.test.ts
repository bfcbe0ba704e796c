/** `mcrctl config load`'s diff view (clients/mcrctl/config-view.ts) of an answer in the CHANGES view. */
import { expect } from 'chai';

import { ApplyRulesResponse, ApplyRulesView } from '../../gen/mcr/v1/rules';
import { applyView } from '../../clients/mcrctl/config-view';

describe('mcrctl apply view: the CHANGES view', () => {
  it('shows the changed rule whole, says the unchanged rules are only counted, and sums up with the counts', () => {
    const response = ApplyRulesResponse.fromPartial({
      changed: [{ id: 'r-1', name: 'cam-b', input: { interface: 'in0', group: '239.5.0.2', port: 5000 }, outputs: [{ interface: 'out1', address: '239.9.5.2', port: 6000 }], generation: 2n }],
      storeGeneration: 7n,
      view: ApplyRulesView.APPLY_RULES_VIEW_CHANGES,
      changedCount: 1,
      unchangedCount: 19_999,
    });
    const text = applyView(response);
    expect(text).to.contain('cam-b').and.to.contain('239.5.0.2').and.to.contain('239.9.5.2');
    expect(text).to.contain('(the unchanged rules are only counted)');
    expect(text).to.contain('Applied: 0 added, 1 changed, 0 removed, 19999 unchanged; store generation 7.');
  });
});
