/** The demo's "kernel alone" step for both kinds of kernel (only one of which a given machine runs). */
import { expect } from 'chai';

import { interpretMrouteProbe } from '../../bench/lib/kernel-capabilities';
import { kernelAlonePlan } from '../../demo/kernel-alone';

describe('demo: the kernel-alone step follows what the kernel can do', function () {
  it('installs an MFC entry where the kernel routes multicast, and blames rp_filter and TTL 1', function () {
    const routing = interpretMrouteProbe({ event: 'probe', step: 'MRT_INIT', errno: 0, code: '', error: '', ip_mr_vif: true });
    const plan = kernelAlonePlan(routing);
    expect(plan.installMfc).to.equal(true);
    expect(plan.heading).to.match(/MFC entry in0 -> out1/);
    expect(plan.verdict).to.match(/reverse-path check and TTL 1/);
    expect(plan.explanation).to.match(/routes multicast \(MRT_INIT succeeded; \/proc\/net\/ip_mr_vif exists\)/);
  });

  it('installs nothing where the kernel has no multicast routing, and says mcr needs none', function () {
    const routing = interpretMrouteProbe({ event: 'probe', step: 'MRT_INIT', errno: 92, code: 'ENOPROTOOPT', error: 'Protocol not available', ip_mr_vif: false });
    const plan = kernelAlonePlan(routing);
    expect(plan.installMfc).to.equal(false);
    expect(plan.heading).to.match(/no multicast routing/);
    expect(plan.verdict).to.match(/cannot forward multicast between interfaces at all/);
    expect(plan.explanation).to.match(/CONFIG_IP_MROUTE is not set.*mcr needs no multicast routing in the kernel/);
  });
});
