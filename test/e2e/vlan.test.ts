/**
 * Rules by VLAN on a trunk capture, through the real mcrd (docs/decisions/0061-vlan-in-the-match-key.md).
 * The source injects Ethernet frames with a packet socket (this kernel has no 8021q module, so no VLAN
 * interface can be made): untagged ones, 802.1Q tags 100, 200 and 300, and QinQ frames (802.1ad outer
 * tag 100, 802.1Q inner tag 999), all to one group and port. The relay's kernel takes each outer tag
 * out of the frame on receive; mcr reads it back (PACKET_AUXDATA) on this input only while a rule of it
 * names a VLAN. Three rules share the group and port: one without a VLAN (untagged frames), one for
 * VLAN 100 (made by buf curl, through reflection) and one for VLAN 200 (traced). Each gets exactly its
 * frames, byte for byte; VLAN 300's frames reach no rule and are not even read (the kernel filter
 * drops them); the trace says VLAN 200; once the VLAN 100 rule is gone, its frames go nowhere, not to
 * the untagged rule.
 */
import { expect } from 'chai';
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';

import { Rule } from '../../gen/mcr/v1/rules';
import { bufCurl } from '../support/buf-curl';
import { useRelay } from '../support/fixture';
import { frame, TPID_8021AD, VlanTag } from '../support/frames';
import { sendFrames, writeFrameFile } from '../support/hostile-frames';
import { NET } from '../support/netns';
import { describeValue, sleep, waitFor } from '../support/poll';
import { waitForRuleState, waitForWorkersInSync } from '../support/rules';
import { startMarksReceiver } from '../support/udp-marks';

const GROUP = '239.1.12.1';
const PORT = 5000;
/** Frames per kind. */
const EACH = 20;
const QINQ = 10;

interface Kind {
  name: string;
  tags: VlanTag[];
  count: number;
}

const KINDS: Kind[] = [
  { name: 'u', tags: [], count: EACH },
  { name: 'a', tags: [{ vid: 100 }], count: EACH },
  { name: 'b', tags: [{ vid: 200 }], count: EACH },
  { name: 'c', tags: [{ vid: 300 }], count: EACH },
  { name: 'q', tags: [{ tpid: TPID_8021AD, vid: 100 }, { vid: 999 }], count: QINQ },
];

/** Payload `i` of a kind: its letter and number (4 bytes, the receiver's key), then bytes of its own. */
function payloadOf(kind: Kind, i: number): Buffer {
  const payload = Buffer.alloc(200, i % 251);
  payload.write(`${kind.name}${String(i).padStart(3, '0')}`, 0, 'ascii');
  return payload;
}

function framesOf(kinds: Kind[]): Buffer[] {
  // Interleaved, so that each batch the relay reads mixes VLANs.
  const frames: Buffer[] = [];
  for (let i = 0; i < Math.max(...kinds.map((k) => k.count)); i++) {
    for (const kind of kinds) {
      if (i < kind.count) frames.push(frame({ vlans: kind.tags, group: GROUP, port: PORT, source: NET.src.address, payload: payloadOf(kind, i) }));
    }
  }
  return frames;
}

function digests(kinds: Kind[]): Record<string, [number, string]> {
  const out: Record<string, [number, string]> = {};
  for (const kind of kinds) {
    for (let i = 0; i < kind.count; i++) {
      const payload = payloadOf(kind, i);
      out[payload.subarray(0, 4).toString('ascii')] = [payload.length, createHash('sha256').update(payload).digest('hex')];
    }
  }
  return out;
}

const byName = (name: string) => KINDS.find((k) => k.name === name)!;

describe('e2e: rules by VLAN on a trunk capture', function () {
  this.timeout(120_000);
  const relay = useRelay({ workers: 1 });

  it('relays each VLAN\'s frames (and untagged ones) by their own rule only, and traces their VLAN', async () => {
    const { client, topology } = relay;
    const sink = NET.sink1.address;
    const input = { interface: NET.relayIn.ifname, group: GROUP, port: PORT };
    const out = (port: number) => ({ interface: NET.relayOut1.ifname, address: sink, port });
    const untagged = await client.createRule({ name: 'untagged', input, outputs: [out(7000)] });
    const created = await bufCurl(relay.mcrd.socketPath, 'mcr.v1.RuleService/CreateRule', { rule: { name: 'vlan100', input: { ...input, vlan: 100 }, outputs: [out(7100)] } });
    expect(created.error, created.stderr).to.equal(null);
    const vlan100 = Rule.fromJSON(created.messages[0].rule);
    expect(vlan100.input!.vlan, 'VLAN, as stored').to.equal(100);
    expect(vlan100.id, 'a VLAN rule\'s id is its own').not.to.equal(untagged.id);
    const vlan200 = await client.createRule({ name: 'vlan200', input: { ...input, vlan: 200 }, outputs: [out(7200)] });
    const reserved = await bufCurl(relay.mcrd.socketPath, 'mcr.v1.RuleService/CreateRule', { rule: { input: { ...input, vlan: 4095 }, outputs: [out(7300)] } });
    expect([reserved.error?.code, reserved.error?.message], reserved.stderr).to.deep.equal([
      'invalid_argument',
      'rule.input.vlan: must be 1-4094, got 4095 (0 is priority tagging without a VLAN, 4095 is reserved)',
    ]);
    for (const rule of [untagged, vlan100, vlan200]) await waitForRuleState(client, rule.id);
    await waitForWorkersInSync(client, 1);
    await client.enableTrace(vlan200.id, { recordLimit: 1_000, snapLength: 64 });

    const expected = { 7000: [byName('u')], 7100: [byName('a'), byName('q')], 7200: [byName('b')] };
    const receiver = await startMarksReceiver(
      topology.ns.sink1,
      Object.entries(expected).map(([port, kinds]) => ({ address: sink, port: Number(port), interfaceAddress: sink, expect: kinds.reduce((n, k) => n + k.count, 0) })),
      0,
      { maxSeconds: 15, perPayload: true },
    );
    const inputBefore = (await client.getWorkerStats()).find((i) => i.interface === NET.relayIn.ifname)!;
    const file = writeFrameFile(framesOf(KINDS));
    try {
      const sent = await sendFrames(topology.ns.src, NET.src.ifname, file, 2_000, 20);
      expect(sent.sent, 'frames sent').to.equal(KINDS.reduce((n, k) => n + k.count, 0));
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
    const got = await receiver.done;
    await sleep(200);
    const summary = describeValue(got.map((m) => ({ port: m.port, payloads: m.payloads, datagrams: m.datagrams })));
    for (const [port, kinds] of Object.entries(expected)) {
      const endpoint = got.find((m) => m.port === Number(port))!;
      expect(endpoint.digests, `to ${port}: ${kinds.map((k) => k.name).join(' and ')} frames, each once; ${summary}`).to.deep.equal(digests(kinds));
      expect(endpoint.datagrams, `datagrams to ${port}`).to.equal(endpoint.payloads);
    }

    const stats = await waitFor(
      'every rule to count its frames',
      () => client.getStats(),
      (list) => list.reduce((n, s) => n + Number(s.packetsReceived), 0) >= 2 * EACH + EACH + QINQ,
      10_000,
    );
    const received = (id: string) => stats.find((s) => s.ruleId === id)!.packetsReceived;
    expect([received(untagged.id), received(vlan100.id), received(vlan200.id)], 'matched per rule').to.deep.equal([BigInt(EACH), BigInt(EACH + QINQ), BigInt(EACH)]);
    // VLAN 300 names no rule: the kernel filter drops its frames, so the worker never reads them.
    const inputAfter = (await client.getWorkerStats()).find((i) => i.interface === NET.relayIn.ifname)!;
    expect([inputAfter.frames - inputBefore.frames, inputAfter.unmatched - inputBefore.unmatched], 'frames read, unmatched').to.deep.equal([BigInt(3 * EACH + QINQ), 0n]);

    const { records } = await waitFor('the trace records', () => client.getTrace(vlan200.id), (t) => t.records.length >= EACH, 10_000);
    expect(records.map((r) => r.vlan), 'VLAN of each traced packet').to.deep.equal(Array<number>(EACH).fill(200));
    await client.disableTrace(vlan200.id);

    // The VLAN 100 rule gone: its frames reach no rule (and not the untagged one).
    await client.deleteRule(vlan100.id);
    await waitForWorkersInSync(client, 1);
    const again = writeFrameFile(framesOf([byName('a'), byName('u')]));
    try {
      await sendFrames(topology.ns.src, NET.src.ifname, again, 2_000, 20);
    } finally {
      fs.rmSync(path.dirname(again), { recursive: true, force: true });
    }
    await waitFor('the untagged rule to count the new frames', () => client.getStats(untagged.id), ([s]) => s.packetsReceived >= BigInt(2 * EACH), 10_000);
    await sleep(200);
    expect((await client.getStats(untagged.id))[0].packetsReceived, 'untagged rule: only untagged frames').to.equal(BigInt(2 * EACH));
  });
});
