/**
 * Every config file example in the docs parses and applies: the files in docs/examples/ and every
 * ```json5 block in docs/*.md and docs/reference/*.md. Each is read with mcrd's parser, applied to a
 * fresh rule store as mcrd applies it at start (a replace), and applied again, which must change
 * nothing. The real mcrd applies docs/examples/mcr.json5 in test/e2e/config-file.test.ts.
 */
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { parseConfig } from '../../server/config/config-file';
import { renderRulesJson5, rulesDocument } from '../../server/config/config-render';
import { RuleStore } from '../../server/rules/store';
import { DEFAULT_RULE_LIMITS } from '../../server/rules/validate';

const DOCS = path.join(__dirname, '..', '..', 'docs');

interface Example {
  /** Where it is: a file, or FILE:LINE of a fenced block. */
  where: string;
  text: string;
}

function examples(): Example[] {
  const found: Example[] = [];
  const examplesDir = path.join(DOCS, 'examples');
  for (const name of fs.readdirSync(examplesDir).filter((n) => n.endsWith('.json5')).sort()) {
    const file = path.join(examplesDir, name);
    found.push({ where: path.relative(DOCS, file), text: fs.readFileSync(file, 'utf8') });
  }
  for (const dir of [DOCS, path.join(DOCS, 'reference')]) {
    for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.md')).sort()) {
      const lines = fs.readFileSync(path.join(dir, name), 'utf8').split('\n');
      lines.forEach((line, index) => {
        if (line.trim() !== '```json5') return;
        const end = lines.findIndex((l, i) => i > index && l.trim() === '```');
        if (end < 0) throw new Error(`${name}:${index + 1}: a json5 block that never ends`);
        found.push({ where: `${path.relative(DOCS, path.join(dir, name))}:${index + 1}`, text: lines.slice(index + 1, end).join('\n') });
      });
    }
  }
  return found;
}

describe('config examples in the docs', () => {
  const all = examples();
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-docs-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds the example file and the reference\'s example', () => {
    const places = all.map((e) => e.where);
    expect(places).to.include('examples/mcr.json5');
    expect(places.some((p) => p.startsWith('reference/config.md:'))).to.equal(true);
  });

  for (const example of all) {
    it(`${example.where} parses, applies, and applies again as a no-op`, async () => {
      const config = parseConfig(example.text, example.where);
      expect(config.rules, 'the example has rules').to.not.equal(undefined);
      const store = await RuleStore.open(path.join(dir, 'state'), DEFAULT_RULE_LIMITS);
      const first = await store.apply(config.rules!, { replace: true }, 1n);
      expect(first.added).to.have.length(config.rules!.length);
      const again = await store.apply(config.rules!, { replace: true }, 2n);
      expect(again.unchanged).to.have.length(config.rules!.length);
      expect(again.generation).to.equal(first.generation);
      // What config save would write reads back as the same rules.
      const saved = parseConfig(renderRulesJson5(rulesDocument(store.list())), 'saved');
      const reapplied = await store.apply(saved.rules!, { replace: true }, 3n);
      expect(reapplied.generation).to.equal(first.generation);
    });
  }
});
