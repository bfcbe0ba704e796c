/**
 * The frame parser under libFuzzer (test/fuzz/run-parser-fuzz): the seed corpus is what
 * test/fuzz/make-seeds.ts says and each seed parses as its name claims; then the fuzzer runs for
 * MCR_FUZZ_SECONDS (default 60) and must find nothing. Without clang the test fails: the fuzzing job
 * is part of the suite, not an optional extra.
 */
import { expect } from 'chai';
import { spawn } from 'child_process';
import fs from 'fs';
import path from 'path';

import { native } from '../../native';
import { PARSER_CORPUS_DIR, parserSeeds, seedFileName } from '../fuzz/make-seeds';

const RUN_PARSER_FUZZ = path.resolve(__dirname, '..', 'fuzz', 'run-parser-fuzz');
const DEFAULT_SECONDS = 60;
/** Compiling the target twice (fuzzing and coverage builds) and the coverage pass, on a slow machine. */
const BUILD_ALLOWANCE_MS = 120_000;

function fuzzSeconds(): number {
  const text = process.env.MCR_FUZZ_SECONDS;
  if (text === undefined || text === '') return DEFAULT_SECONDS;
  const seconds = Number(text);
  if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`MCR_FUZZ_SECONDS must be a whole number >= 1, got ${JSON.stringify(text)}`);
  return seconds;
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Runs the fuzz script; resolves with its exit and everything it printed (stdout and stderr, in order). */
function runFuzzScript(seconds: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(RUN_PARSER_FUZZ, [String(seconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, output }));
  });
}

describe('frame parser fuzzing', function () {
  describe('seed corpus', function () {
    const seeds = parserSeeds();

    for (const seed of seeds) {
      it(`${seed.name} parses as ${seed.outcome}`, function () {
        const parsed = native().parseFrame(seed.bytes);
        expect(parsed.ok ? 'ok' : parsed.reason).to.equal(seed.outcome);
      });
    }

    it('test/fuzz/corpus/parser/ holds exactly the seeds of make-seeds.ts (run it after changing them)', function () {
      expect(fs.readdirSync(PARSER_CORPUS_DIR).sort()).to.deep.equal(seeds.map(seedFileName).sort());
      for (const seed of seeds) {
        const onDisk = fs.readFileSync(path.join(PARSER_CORPUS_DIR, seedFileName(seed)));
        expect(onDisk.equals(seed.bytes), `${seedFileName(seed)} is up to date`).to.equal(true);
      }
    });

    it('covers every outcome of the parser', function () {
      const outcomes = new Set(seeds.map((seed) => seed.outcome));
      expect([...outcomes].sort()).to.deep.equal(['badHeader', 'badLength', 'fragment', 'notIpv4', 'notUdp', 'ok', 'truncated']);
    });
  });

  describe('libFuzzer', function () {
    const seconds = fuzzSeconds();
    this.timeout(seconds * 1000 + BUILD_ALLOWANCE_MS);

    it(`finds no crash, leak, undefined behaviour or broken invariant in ${seconds} s (MCR_FUZZ_SECONDS)`, async function () {
      const run = await runFuzzScript(seconds);
      if (run.code !== 0) {
        expect.fail(`test/fuzz/run-parser-fuzz exited with ${run.signal ?? run.code}:\n${run.output.trim()}`);
      }
      // The script's own summary: speed and coverage, for the test log.
      const summary = run.output.split('\n').filter((line) => /^run-parser-fuzz: (ok|libFuzzer coverage|parser\.cc coverage)/.test(line));
      expect(summary[0], `a summary line in:\n${run.output}`).to.match(/^run-parser-fuzz: ok: \d+ inputs/);
      process.stdout.write(summary.map((line) => `      ${line}\n`).join(''));
    });
  });
});
