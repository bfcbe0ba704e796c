import { expect } from 'chai';

import { CliIo } from '../../clients/mcrctl/io';
import { CliCommand } from '../../clients/mcrctl/invocation';
import { parseCommandLine } from '../../clients/mcrctl/program';

/** An io that records what is written; stdout is a terminal when `isTTY`. */
function recorder(isTTY = false): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    env: {},
    isTTY,
    stdout: (text: string) => void (io.out += text),
    stderr: (text: string) => void (io.err += text),
  };
  return io;
}

function parse(args: string, isTTY = false): { command: CliCommand; json: boolean } {
  const io = recorder(isTTY);
  const result = parseCommandLine(args.split(' '), io);
  if (!('invocation' in result)) throw new Error(`expected "${args}" to parse, got exit ${result.exitCode}: ${io.err}`);
  return { command: result.invocation.command, json: result.invocation.json };
}

/** Parses a command line that must be refused: exit 2, the message on stderr. */
function refused(args: string, isTTY = false): string {
  const io = recorder(isTTY);
  const result = parseCommandLine(args.split(' '), io);
  expect(result, `"${args}" should be refused; stderr: ${io.err}`).to.deep.equal({ exitCode: 2 });
  expect(io.out).to.equal('');
  return io.err;
}

describe('mcrctl trace command line', () => {
  it('trace RULE traces with mcrd\'s defaults, to readable lines', () => {
    expect(parse('trace cam1').command).to.deep.equal({ name: 'trace start', rule: 'cam1', settings: {}, pcap: undefined, reconnect: false });
  });

  it('takes the settings before or after RULE; --duration is in seconds', () => {
    const expected = { name: 'trace start', rule: 'cam1', settings: { sampleEvery: 10, snapLength: 256, recordLimit: 50, timeLimitMs: 5000 }, pcap: undefined, reconnect: false };
    expect(parse('trace cam1 --sample 10 --snap 256 --limit 50 --duration 5').command).to.deep.equal(expected);
    expect(parse('trace --sample 10 --snap 256 cam1 --limit 50 --duration 5').command).to.deep.equal(expected);
  });

  it('--pcap writes to stdout when it is not a terminal; -w FILE to a file, with or without --pcap; -w - to stdout', () => {
    expect(parse('trace cam1 --pcap').command).to.deep.include({ pcap: { to: 'stdout' } });
    expect(parse('trace cam1 -w /tmp/x.pcapng').command).to.deep.include({ pcap: { to: 'file', path: '/tmp/x.pcapng' } });
    expect(parse('trace cam1 --pcap -w /tmp/x.pcapng', true).command).to.deep.include({ pcap: { to: 'file', path: '/tmp/x.pcapng' } });
    expect(parse('trace cam1 --write=/tmp/y').command).to.deep.include({ pcap: { to: 'file', path: '/tmp/y' } });
    expect(parse('trace cam1 -w -').command).to.deep.include({ pcap: { to: 'stdout' } });
  });

  it('--json gives JSON lines (the records are not pcap)', () => {
    const { command, json } = parse('--json trace cam1');
    expect(json).to.equal(true);
    expect(command).to.deep.include({ name: 'trace start', pcap: undefined });
  });

  it('the subcommands win over RULE; trace start RULE traces a rule named like one', () => {
    expect(parse('trace list').command).to.deep.equal({ name: 'trace list' });
    expect(parse('trace show cam1').command).to.deep.equal({ name: 'trace show', rule: 'cam1', pcap: undefined });
    expect(parse('trace stop cam1').command).to.deep.equal({ name: 'trace stop', rule: 'cam1' });
    expect(parse('trace start list --limit 5').command).to.deep.equal({ name: 'trace start', rule: 'list', settings: { recordLimit: 5 }, pcap: undefined, reconnect: false });
    expect(parse('trace start stop').command).to.deep.include({ name: 'trace start', rule: 'stop' });
  });

  it('--reconnect keeps trace RULE (and trace start RULE) going when mcrd goes away', () => {
    expect(parse('trace cam1 --reconnect').command).to.deep.include({ name: 'trace start', rule: 'cam1', reconnect: true });
    expect(parse('trace start --reconnect cam1').command).to.deep.include({ name: 'trace start', rule: 'cam1', reconnect: true });
  });

  it('trace show takes --pcap and -w', () => {
    expect(parse('trace show cam1 -w /tmp/s.pcapng').command).to.deep.equal({ name: 'trace show', rule: 'cam1', pcap: { to: 'file', path: '/tmp/s.pcapng' } });
    expect(parse('trace show cam1 --pcap').command).to.deep.include({ pcap: { to: 'stdout' } });
    expect(parse('--json trace show cam1').json).to.equal(true);
  });

  describe('refused with exit 2', () => {
    it('a pcapng capture to a terminal', () => {
      expect(refused('trace cam1 --pcap', true)).to.match(/^error: refusing to write a pcapng capture to a terminal: give -w FILE/);
      expect(refused('trace cam1 -w -', true)).to.include('refusing to write a pcapng capture to a terminal');
      expect(refused('trace show cam1 --pcap', true)).to.include('refusing to write a pcapng capture to a terminal');
    });

    it('--json with --pcap or -w', () => {
      expect(refused('--json trace cam1 --pcap')).to.include('--json and --pcap (or -w) ask for different outputs');
      expect(refused('trace cam1 -w /tmp/x --json')).to.include('--json and --pcap (or -w)');
    });

    it('trace without RULE, with two, or with an empty -w', () => {
      expect(refused('trace')).to.include('trace needs a RULE (id or name) to trace, or one of: start RULE, list, show RULE, stop RULE');
      expect(refused('trace cam1 cam2')).to.include("too many arguments for 'trace'");
      expect(refused('trace cam1 -w')).to.include("option '-w, --write <FILE>' argument missing");
      const io = recorder();
      expect(parseCommandLine(['trace', 'cam1', '-w', ''], io)).to.deep.equal({ exitCode: 2 });
      expect(io.err).to.include('-w: the file name is empty');
    });

    it('settings out of range, naming the flag', () => {
      expect(refused('trace cam1 --sample 0')).to.include("option '--sample <N>' argument '0' is invalid. must be an integer from 1 to 1000000.");
      expect(refused('trace cam1 --snap 4096')).to.include("'--snap <BYTES>' argument '4096' is invalid. must be an integer from 1 to 2048.");
      expect(refused('trace cam1 --limit 100001')).to.include('--limit <N>');
      expect(refused('trace cam1 --duration 1.5')).to.include('--duration <SECONDS>');
    });

    it('options of trace RULE given to list, show or stop', () => {
      expect(refused('trace list --sample 5')).to.include("trace list takes no --sample: it applies to 'trace RULE'");
      expect(refused('trace --limit 5 list')).to.include('trace list takes no --limit');
      expect(refused('trace list --pcap')).to.include('trace list takes no --pcap');
      expect(refused('trace show cam1 --duration 3')).to.include('trace show takes no --duration');
      expect(refused('trace stop cam1 -w /tmp/x')).to.include('trace stop takes no -w');
      expect(refused('trace show cam1 --reconnect')).to.include('trace show takes no --reconnect');
    });

    it('a usage error is followed by the usage line', () => {
      expect(refused('trace')).to.include('Usage: mcrctl trace RULE [--sample N] [--snap BYTES] [--limit N] [--duration SECONDS] [--pcap] [-w FILE]');
    });
  });

  it('trace --help explains the subcommands and how to trace a rule named like one', () => {
    const io = recorder();
    expect(parseCommandLine(['trace', '--help'], io)).to.deep.equal({ exitCode: 0 });
    for (const word of ['start', 'list', 'show', 'stop']) expect(io.out).to.match(new RegExp(`^ +${word}\\b`, 'm'));
    expect(io.out).to.include("A rule named start, list, show or stop is traced with 'mcrctl trace start NAME'");
  });
});
