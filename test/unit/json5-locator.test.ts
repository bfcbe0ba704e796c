/** Json5Locations: the line and column of every value of a JSON5 text, by JSON path. */
import { expect } from 'chai';
import JSON5 from 'json5';

import { elementPath, Json5Locations, memberPath, SourcePosition } from '../../server/config/json5-locator';

/** The line:column of the first occurrence of `needle` in `text` (1-based, as JSON5 counts). */
function find(text: string, needle: string, after = 0): SourcePosition {
  const offset = text.indexOf(needle, after);
  if (offset < 0) throw new Error(`${needle} is not in the text`);
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

function scan(text: string): Json5Locations {
  JSON5.parse(text); // the locator's precondition, and a check that the test text is valid
  return Json5Locations.scan(text);
}

const TRICKY = `// a comment with { braces } and [brackets], "quotes" and key: value
{
  /* a block comment
     rules: [ { port: 1 } ] */
  name: "a string with } and ] and // no comment",
  'single': 'it\\'s "quoted" {',
  "dotted.key": 1,
  rules: [
    {
      input: { interface: "eth0", group: "239.1.1.1", port: 5000, },
      outputs: [
        { port: 0x10, ttl: +4, }, // trailing comma, hex, plus sign
        { port: .5e1 },
      ],
    },
    [1, [2, 3,], Infinity, -Infinity, NaN, null, true,],
  ],
  multi: "first line \\
second line",
  after: 7,
  $id_2: 'x',
}
`;

describe('JSON5 locator', () => {
  const locations = scan(TRICKY);

  it('places object members at their keys, past comments and strings holding braces', () => {
    expect(locations.at('name')).to.deep.equal(find(TRICKY, 'name:'));
    expect(locations.at('rules')).to.deep.equal(find(TRICKY, 'rules: [\n'));
    expect(locations.at('rules[0].input')).to.deep.equal(find(TRICKY, 'input:'));
    expect(locations.at('rules[0].input.port')).to.deep.equal(find(TRICKY, 'port: 5000'));
    expect(locations.at('rules[0].outputs[0].ttl')).to.deep.equal(find(TRICKY, 'ttl: +4'));
    expect(locations.at('rules[0].outputs[1].port')).to.deep.equal(find(TRICKY, 'port: .5e1'));
  });

  it('places array elements at their first character, through trailing commas', () => {
    expect(locations.at('rules[0]')).to.deep.equal(find(TRICKY, '{\n      input'));
    expect(locations.at('rules[0].outputs[1]')).to.deep.equal(find(TRICKY, '{ port: .5e1'));
    expect(locations.at('rules[1]')).to.deep.equal(find(TRICKY, '[1, [2'));
    expect(locations.at('rules[1][1][1]')).to.deep.equal(find(TRICKY, '3,]'));
    expect(locations.at('rules[1][6]')).to.deep.equal(find(TRICKY, 'true'));
    expect(locations.at('rules[1][7]')).to.equal(undefined);
  });

  it('reads quoted keys, escapes and identifiers with $ and _', () => {
    expect(locations.at('single')).to.deep.equal(find(TRICKY, "'single'"));
    expect(locations.at(memberPath('', 'dotted.key'))).to.deep.equal(find(TRICKY, '"dotted.key"'));
    expect(memberPath('', 'dotted.key')).to.equal('["dotted.key"]');
    expect(locations.at('$id_2')).to.deep.equal(find(TRICKY, '$id_2'));
  });

  it('counts lines inside multi-line strings', () => {
    expect(locations.at('after')).to.deep.equal(find(TRICKY, 'after:'));
  });

  it('places a missing value at its nearest ancestor', () => {
    expect(locations.locate('rules[0].input.source')).to.deep.equal(find(TRICKY, 'input:'));
    expect(locations.locate('rules[0].outputs[5].port')).to.deep.equal(find(TRICKY, 'outputs:'));
    expect(locations.locate('nothing.here')).to.deep.equal(find(TRICKY, '{\n  /*'));
  });

  it('agrees with JSON5 about where a value is', () => {
    // Put an invalid character where the locator says each scalar array element is: JSON5's
    // syntax error must be reported at that same line and column.
    for (const path of ['rules[1][0]', 'rules[1][1][0]', 'rules[1][2]', 'rules[1][5]', 'rules[1][6]']) {
      const at = locations.at(path)!;
      const lines = TRICKY.split('\n');
      const line = lines[at.line - 1];
      lines[at.line - 1] = line.slice(0, at.column - 1) + '@' + line.slice(at.column - 1);
      const error = (() => {
        try {
          JSON5.parse(lines.join('\n'));
        } catch (err) {
          return err as { lineNumber: number; columnNumber: number };
        }
        return expect.fail(`no syntax error with @ at ${path}`);
      })();
      expect({ line: error.lineNumber, column: error.columnNumber }, path).to.deep.equal(at);
    }
  });

  it('reports keys given twice, at the later one', () => {
    const text = '{\n  a: 1,\n  b: { c: 1,\n    c: 2 },\n  a: 3,\n}';
    const duplicates = scan(text).duplicates();
    expect(duplicates).to.deep.equal([
      { path: 'b.c', position: { line: 4, column: 5 }, first: { line: 3, column: 8 } },
      { path: 'a', position: { line: 5, column: 3 }, first: { line: 2, column: 3 } },
    ]);
  });

  it('handles CRLF line ends and a top-level array', () => {
    const text = '[\r\n  1,\r\n  { x: 2 },\r\n]\r\n';
    const crlf = scan(text);
    expect(crlf.at(elementPath('', 1))).to.deep.equal({ line: 3, column: 3 });
    expect(crlf.at('[1].x')).to.deep.equal({ line: 3, column: 5 });
  });

  it('refuses a text that is not JSON5', () => {
    expect(() => Json5Locations.scan('{ a: 1 ')).to.throw(/not valid JSON5/);
  });
});
