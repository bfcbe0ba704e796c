/**
 * The benchmark's kernel reference: detecting multicast routing (mroute --probe), choosing the kernel
 * relay from that answer (both answers, injected: the multicast routing path cannot run on a kernel
 * without CONFIG_IP_MROUTE), and how the choice is labelled in bars and tables.
 */
import { expect } from 'chai';
import fs from 'fs';

import { interpretMrouteProbe, kernelMulticastRouting, KernelCapability, MrouteProbe } from '../../bench/lib/kernel-capabilities';
import { kernelReference, kernelRelayFor, kernelUnicastUnsupported } from '../../bench/lib/kernel-reference';
import { createRelay, RelayContext } from '../../bench/lib/relays';
import { KernelRelay } from '../../bench/lib/relays/kernel';
import { KernelUnicastRelay, parseNetStatistics } from '../../bench/lib/relays/kernel-unicast';
import { judgeBars } from '../../bench/lib/report/bars';
import { renderMarkdown } from '../../bench/lib/report/markdown';
import type { Results, SizeResult } from '../../bench/lib/results';

const probe = (fields: Partial<MrouteProbe>): MrouteProbe => ({ event: 'probe', step: 'MRT_INIT', errno: 0, code: '', error: '', ip_mr_vif: true, ...fields });
const WITH_MROUTE: KernelCapability = { available: true, reason: 'MRT_INIT succeeded; /proc/net/ip_mr_vif exists' };
const WITHOUT_MROUTE: KernelCapability = {
  available: false,
  reason: 'this kernel has no multicast routing (CONFIG_IP_MROUTE is not set): MRT_INIT: Protocol not available (ENOPROTOOPT); /proc/net/ip_mr_vif does not exist',
};
/** Constructing a relay touches nothing: only start() uses the context. */
const CTX = { topology: {}, tools: { gen: 'gen', sink: 'sink', mroute: 'mroute' }, relayCpu: 0, log: () => {} } as unknown as RelayContext;
const NO_SOCAT = { skipped: 'not requested' };

describe('bench: kernel multicast routing capability', () => {
  it('reads mroute --probe\'s answer: MRT_INIT working or held by another daemon means available', () => {
    expect(interpretMrouteProbe(probe({}))).to.deep.equal({ available: true, reason: 'MRT_INIT succeeded; /proc/net/ip_mr_vif exists' });
    const busy = interpretMrouteProbe(probe({ errno: 98, code: 'EADDRINUSE', error: 'Address already in use' }));
    expect(busy.available).to.equal(true);
    expect(busy.reason).to.match(/another multicast routing daemon/);
  });

  it('says a kernel without CONFIG_IP_MROUTE has none, quoting the errno and /proc/net/ip_mr_vif', () => {
    const answer = interpretMrouteProbe(probe({ errno: 92, code: 'ENOPROTOOPT', error: 'Protocol not available', ip_mr_vif: false }));
    expect(answer).to.deep.equal(WITHOUT_MROUTE);
  });

  it('tells a missing privilege from a missing kernel feature', () => {
    const answer = interpretMrouteProbe(probe({ step: 'socket', errno: 1, code: 'EPERM', error: 'Operation not permitted', ip_mr_vif: true }));
    expect(answer.available).to.equal(false);
    expect(answer.reason).to.match(/without root/).and.match(/socket: Operation not permitted \(EPERM\)/).and.match(/ip_mr_vif exists/);
  });

  it('detects this kernel by trying MRT_INIT, consistently with /proc/net/ip_mr_vif (needs root)', () => {
    const answer = kernelMulticastRouting();
    expect(answer.available, answer.reason).to.equal(fs.existsSync('/proc/net/ip_mr_vif'));
    expect(answer.reason).to.match(/MRT_INIT/);
  });
});

describe('bench: kernel relay selection', () => {
  it('picks multicast routing when the kernel has it and unicast forwarding otherwise', () => {
    expect(kernelRelayFor(WITH_MROUTE)).to.equal('kernel');
    expect(kernelRelayFor(WITHOUT_MROUTE)).to.equal('kernel-unicast');
  });

  it('creates the mroute relay, unchanged, when multicast routing is available', () => {
    const relay = createRelay('kernel', CTX, NO_SOCAT, WITH_MROUTE);
    expect(relay).to.be.instanceOf(KernelRelay);
    expect((relay as KernelRelay).name).to.equal('kernel');
    expect((relay as KernelRelay).description).to.match(/^Linux IPv4 multicast routing \(MRT_ADD_VIF/);
    expect((relay as KernelRelay).unsupported({ flows: [], outputs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], idleFlows: [] })).to.equal(null);
  });

  it('creates kernel-unicast, labelled with the reason, when it is not', () => {
    const relay = createRelay('kernel', CTX, NO_SOCAT, WITHOUT_MROUTE);
    expect(relay).to.be.instanceOf(KernelUnicastRelay);
    const unicast = relay as KernelUnicastRelay;
    expect(unicast.name).to.equal('kernel-unicast');
    expect(unicast.description).to.match(/^Linux IPv4 unicast forwarding \(ip_forward=1, one route/);
    expect(unicast.description).to.include('in place of multicast routing: this kernel has no multicast routing (CONFIG_IP_MROUTE is not set)').and.include('ENOPROTOOPT');
    expect(unicast.trafficAddress([1])).to.equal('10.11.0.2');
    expect(unicast.trafficAddress([3])).to.equal('10.13.0.2');
  });

  it('marks fan-out and idle-rule cases unsupported for unicast forwarding, with the reason', () => {
    const flow = { group: '239.1.1.1', port: 5000 };
    expect(kernelUnicastUnsupported({ outputs: [1], idleFlows: [] })).to.equal(null);
    expect(kernelUnicastUnsupported({ outputs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], idleFlows: [] })).to.match(/no fan-out.*10 outputs requested/);
    expect(kernelUnicastUnsupported({ outputs: [1], idleFlows: [flow] })).to.match(/no per-group rules/);
    const relay = createRelay('kernel', CTX, NO_SOCAT, WITHOUT_MROUTE) as KernelUnicastRelay;
    expect(relay.unsupported({ flows: [flow], outputs: [1, 2], idleFlows: [] })).to.match(/no fan-out/);
    expect(() => relay.trafficAddress([1, 2])).to.throw(/one output/);
  });

  it('leaves the other relays alone', () => {
    expect(createRelay('socat', CTX, NO_SOCAT, WITHOUT_MROUTE)).to.deep.equal(NO_SOCAT);
    expect((createRelay('mcr-w1', CTX, NO_SOCAT, WITHOUT_MROUTE) as { name: string }).name).to.equal('mcr-w1');
  });
});

describe('bench: kernel reference in the report', () => {
  const size = (ndr: number): SizeResult => ({ size: 64, ndr: { ndr, atCeiling: false, generatorLimited: false, searches: [{ ndr }] } }) as unknown as SizeResult;
  const relays = (kernelName: string) => [
    { relay: 'mcr-w1', description: 'mcrd', sizes: [size(250_000)], unroutable: [] },
    { relay: kernelName, description: `${kernelName} description`, sizes: [size(500_000)], unroutable: [{ rpFilter: 1, sent: 5000, delivered: 0, relayCounters: { forwarded: 0, reversePathFiltered: 5000 } }] },
  ];

  it('uses the measured kernel row, multicast routing first, skipped rows never', () => {
    expect(kernelReference([{ relay: 'kernel-unicast' }, { relay: 'kernel' }])?.relay).to.equal('kernel');
    expect(kernelReference([{ relay: 'kernel', skipped: 'no' }, { relay: 'kernel-unicast' }])?.relay).to.equal('kernel-unicast');
    expect(kernelReference([{ relay: 'mcr-w1' }])).to.equal(undefined);
  });

  for (const kernelName of ['kernel', 'kernel-unicast']) {
    it(`names the bars after ${kernelName} when it is the reference`, () => {
      const verdicts = judgeBars({ plan: { sizes: [64], latencyRate: 20_000 }, relays: relays(kernelName), scale: [] } as unknown as Pick<Results, 'relays' | 'scale' | 'plan'>);
      expect(verdicts.find((v) => v.bar === `NDR 64 B vs ${kernelName}`)).to.include({ met: true, measured: '0.50x (250000 vs 500000 pps)' });
      expect(verdicts.some((v) => v.bar.startsWith('NDR 64 B vs kernel ') || v.bar === 'NDR 64 B vs kernel')).to.equal(kernelName === 'kernel');
    });
  }

  it('heads the table with the reference and explains kernel-unicast above it', () => {
    const results = (kernelName: string) =>
      ({
        startedAt: 'now',
        command: 'npm run bench',
        durationSeconds: 1,
        machine: { cpuModel: 'cpu', cpus: 2, memoryMb: 1, kernel: 'Linux', node: 'v20', loadAverage1m: 0, mcrVersion: '0', commit: null, socat: null },
        plan: { sizes: [64], latencyRate: 20_000, maxLoss: 0.001, probeSeconds: 1, precision: 0.05, searchRepeats: 1, cpuSamples: 1, harnessCpu: 1, relayCpu: 0 },
        ceiling: [],
        relays: relays(kernelName),
        scale: [],
        bars: [],
        notes: [],
      }) as unknown as Results;
    const unicast = renderMarkdown(results('kernel-unicast'), 'x.svg');
    expect(unicast).to.include('NDR vs kernel-unicast |');
    expect(unicast).to.include('**Kernel reference: kernel-unicast**, kernel-unicast description.');
    expect(unicast).to.match(/\| kernel-unicast \| 0 of 5000 \(rp_filter dropped 5000, forwarded 0\) \|/);
    expect(unicast).to.match(/\| 64 \| mcr-w1 \| .* \| 0\.50x \|/);
    const mroute = renderMarkdown(results('kernel'), 'x.svg');
    expect(mroute).to.include('NDR vs kernel |');
    expect(mroute).not.to.include('Kernel reference');
  });
});

describe('bench: network statistics', () => {
  it('pairs the name and value lines of /proc/net/snmp and /proc/net/netstat', () => {
    const text = [
      'Ip: Forwarding DefaultTTL InReceives InHdrErrors ForwDatagrams OutNoRoutes',
      'Ip: 1 64 10 2 7 0',
      'Icmp: InMsgs OutMsgs',
      'Icmp: 0 3',
      'TcpExt: SyncookiesSent IPReversePathFilter',
      'TcpExt: 0 4989',
      'IpExt: InNoRoutes',
      'IpExt: 5',
    ].join('\n');
    expect(parseNetStatistics(text)).to.deep.equal({
      'Ip.Forwarding': 1,
      'Ip.DefaultTTL': 64,
      'Ip.InReceives': 10,
      'Ip.InHdrErrors': 2,
      'Ip.ForwDatagrams': 7,
      'Ip.OutNoRoutes': 0,
      'Icmp.InMsgs': 0,
      'Icmp.OutMsgs': 3,
      'TcpExt.SyncookiesSent': 0,
      'TcpExt.IPReversePathFilter': 4989,
      'IpExt.InNoRoutes': 5,
    });
  });
});
