/**
 * man mcrd and man mcrctl: generated from the programs that parse the command lines, so every command,
 * argument and option they accept is in the page, and a new one appears without anyone writing it;
 * the pages are valid roff that man renders without warnings; package.json links the files the build
 * writes.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import { Command } from 'commander';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { commandTree } from '../../clients/mcrctl/command-tree';
import { programDefinition } from '../../clients/mcrctl/program';
import { daemonProgram } from '../../server/config/options';
import packageJson from '../../package.json';
import { mcrctlManPage, mcrdManPage } from '../../scripts/man/pages';
import { ManPage, optionTerm, renderManPage, roffEscape } from '../../scripts/man/roff';
import { generatedFiles, writeGeneratedFiles } from '../../scripts/write-man-and-completions';

/** The page as man shows it (plain text, wide enough that nothing is hyphenated); fails on any warning. */
function rendered(roff: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-man-'));
  try {
    const file = path.join(dir, 'page.1');
    fs.writeFileSync(file, roff);
    const result = spawnSync('man', ['--warnings=all', '-l', file], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '400', MAN_KEEP_FORMATTING: '', LC_ALL: 'C.UTF-8' } });
    if (result.error) throw new Error(`cannot run man (Debian: apt-get install man-db): ${result.error.message}`);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr, 'roff warnings').to.equal('');
    return result.stdout.replace(/.\x08/g, '');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The roff of one command's subsection: from its .SS line to the next section or subsection. */
function subsection(roff: string, title: string): string {
  const start = roff.indexOf(`.SS "${roffEscape(title)}"\n`);
  expect(start, `no subsection for ${title}`).to.be.at.least(0);
  const next = roff.slice(start + 1).search(/^\.S[SH] /m);
  return next < 0 ? roff.slice(start) : roff.slice(start, start + 1 + next);
}

function page(program: Command, overrides: Partial<ManPage> = {}): string {
  return renderManPage({ program, section: 1, source: 'mcr test', manual: 'User Commands', summary: 'test', description: [], sections: [], ...overrides });
}

describe('man pages', () => {
  describe('mcrctl(1)', () => {
    const roff = renderManPage(mcrctlManPage());
    const tree = commandTree(programDefinition());

    it('has a subsection for every command, listing its arguments and its own options', () => {
      const [root, ...commands] = tree;
      expect(commands.length).to.be.above(20);
      for (const node of commands) {
        const title = ['mcrctl', ...node.words].join(' ');
        const section = subsection(roff, title);
        for (const argument of node.arguments) expect(section, `${title} ${argument.placeholder}`).to.include(`\\fI${roffEscape(argument.placeholder)}\\fR`);
        for (const option of node.options.filter((o) => !o.flags.includes('--help'))) expect(section, `${title} ${option.option.flags}`).to.include(optionTerm(option));
      }
      for (const option of root.options) expect(roff, option.option.flags).to.include(optionTerm(option));
    });

    it('shows every command and option when man renders it', () => {
      const text = rendered(roff);
      expect(text).to.match(/^MCRCTL\(1\)/);
      for (const node of tree.slice(1)) expect(text).to.include(['mcrctl', ...node.words].join(' '));
      for (const option of tree.flatMap((node) => node.options)) {
        for (const flag of option.flags) expect(text).to.include(flag);
      }
      expect(text).to.include('--expect-generation N');
      expect(text).to.include('MCR_SOCKET');
    });

    it('leaves the hidden __complete command out', () => {
      expect(roff).not.to.include('__complete');
    });
  });

  describe('mcrd(1)', () => {
    const roff = renderManPage(mcrdManPage());

    it('lists every option of mcrd with its default', () => {
      const [root] = commandTree(daemonProgram());
      expect(root.options.length).to.be.above(20);
      for (const option of root.options) expect(roff, option.option.flags).to.include(optionTerm(option));
      const text = rendered(roff);
      expect(text).to.match(/^MCRD\(1\)/);
      for (const flag of ['--listen address', '--state-dir dir', '--max-rules n', '--rcvbuf bytes', '--version']) expect(text).to.include(flag);
      expect(text).to.include('(default: "/var/lib/mcr")');
      expect(text).to.include('mcrd-worker N');
    });
  });

  it('is generated from the program: a new command, argument or option appears in the page', () => {
    const program = new Command('demo').option('--colour <NAME>', 'paint it');
    program.command('zap').description('zap a thing').argument('<THING>', 'what to zap').option('--hard', 'harder');
    program.command('hidden-one', { hidden: true });
    const roff = page(program);
    expect(subsection(roff, 'demo zap')).to.include('\\fB\\-\\-hard\\fR').and.to.include('\\fITHING\\fR').and.to.include('zap a thing');
    expect(roff).to.include('\\fB\\-\\-colour\\fR \\fINAME\\fR');
    expect(roff).not.to.include('hidden');
    expect(rendered(roff)).to.include('demo zap');
  });

  it('protects text that roff would read as a request or an escape', () => {
    const program = new Command('demo').description('x').option('--path <DIR>', '.starts with a dot\n\'and a quote, a \\backslash');
    const text = rendered(page(program));
    expect(text).to.include(".starts with a dot");
    expect(text).to.include("'and a quote, a \\backslash");
  });

  it('is what the build writes, and package.json links those files', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-generated-'));
    try {
      writeGeneratedFiles(dir);
      const pages = generatedFiles().filter((file) => file.path.endsWith('.1'));
      expect(pages.map((file) => file.path)).to.deep.equal(['man/mcrd.1', 'man/mcrctl.1']);
      for (const file of pages) expect(fs.readFileSync(path.join(dir, file.path), 'utf8')).to.equal(file.text);
      expect(packageJson.man.map((file) => path.normalize(file))).to.deep.equal(pages.map((file) => file.path));
      expect(packageJson.files).to.include.members(['man/', 'completions/']);
      expect(packageJson.scripts.build).to.match(/&& npm run build:man$/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
