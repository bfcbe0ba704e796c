/**
 * Cost per frame of the eBPF capture filter (docs/decisions/0028, 0066) by table size, as the kernel
 * measures it (BPF_PROG_TEST_RUN's mean duration over `REPEAT` runs, median of `ROUNDS`): a frame
 * of a configured pair (accepted: two lookups at most) and one of an unconfigured pair (dropped:
 * two lookups). IPv4 frames on the program of a socket without IPv6 targets (one map) and on the
 * program with the IPv6 map; IPv6 frames without extension headers, after two (hop-by-hop and
 * destination options), after the most walked (eight), and a fragment (the group key). Needs root
 * (bpf()).
 *
 *   node -r ts-node/register/transpile-only bench/capture-filter-cost.ts
 */
import { native } from '../native';
import { captureKeys, keysByFamily } from '../server/net/capture-filter';
import { formatIPv4, parseIPv4 } from '../server/formats/addresses';
import { frame, frame6, Frame6Spec, IPV6_DESTINATION_OPTIONS, IPV6_FRAGMENT, IPV6_HOP_BY_HOP } from '../test/support/frames';

const SIZES = [10, 1000, 20_000, 100_000];
const REPEAT = 1_000_000;
const ROUNDS = 5;

const groupAt = (i: number) => formatIPv4(parseIPv4('239.20.0.0')! + (i >> 1));
const target = (i: number) => ({ group: groupAt(i), port: 5000 + 2 * (i & 1) });
const group6At = (i: number) => `ff3e::14:${((i >> 1) + 1).toString(16)}`;
const target6 = (i: number) => ({ group: group6At(i), port: 5000 + 2 * (i & 1) });

const TWO_HEADERS = [{ type: IPV6_HOP_BY_HOP }, { type: IPV6_DESTINATION_OPTIONS }];
const EIGHT_HEADERS = [{ type: IPV6_HOP_BY_HOP }, ...Array.from({ length: 7 }, () => ({ type: IPV6_DESTINATION_OPTIONS }))];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function main(): void {
  const addon = native();
  const v4 = ['| rules (keys) | IPv4 program: configured pair | unconfigured pair | with the IPv6 map: configured pair | unconfigured pair |', '|---|---|---|---|---|'];
  const v6 = ['| IPv6 rules (keys) | configured pair | unconfigured pair | configured, 2 ext. headers | configured, 8 ext. headers | fragment (group key) |', '|---|---|---|---|---|---|'];
  for (const rules of SIZES) {
    const keys = keysByFamily(captureKeys([...Array.from({ length: rules }, (_, i) => target(i)), ...Array.from({ length: rules }, (_, i) => target6(i))]));
    const maps = ([4, 6] as const).map((family) => {
      const map = addon.createCaptureMap(2 ** Math.ceil(Math.log2(2 * keys[family].size + 1)), family);
      addon.updateCaptureMap(map, Uint32Array.from([...keys[family].values()].flat()));
      return map;
    });
    const programs = [addon.loadCaptureProgram(maps[0]), addon.loadCaptureProgram(maps[0], maps[1])];
    try {
      const time = (program: number, f: Buffer, want: boolean) => {
        if ((addon.testRunCaptureProgram(program, f) !== 0) !== want) throw new Error('unexpected verdict');
        return median(Array.from({ length: ROUNDS }, () => addon.timeCaptureProgram(program, f, REPEAT)));
      };
      const { group, port } = target(rules >> 1);
      const [hit, miss] = [frame({ group, port }), frame({ group, port: 5001 })];
      v4.push(`| ${rules} (${keys[4].size}) | ${programs.flatMap((p) => [time(p, hit, true), time(p, miss, false)]).join(' | ')} |`);
      const near: Frame6Spec = target6(rules >> 1);
      const cases: Array<[Frame6Spec, boolean]> = [
        [near, true],
        [{ ...near, port: 5001 }, false],
        [{ ...near, extensions: TWO_HEADERS }, true],
        [{ ...near, extensions: EIGHT_HEADERS }, true],
        [{ ...near, port: 5001, extensions: [{ type: IPV6_FRAGMENT }] }, true],
      ];
      v6.push(`| ${rules} (${keys[6].size}) | ${cases.map(([spec, want]) => time(programs[1], frame6(spec), want)).join(' | ')} |`);
    } finally {
      for (const fd of [...programs, ...maps]) addon.closeFd(fd);
    }
  }
  process.stdout.write(`${v4.join('\n')}\n\n${v6.join('\n')}\n`);
}

main();
