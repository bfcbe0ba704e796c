import { expect } from 'chai';

import { IpProtocol, OversizePolicy, Rule, RuleState, TtlPolicy } from '../../gen/mcr/v1/rules';
import { GetStatsResponse, GetWorkerStatsResponse } from '../../gen/mcr/v1/stats';
import { EventKind, GetVersionResponse, Interface, WatchEventsResponse, Worker, WorkerState } from '../../gen/mcr/v1/system';
import { eventKindWord } from '../../clients/mcrctl/event-kinds';
import { droppedNote, eventLine, EventLines } from '../../clients/mcrctl/event-view';
import { interfacesTable, interfaceState } from '../../clients/mcrctl/interface-view';
import { formatInput, formatOutput } from '../../clients/mcrctl/format';
import { formatState, ruleDetail, rulesTable } from '../../clients/mcrctl/rule-view';
import { inputsView, statsView, watchHeading } from '../../clients/mcrctl/stats-view';
import { logLevelChange, logLevelsTable, versionView, workersTable } from '../../clients/mcrctl/system-view';
import { renderFields, renderTable } from '../../clients/mcrctl/table';

/** 2024-01-02T03:04:05.678Z in unix nanoseconds. */
const T = BigInt(Date.UTC(2024, 0, 2, 3, 4, 5, 678)) * 1_000_000n;
/** 2024-01-02 15:04:05.678 local time (whatever the time zone) in unix nanoseconds. */
const LOCAL = BigInt(new Date(2024, 0, 2, 15, 4, 5, 678).getTime()) * 1_000_000n;

describe('mcrctl text output', () => {
  describe('table renderer', () => {
    it('aligns columns two spaces apart, numbers to the right, without trailing blanks', () => {
      const text = renderTable(
        [{ header: 'NAME' }, { header: 'COUNT', align: 'right' }, { header: 'NOTE' }],
        [
          ['a', '1', ''],
          ['longer-name', '12345', 'x'],
        ],
      );
      expect(text).to.equal(['NAME         COUNT  NOTE', 'a                1', 'longer-name  12345  x', ''].join('\n'));
    });

    it('prints the header alone for no rows', () => {
      expect(renderTable([{ header: 'ID' }, { header: 'NAME' }], [])).to.equal('ID  NAME\n');
    });

    it('spreads a multi-line cell over several lines, other cells blank', () => {
      const text = renderTable([{ header: 'ID' }, { header: 'OUT' }, { header: 'GEN', align: 'right' }], [['r1', 'eth1 a\nwg0 bb', '3']]);
      expect(text).to.equal(['ID  OUT     GEN', 'r1  eth1 a    3', '    wg0 bb', ''].join('\n'));
    });

    it('aligns key/value fields, continuing multi-line values', () => {
      expect(renderFields([['ID', 'r1'], ['Outputs', '[0] a\n[1] b']], '  ')).to.equal(
        ['  ID:       r1', '  Outputs:  [0] a', '            [1] b', ''].join('\n'),
      );
    });
  });

  describe('rules', () => {
    const rule = Rule.fromPartial({
      id: 'r-0123456789ab',
      name: 'cam1',
      input: { interface: 'eth0', group: '239.0.0.1', port: 5000, source: '10.10.1.100' },
      outputs: [
        { interface: 'eth1', address: '239.9.9.9', port: 6000, ttl: 4 },
        { interface: 'wg0', address: '10.20.0.7', port: 6000, dscp: 46 },
      ],
      generation: 3n,
      status: { state: RuleState.RULE_STATE_ACTIVE, worker: 1, lastPacketUnixNanos: T },
      createdUnixNanos: T,
      updatedUnixNanos: T,
    });
    const waiting = Rule.fromPartial({
      id: 'r-ffffffffffff',
      input: { interface: 'eth9', group: '239.0.0.2', port: 5000 },
      outputs: [{ interface: 'eth1', address: '239.9.9.9', port: 6001 }],
      generation: 1n,
      status: { state: RuleState.RULE_STATE_WAITING_FOR_INTERFACE, reason: 'interface eth9 does not exist' },
    });

    it('names states with short words and the reason', () => {
      expect(formatState(rule.status)).to.equal('active');
      expect(formatState(waiting.status)).to.equal('waiting: interface eth9 does not exist');
      expect(formatState({ state: RuleState.RULE_STATE_INTERFACE_DOWN, reason: '', worker: 0, lastPacketUnixNanos: 0n })).to.equal('down');
      expect(formatState({ state: RuleState.RULE_STATE_ERROR, reason: 'EPERM', worker: 0, lastPacketUnixNanos: 0n })).to.equal('error: EPERM');
      expect(formatState(undefined)).to.equal('unknown');
    });

    it('lists rules in a table, one output per line', () => {
      expect(rulesTable([rule, waiting])).to.equal(
        [
          'ID              NAME  INPUT                                 OUTPUTS                     STATE                                   GEN',
          'r-0123456789ab  cam1  eth0 239.0.0.1:5000 from 10.10.1.100  eth1 239.9.9.9:6000 ttl 4   active                                    3',
          '                                                            wg0 10.20.0.7:6000 dscp 46',
          'r-ffffffffffff  -     eth9 239.0.0.2:5000                   eth1 239.9.9.9:6001         waiting: interface eth9 does not exist    1',
          '',
        ].join('\n'),
      );
    });

    it('shows one rule in detail', () => {
      expect(ruleDetail(rule)).to.equal(
        [
          'ID:           r-0123456789ab',
          'Name:         cam1',
          'State:        active',
          'Worker:       1',
          'Input:        eth0 239.0.0.1:5000 from 10.10.1.100',
          'Outputs:      [0] eth1 239.9.9.9:6000 ttl 4',
          '              [1] wg0 10.20.0.7:6000 dscp 46',
          'Generation:   3',
          'Last packet:  2024-01-02T03:04:05.678Z',
          'Created:      2024-01-02T03:04:05.678Z',
          'Updated:      2024-01-02T03:04:05.678Z',
          '',
        ].join('\n'),
      );
      expect(ruleDetail(waiting)).to.include('Last packet:  never\n');
    });

    it('shows a decrementing ttl and a fixed tos in the words of --ttl and --no-preserve-tos; the defaults not at all', () => {
      const output = (extra: object) => formatOutput(Rule.fromPartial({ outputs: [{ interface: 'eth1', address: '239.9.9.9', port: 6000, ...extra }] }).outputs[0]);
      expect(output({ ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT })).to.equal('eth1 239.9.9.9:6000 ttl decrement');
      expect(output({ ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, dscp: 46, preserveTos: false })).to.equal('eth1 239.9.9.9:6000 ttl decrement dscp 46 tos fixed');
      expect(output({ ttl: 8, preserveTos: false })).to.equal('eth1 239.9.9.9:6000 ttl 8 tos fixed');
      expect(output({ ttlPolicy: TtlPolicy.TTL_POLICY_FIXED, ttl: 8, preserveTos: true })).to.equal('eth1 239.9.9.9:6000 ttl 8');
      expect(output({})).to.equal('eth1 239.9.9.9:6000');
      const decrementing = Rule.fromPartial({ ...waiting, outputs: [{ interface: 'eth1', address: '239.9.9.9', port: 6001, ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, preserveTos: false }] });
      expect(ruleDetail(decrementing)).to.include('Outputs:      [0] eth1 239.9.9.9:6001 ttl decrement tos fixed\n');
    });

    it('shows oversize drop in the words of --oversize; fragment, set or not, not at all', () => {
      const output = (extra: object) => formatOutput(Rule.fromPartial({ outputs: [{ interface: 'eth1', address: '239.9.9.9', port: 6000, ...extra }] }).outputs[0]);
      expect(output({ oversize: OversizePolicy.OVERSIZE_POLICY_DROP })).to.equal('eth1 239.9.9.9:6000 oversize drop');
      expect(output({ ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, dscp: 46, preserveTos: false, oversize: OversizePolicy.OVERSIZE_POLICY_DROP })).to.equal(
        'eth1 239.9.9.9:6000 ttl decrement dscp 46 tos fixed oversize drop',
      );
      expect(output({ ttl: 8, oversize: OversizePolicy.OVERSIZE_POLICY_FRAGMENT })).to.equal('eth1 239.9.9.9:6000 ttl 8');
      expect(output({ oversize: OversizePolicy.OVERSIZE_POLICY_UNSPECIFIED })).to.equal('eth1 239.9.9.9:6000');
      const dropping = Rule.fromPartial({ ...waiting, outputs: [{ interface: 'wg0', address: '10.20.0.7', port: 6001, oversize: OversizePolicy.OVERSIZE_POLICY_DROP }] });
      expect(ruleDetail(dropping)).to.include('Outputs:      [0] wg0 10.20.0.7:6001 oversize drop\n');
    });

    it('shows an output\'s source address as "from", beside its destination, in the table and in detail', () => {
      const output = (extra: object) => formatOutput(Rule.fromPartial({ outputs: [{ interface: 'wg0', address: '10.20.0.7', port: 6000, ...extra }] }).outputs[0]);
      expect(output({ source: '10.20.0.1' })).to.equal('wg0 10.20.0.7:6000 from 10.20.0.1');
      expect(output({ source: '10.20.0.1', ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, dscp: 46, oversize: OversizePolicy.OVERSIZE_POLICY_DROP })).to.equal(
        'wg0 10.20.0.7:6000 from 10.20.0.1 ttl decrement dscp 46 oversize drop',
      );
      expect(output({ source: '' })).to.equal('wg0 10.20.0.7:6000');
      const sourced = Rule.fromPartial({ ...waiting, outputs: [{ interface: 'eth1', address: '239.9.9.9', port: 6001, source: '10.30.0.1' }] });
      expect(ruleDetail(sourced)).to.include('Outputs:      [0] eth1 239.9.9.9:6001 from 10.30.0.1\n');
      expect(rulesTable([sourced]).split('\n')[1]).to.match(/eth1 239\.9\.9\.9:6001 from 10\.30\.0\.1/);
    });

    it('shows the VLAN of an input beside its interface, in the table and in detail', () => {
      const input = (extra: object) => formatInput(Rule.fromPartial({ input: { interface: 'eth0', group: '239.1.1.1', port: 5000, ...extra } }).input);
      expect(input({ vlan: 100 })).to.equal('eth0 vlan 100 239.1.1.1:5000');
      expect(input({ vlan: 4094, source: '10.10.1.100' })).to.equal('eth0 vlan 4094 239.1.1.1:5000 from 10.10.1.100');
      expect(input({})).to.equal('eth0 239.1.1.1:5000');
      const tagged = Rule.fromPartial({ ...waiting, input: { ...waiting.input, vlan: 200 } });
      expect(rulesTable([tagged]).split('\n')[1]).to.match(/^r-ffffffffffff {2}- {5}eth9 vlan 200 239\.0\.0\.2:5000 {2}eth1/);
      expect(ruleDetail(tagged)).to.include('Input:        eth9 vlan 200 239.0.0.2:5000\n');
    });

    it('shows an ESP rule\'s input as GROUP esp and its outputs as ADDR, without ports', () => {
      const input = (extra: object) => formatInput(Rule.fromPartial({ input: { interface: 'eth0', group: '239.1.1.1', protocol: IpProtocol.IP_PROTOCOL_ESP, ...extra } }).input);
      expect(input({})).to.equal('eth0 239.1.1.1 esp');
      expect(input({ vlan: 100, source: '10.10.1.100' })).to.equal('eth0 vlan 100 239.1.1.1 esp from 10.10.1.100');
      // IP_PROTOCOL_UDP is UDP, as unset is.
      expect(input({ port: 5000, protocol: IpProtocol.IP_PROTOCOL_UDP })).to.equal('eth0 239.1.1.1:5000');
      const output = (extra: object) => formatOutput(Rule.fromPartial({ outputs: [{ interface: 'eth1', address: '10.0.0.9', ...extra }] }).outputs[0]);
      expect(output({})).to.equal('eth1 10.0.0.9');
      expect(output({ source: '10.1.0.1', ttlPolicy: TtlPolicy.TTL_POLICY_DECREMENT, oversize: OversizePolicy.OVERSIZE_POLICY_DROP })).to.equal(
        'eth1 10.0.0.9 from 10.1.0.1 ttl decrement oversize drop',
      );
      const esp = Rule.fromPartial({ ...waiting, input: { interface: 'eth9', group: '239.0.0.2', protocol: IpProtocol.IP_PROTOCOL_ESP }, outputs: [{ interface: 'eth1', address: '239.9.9.9' }] });
      expect(rulesTable([esp]).split('\n')[1]).to.match(/^r-ffffffffffff {2}- {5}eth9 239\.0\.0\.2 esp {2}eth1 239\.9\.9\.9 /);
      expect(ruleDetail(esp)).to.include('Input:        eth9 239.0.0.2 esp\nOutputs:      [0] eth1 239.9.9.9\n');
    });
  });

  it('shows workers, flagging a ruleset hash that is not the expected one', () => {
    const workers = [
      Worker.fromPartial({ index: 0, pid: 4242, uid: 65534, core: 0, state: WorkerState.WORKER_STATE_RUNNING, rules: 2, rulesetHash: 'aaaa', expectedRulesetHash: 'aaaa' }),
      Worker.fromPartial({ index: 1, pid: 0, uid: 65534, core: -1, state: WorkerState.WORKER_STATE_RESTARTING, rules: 10, rulesetHash: '', expectedRulesetHash: 'bbbb' }),
    ];
    expect(workersTable(workers)).to.equal(
      [
        'INDEX   PID    UID  CORE  LAST CPU  STATE       RULES  HASH',
        '    0  4242  65534     0         -  running         2  aaaa',
        '    1     -  65534     -         -  restarting     10  - (expected bbbb)',
        '',
      ].join('\n'),
    );
  });

  it('shows the CPU each data-plane thread last ran on, flagging one the kernel lets run elsewhere', () => {
    const running = { uid: 65534, state: WorkerState.WORKER_STATE_RUNNING, rules: 1, rulesetHash: 'aaaa', expectedRulesetHash: 'aaaa' };
    const workers = [
      Worker.fromPartial({ ...running, index: 0, pid: 4242, core: 1, dataplaneThreadId: 4250, lastCpu: 1, allowedCpus: '1' }),
      Worker.fromPartial({ ...running, index: 1, pid: 4243, core: 3, dataplaneThreadId: 4260, lastCpu: 0, allowedCpus: '0-3' }),
    ];
    expect(workersTable(workers)).to.equal(
      [
        'INDEX   PID    UID             CORE  LAST CPU  STATE    RULES  HASH',
        '    0  4242  65534                1         1  running      1  aaaa',
        '    1  4243  65534  3 (allowed 0-3)         0  running      1  aaaa',
        '',
      ].join('\n'),
    );
  });

  describe('stats', () => {
    const response = GetStatsResponse.fromPartial({
      rules: [
        {
          ruleId: 'r-0123456789ab',
          name: 'cam1',
          worker: 1,
          packetsReceived: 18446744073709551615n,
          bytesReceived: 1400n,
          packetsForwarded: 10n,
          drops: { sendFailed: 2n, noBuffer: 1n, unreachable: 0n, sendError: 3n, ttlExpired: 4n, tooBig: 5n },
          lastPacketUnixNanos: T,
          packetsPerSecond: 1234.5,
          bitsPerSecond: 11_200_000,
          outputs: [
            {
              index: 0,
              interface: 'eth1',
              address: '239.9.9.9',
              port: 6000,
              packets: 10n,
              bytes: 1400n,
              errorsWouldBlock: 1n,
              errorsUnreachable: 0n,
              errorsOther: 3n,
              ttlExpired: 4n,
              fragmented: 6n,
              tooBig: 5n,
              packetsPerSecond: 999.6,
              bitsPerSecond: 8000,
            },
          ],
        },
        { ruleId: 'r-ffffffffffff', worker: 0, outputs: [] },
      ],
    });

    it('shows totals with humanised rates, drops by reason, and per output sent, errors, ttl-expired, fragmented and too-big', () => {
      expect(statsView(response)).to.equal(
        [
          'RULE            NAME  WORKER              RECEIVED  BYTES   PKT RATE     BIT RATE  FORWARDED  DROPS          LAST PACKET',
          'r-0123456789ab  cam1       1  18446744073709551615   1400  1.23 kpps  11.2 Mbit/s         10  send-failed 2  2024-01-02T03:04:05.678Z',
          '                                                                                              no-buffer 1',
          '                                                                                              send-error 3',
          '                                                                                              ttl-expired 4',
          '                                                                                              too-big 5',
          'r-ffffffffffff  -          0                     0      0      0 pps      0 bit/s          0  0              never',
          '',
          'RULE            OUT  DESTINATION          SENT  BYTES   PKT RATE     BIT RATE  WOULD-BLOCK  UNREACHABLE  OTHER-ERRORS  TTL-EXPIRED  FRAGMENTED  TOO-BIG',
          'r-0123456789ab    0  eth1 239.9.9.9:6000    10   1400  1.00 kpps  8.00 kbit/s            1            0             3            4           6        5',
          '',
        ].join('\n'),
      );
    });

    it('shows an ESP rule\'s outputs, which have no port (0), by address alone', () => {
      const esp = GetStatsResponse.fromPartial({ rules: [{ ruleId: 'r-0123456789ab', worker: 1, outputs: [{ index: 0, interface: 'eth1', address: '10.0.0.9', port: 0, packets: 3n }] }] });
      expect(statsView(esp).split('\n')[4]).to.match(/^r-0123456789ab {4}0 {2}eth1 10\.0\.0\.9 +3 /);
    });

    it('shows worker inputs with parse errors by reason, kernel drops and merged frames', () => {
      const inputs = GetWorkerStatsResponse.fromPartial({
        inputs: [
          { worker: 0, interface: 'eth0', frames: 5000n, bytes: 700000n, unmatched: 12n, parseErrors: { truncated: 2n, fragment: 7n }, kernelDrops: 31n },
          { worker: 1, interface: 'eth0', frames: 0n, bytes: 0n, unmatched: 0n, kernelDrops: 0n, mergedFrames: 20n, mergedDatagrams: 200n },
        ],
      });
      expect(inputsView(inputs)).to.equal(
        [
          'WORKER  INTERFACE  FRAMES   BYTES  UNMATCHED  PARSE ERRORS  KERNEL DROPS  MERGED FRAMES  MERGED DATAGRAMS',
          '     0  eth0         5000  700000         12  truncated 2             31              0                 0',
          '                                              fragment 7',
          '     1  eth0            0       0          0  0                        0             20               200',
          '',
        ].join('\n'),
      );
    });

    it('heads each watch update with its interval and time, and dropped updates only when there are some', () => {
      expect(watchHeading({ intervalMs: 500, collectedUnixNanos: T, droppedUpdates: 0n })).to.equal('Every 500 ms, collected 2024-01-02T03:04:05.678Z');
      expect(watchHeading({ intervalMs: 100, collectedUnixNanos: T, droppedUpdates: 7n })).to.equal(
        'Every 100 ms, collected 2024-01-02T03:04:05.678Z, dropped updates: 7 (this client read too slowly)',
      );
    });
  });

  it('shows log levels per facility and what a change did', () => {
    expect(logLevelsTable({ supervisor: 'info', worker: 'debug' })).to.equal(['FACILITY    LEVEL', 'supervisor  info', 'worker      debug', ''].join('\n'));
    expect(logLevelChange('net', 'debug')).to.equal('Log level of net set to debug.');
    expect(logLevelChange('', 'warn')).to.equal('Log level of every facility set to warn.');
  });

  it('shows client and server versions', () => {
    const server = GetVersionResponse.fromPartial({ serverVersion: '0.2.0', protocolMajor: 1, protocolMinor: 3, features: ['rules', 'validate_only'], startedUnixNanos: T });
    expect(versionView({ version: '0.1.0', protocolMajor: 1 }, server)).to.equal(
      [
        'Client:    mcrctl 0.1.0 (protocol 1)',
        'Server:    mcrd 0.2.0 (protocol 1.3)',
        'Features:  rules, validate_only',
        'Started:   2024-01-02T03:04:05.678Z',
        '',
      ].join('\n'),
    );
  });

  describe('interfaces', () => {
    it('names the state: up, down, no carrier, missing', () => {
      expect(interfaceState({ exists: true, up: true, running: true })).to.equal('up');
      expect(interfaceState({ exists: true, up: true, running: false })).to.equal('no carrier');
      expect(interfaceState({ exists: true, up: false, running: false })).to.equal('down');
      expect(interfaceState({ exists: false, up: false, running: false })).to.equal('missing');
    });

    it('lists interfaces with addresses and rules one per line, "-" for what a missing one lacks', () => {
      const interfaces = [
        Interface.fromPartial({ name: 'lo', index: 1, exists: true, up: true, running: true, mtu: 65536, mac: '00:00:00:00:00:00', addresses: [{ address: '127.0.0.1', prefixLength: 8 }] }),
        Interface.fromPartial({
          name: 'eth0',
          index: 2,
          exists: true,
          up: true,
          running: false,
          mtu: 1500,
          mac: '52:54:00:12:34:56',
          addresses: [
            { address: '10.0.0.1', prefixLength: 24 },
            { address: '10.0.1.1', prefixLength: 16 },
          ],
          inputRules: ['r-000000000001', 'r-000000000002'],
        }),
        Interface.fromPartial({ name: 'wg0', index: 14, exists: true, up: false, mtu: 1420, outputRules: ['r-000000000001'] }),
        Interface.fromPartial({ name: 'eth9', exists: false, inputRules: ['r-000000000003'], outputRules: ['r-000000000002'] }),
      ];
      expect(interfacesTable(interfaces)).to.equal(
        [
          'NAME  INDEX  STATE         MTU  MAC                ADDRESSES    INPUT RULES     OUTPUT RULES',
          'lo        1  up          65536  00:00:00:00:00:00  127.0.0.1/8  -               -',
          'eth0      2  no carrier   1500  52:54:00:12:34:56  10.0.0.1/24  r-000000000001  -',
          '                                                   10.0.1.1/16  r-000000000002',
          'wg0      14  down         1420  -                  -            -               r-000000000001',
          'eth9      -  missing         -  -                  -            r-000000000003  r-000000000002',
          '',
        ].join('\n'),
      );
    });
  });

  describe('events', () => {
    it('has a short word for every kind, and says "kind N" for one it does not know', () => {
      const known = Object.values(EventKind).filter((k): k is EventKind => typeof k === 'number' && k > 0);
      expect(known.map(eventKindWord)).to.deep.equal(['interface', 'interface-removed', 'rule-status', 'rule', 'worker-started', 'worker-exited', 'drift']);
      expect(eventKindWord(9 as EventKind)).to.equal('kind 9');
    });

    it('prints local time, kind and message, messages aligned', () => {
      const line = (kind: EventKind, message: string) => eventLine({ unixNanos: LOCAL, kind, message, interface: undefined, rule: undefined, worker: undefined });
      expect(line(EventKind.EVENT_KIND_INTERFACE_CHANGED, 'interface eth1 (index 3) up')).to.equal('2024-01-02 15:04:05.678  interface          interface eth1 (index 3) up');
      expect(line(EventKind.EVENT_KIND_INTERFACE_REMOVED, 'interface eth1 removed')).to.equal('2024-01-02 15:04:05.678  interface-removed  interface eth1 removed');
      expect(line(EventKind.EVENT_KIND_WORKER_DRIFT, 'worker 1: drift repaired by resync')).to.equal('2024-01-02 15:04:05.678  drift              worker 1: drift repaired by resync');
    });

    it('notes dropped events when the count grows, and only then', () => {
      const response = (message: string, dropped: bigint) =>
        WatchEventsResponse.fromPartial({ event: { unixNanos: LOCAL, kind: EventKind.EVENT_KIND_RULE_CHANGED, message }, droppedEvents: dropped });
      const lines = new EventLines();
      expect(lines.render(response('rule r-1 created', 0n))).to.equal('2024-01-02 15:04:05.678  rule               rule r-1 created\n');
      expect(lines.render(response('rule r-2 created', 3n))).to.equal(
        'note: 3 events dropped because this client read too slowly (3 in all)\n2024-01-02 15:04:05.678  rule               rule r-2 created\n',
      );
      expect(lines.render(response('rule r-3 created', 3n))).to.equal('2024-01-02 15:04:05.678  rule               rule r-3 created\n');
      expect(lines.render(response('rule r-4 created', 4n))).to.match(/^note: 1 event dropped because this client read too slowly \(4 in all\)\n.*r-4 created\n$/);
      expect(droppedNote(2n, 10n)).to.equal('note: 2 events dropped because this client read too slowly (10 in all)');
    });
  });
});
