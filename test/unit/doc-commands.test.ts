/** Reading the shell commands out of Markdown, as test/e2e/docs-commands runs them. */
import { expect } from 'chai';

import { shellCommands, withoutComment } from '../support/doc-commands';

describe('doc commands: the shell commands a document shows', function () {
  it('takes every line of sh/bash blocks, joins continuations and drops comments, and nothing of other blocks', function () {
    const markdown = [
      'Intro with `mcrctl inline` code.',
      '```sh',
      'npm ci                      # builds everything',
      '# a comment line',
      '',
      'mcrctl rule add --name a \\',
      '    --out eth1 239.9.9.9:6000   # the output',
      '```',
      '```',
      'mcrctl not-a-command',
      '```',
      '```json5',
      '{ rules: [] }',
      '```',
      '```bash',
      "echo '# not a comment' \"a # b\" x#y",
      '```',
    ].join('\n');
    expect(shellCommands(markdown, 'X.md')).to.deep.equal([
      { file: 'X.md', line: 3, text: 'npm ci' },
      { file: 'X.md', line: 6, text: 'mcrctl rule add --name a --out eth1 239.9.9.9:6000' },
      { file: 'X.md', line: 16, text: "echo '# not a comment' \"a # b\" x#y" },
    ]);
  });

  it('takes only the $ lines of a block that shows a session with its output', function () {
    const markdown = ['```sh', '$ mcrctl events --kind interface', '2025-01-02 15:04:05  interface  eth0 up', '$ mcrctl rule list', 'ID  NAME', '```'].join('\n');
    expect(shellCommands(markdown, 'g.md').map((c) => c.text)).to.deep.equal(['mcrctl events --kind interface', 'mcrctl rule list']);
  });

  it('keeps a # inside a word or quotes', function () {
    expect(withoutComment('a#b "c # d" \'e # f\' # g')).to.equal('a#b "c # d" \'e # f\'');
    expect(withoutComment('echo \\# h')).to.equal('echo \\# h');
  });
});
