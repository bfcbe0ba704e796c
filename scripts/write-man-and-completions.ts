/**
 * Writes the files generated from the command lines (run by `npm run build`, after tsc; the output is
 * not committed):
 *
 *   man/mcrd.1, man/mcrctl.1          man pages (package.json "man": npm install -g links them)
 *   completions/mcrctl.bash           `mcrctl completion bash`
 *   completions/_mcrctl               `mcrctl completion zsh` (named as zsh's $fpath expects)
 *
 *   node -r ts-node/register/transpile-only scripts/write-man-and-completions.ts [ROOT]
 *
 * ROOT (default: the checkout) is where man/ and completions/ go.
 */
import fs from 'fs';
import path from 'path';

import { completionScript } from '../clients/mcrctl/completion';
import { programDefinition } from '../clients/mcrctl/program';
import { mcrctlManPage, mcrdManPage } from './man/pages';
import { renderManPage } from './man/roff';

export interface GeneratedFile {
  /** Relative to the package root. */
  path: string;
  text: string;
}

export function generatedFiles(): GeneratedFile[] {
  return [
    { path: 'man/mcrd.1', text: renderManPage(mcrdManPage()) },
    { path: 'man/mcrctl.1', text: renderManPage(mcrctlManPage()) },
    { path: 'completions/mcrctl.bash', text: completionScript('bash', programDefinition()) },
    { path: 'completions/_mcrctl', text: completionScript('zsh', programDefinition()) },
  ];
}

/** Writes every generated file below `root`, replacing what an earlier build wrote. */
export function writeGeneratedFiles(root: string): string[] {
  return generatedFiles().map((file) => {
    const target = path.join(root, file.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, file.text, { mode: 0o644 });
    return target;
  });
}

if (require.main === module) {
  const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..'));
  for (const written of writeGeneratedFiles(root)) process.stdout.write(`wrote ${path.relative(process.cwd(), written) || written}\n`);
}
