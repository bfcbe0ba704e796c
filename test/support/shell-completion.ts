/**
 * Runs a completion script in a real shell and returns what it offers for a command line.
 *
 * bash: the script's completion function is called as bash's programmable completion calls it, with
 * COMP_WORDS split the way readline splits them (at ':' and '=' too, which COMP_WORDBREAKS holds),
 * COMP_CWORD, COMP_LINE and COMP_POINT.
 *
 * zsh: an interactive zsh on a pseudo-terminal loads the completion system, sources the script, and
 * is sent the line and a Tab (zsh-completion-capture.zsh); every match zsh would offer is returned.
 */
import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const SHELL_TIMEOUT_MS = 15_000;

/** Single-quoted for a shell. */
function quoted(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The words readline makes of `words` (the command's arguments): "a:b" is a, :, b; "--x=y" is --x, =, y. */
function readlineWords(words: readonly string[]): string[] {
  return words.flatMap((word, i) => {
    const parts = word.split(/([:=])/).filter((part) => part !== '');
    return parts.length === 0 || (i === words.length - 1 && word === '') ? [word] : parts;
  });
}

/**
 * What bash offers for `mcrctl WORDS...`, the last word being the one completed (sorted). Fails if the
 * completion writes anything to stderr: in a shell, it would land in the middle of the line typed.
 */
export function bashComplete(script: string, words: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const compWords = ['mcrctl', ...readlineWords(words)];
  const line = ['mcrctl', ...words].join(' ');
  const program = [
    script,
    `COMP_WORDS=(${compWords.map(quoted).join(' ')}); COMP_CWORD=${compWords.length - 1}`,
    `COMP_LINE=${quoted(line)}; COMP_POINT=${line.length}`,
    `_mcrctl; printf '%s\\n' "\${COMPREPLY[@]}"`,
  ].join('\n');
  const result = spawnSync('bash', ['-c', program], { encoding: 'utf8', env, timeout: SHELL_TIMEOUT_MS });
  if (result.error) throw result.error;
  if (result.status !== 0 || result.stderr !== '') throw new Error(`bash completion of "${line}" failed (exit ${result.status}): ${result.stderr}`);
  return result.stdout.split('\n').filter(Boolean).sort();
}

/** The zsh program that types the line into an interactive zsh and prints the matches. */
const ZSH_CAPTURE = path.join(__dirname, 'zsh-completion-capture.zsh');

/** How the zsh script is installed: sourced after compinit, or found in $fpath as _mcrctl. */
export type ZshInstall = 'source' | 'fpath';

/** What zsh offers for `line` (ending where the Tab is pressed), sorted. */
export function zshComplete(script: string, line: string, env: NodeJS.ProcessEnv = process.env, install: ZshInstall = 'source'): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-zsh-'));
  try {
    const file = path.join(dir, '_mcrctl');
    fs.writeFileSync(file, script);
    const output = execFileSync('zsh', ['-f', ZSH_CAPTURE, install === 'fpath' ? dir : file, line], { encoding: 'utf8', env, timeout: SHELL_TIMEOUT_MS });
    return [...output.matchAll(/<match>(.*?)<\/match>/g)].map((match) => match[1]).sort();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
