/**
 * Cost per frame of the eBPF capture filter (docs/decisions/0028) by table size, as the kernel
 * measures it (BPF_PROG_TEST_RUN's mean duration over `REPEAT` runs, median of `ROUNDS`): a frame
 * of a configured pair (accepted: two lookups at most) and one of an unconfigured pair (dropped:
 * two lookups). Needs root (bpf()).
 *
 *   node -r ts-node/register/transpile-only bench/capture-filter-cost.ts
 */
import { native } from '../native';
import { captureKeys } from '../server/net/capture-filter';
import { formatIPv4, parseIPv4 } from '../server/formats/addresses';
import { frame } from '../test/support/frames';

const SIZES = [10, 1000, 20_000, 100_000];
const REPEAT = 1_000_000;
const ROUNDS = 5;

const groupAt = (i: number) => formatIPv4(parseIPv4('239.20.0.0')! + (i >> 1));
const target = (i: number) => ({ group: groupAt(i), port: 5000 + 2 * (i & 1) });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function main(): void {
  const addon = native();
  const lines = ['| rules (keys) | configured pair: ns/frame | unconfigured pair: ns/frame |', '|---|---|---|'];
  for (const rules of SIZES) {
    const targets = Array.from({ length: rules }, (_, i) => target(i));
    const keys = captureKeys(targets);
    const map = addon.createCaptureMap(2 ** Math.ceil(Math.log2(2 * keys.size + 1)));
    try {
      addon.updateCaptureMap(map, Uint32Array.from([...keys.values()].flat()));
      const program = addon.loadCaptureProgram(map);
      try {
        const hit = frame({ group: target(rules >> 1).group, port: target(rules >> 1).port });
        const miss = frame({ group: target(rules >> 1).group, port: 5001 });
        if (addon.testRunCaptureProgram(program, hit) === 0 || addon.testRunCaptureProgram(program, miss) !== 0) throw new Error('unexpected verdicts');
        const time = (f: Buffer) => median(Array.from({ length: ROUNDS }, () => addon.timeCaptureProgram(program, f, REPEAT)));
        lines.push(`| ${rules} (${keys.size}) | ${time(hit)} | ${time(miss)} |`);
      } finally {
        addon.closeFd(program);
      }
    } finally {
      addon.closeFd(map);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
