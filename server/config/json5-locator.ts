/**
 * Where each value of a JSON5 document sits in its text. JSON5.parse gives the values but not their
 * places; this scan of the source (comments, strings in either quote with escapes, unquoted keys,
 * trailing commas) records the place of every object member (its key) and every array element, by
 * JSON path, e.g. `rules[2].outputs[0].port`, so that an error about a value can name its line.
 *
 * The text must already have parsed with JSON5.parse: the scan only follows the structure and
 * throws on anything else. Lines and columns are counted as JSON5's own syntax errors count them:
 * a line ends at "\n"; the column is the 1-based UTF-16 offset within the line.
 */
import JSON5 from 'json5';

export interface SourcePosition {
  line: number;
  column: number;
}

/** A key given twice in one object: JSON5.parse keeps the last value silently. */
export interface DuplicateKey {
  path: string;
  /** The later occurrence. */
  position: SourcePosition;
  first: SourcePosition;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** The path of member `key` of the value at `parent` ("" is the document): `a.b`, or `a["x y"]`. */
export function memberPath(parent: string, key: string): string {
  if (!IDENTIFIER.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

/** The path of element `index` of the array at `parent`: `a[3]`. */
export function elementPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

/** The path one level up, for paths made of identifiers and indices ("" above the top). */
function simpleParent(path: string): string {
  const tail = /(?:\.[A-Za-z_$][A-Za-z0-9_$]*|\[\d+\])$/.exec(path);
  if (tail) return path.slice(0, tail.index);
  return '';
}

export class Json5Locations {
  private constructor(
    private readonly lineStarts: readonly number[],
    /** Path -> offset of the member's key or of the element. */
    private readonly offsets: ReadonlyMap<string, number>,
    /** Path -> parent path, for every recorded path. */
    private readonly parents: ReadonlyMap<string, string>,
    private readonly duplicateOffsets: ReadonlyArray<{ path: string; offset: number; first: number }>,
  ) {}

  /** Scans `text`, which must be valid JSON5 (throws an Error otherwise). */
  static scan(text: string): Json5Locations {
    const scanner = new Scanner(text);
    scanner.document();
    const lineStarts = [0];
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
    return new Json5Locations(lineStarts, scanner.offsets, scanner.parents, scanner.duplicates);
  }

  /** Where the value at `path` is, or undefined when the document has no such value. */
  at(path: string): SourcePosition | undefined {
    const offset = this.offsets.get(path);
    return offset === undefined ? undefined : this.position(offset);
  }

  /**
   * Where the value at `path` is or, when the document does not have it (a missing key), where its
   * nearest ancestor that it has is.
   */
  locate(path: string): SourcePosition {
    for (let at = path; ; at = this.parents.get(at) ?? simpleParent(at)) {
      const offset = this.offsets.get(at);
      if (offset !== undefined) return this.position(offset);
      if (at === '') return { line: 1, column: 1 };
    }
  }

  /** Keys given twice in one object, in the order of the text. */
  duplicates(): DuplicateKey[] {
    return this.duplicateOffsets.map((d) => ({ path: d.path, position: this.position(d.offset), first: this.position(d.first) }));
  }

  private position(offset: number): SourcePosition {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.lineStarts[middle] <= offset) low = middle;
      else high = middle - 1;
    }
    return { line: low + 1, column: offset - this.lineStarts[low] + 1 };
  }
}

/** A recursive descent over the structure of a valid JSON5 text. */
class Scanner {
  readonly offsets = new Map<string, number>();
  readonly parents = new Map<string, string>();
  readonly duplicates: Array<{ path: string; offset: number; first: number }> = [];
  private pos = 0;

  constructor(private readonly text: string) {}

  document(): void {
    this.trivia();
    this.offsets.set('', this.pos);
    this.value('');
    this.trivia();
    if (this.pos < this.text.length) this.fail('text after the document');
  }

  private record(path: string, parent: string, offset: number): void {
    const first = this.offsets.get(path);
    if (first !== undefined) this.duplicates.push({ path, offset, first });
    this.offsets.set(path, offset);
    this.parents.set(path, parent);
  }

  private value(path: string): void {
    const c = this.text[this.pos];
    if (c === '{') this.object(path);
    else if (c === '[') this.array(path);
    else if (c === '"' || c === "'") this.string();
    else this.scalar();
  }

  private object(path: string): void {
    this.pos++; // {
    for (;;) {
      this.trivia();
      if (this.take('}')) return;
      const keyStart = this.pos;
      const child = memberPath(path, this.key());
      this.record(child, path, keyStart);
      this.trivia();
      this.expect(':');
      this.trivia();
      this.value(child);
      this.trivia();
      if (this.take(',')) continue;
      this.expect('}');
      return;
    }
  }

  private array(path: string): void {
    this.pos++; // [
    for (let index = 0; ; index++) {
      this.trivia();
      if (this.take(']')) return;
      const child = elementPath(path, index);
      this.record(child, path, this.pos);
      this.value(child);
      this.trivia();
      if (this.take(',')) continue;
      this.expect(']');
      return;
    }
  }

  /** A member name: a string in either quote, or an identifier (which may hold \uXXXX escapes). */
  private key(): string {
    const start = this.pos;
    const c = this.text[this.pos];
    if (c === '"' || c === "'") {
      this.string();
      return JSON5.parse(this.text.slice(start, this.pos)) as string;
    }
    while (this.pos < this.text.length && !/[\s:/]/.test(this.text[this.pos])) this.pos++;
    if (this.pos === start) this.fail('a key');
    return this.text.slice(start, this.pos).replace(/\\u([0-9a-fA-F]{4})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }

  /** Skips a string, from its opening quote past its closing one. */
  private string(): void {
    const quote = this.text[this.pos++];
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c === '\\') this.pos += 2; // the escaped character, or the first of an escaped line break
      else if (c === quote) {
        this.pos++;
        return;
      } else this.pos++;
    }
    this.fail('the end of a string');
  }

  /** Skips a number, true, false or null: no such token holds a delimiter, space or slash. */
  private scalar(): void {
    const start = this.pos;
    while (this.pos < this.text.length && !/[\s,\]}/]/.test(this.text[this.pos])) this.pos++;
    if (this.pos === start) this.fail('a value');
  }

  /** Skips white space and comments. */
  private trivia(): void {
    for (;;) {
      const c = this.text[this.pos];
      if (c !== undefined && /\s/.test(c)) {
        this.pos++;
      } else if (this.text.startsWith('//', this.pos)) {
        while (this.pos < this.text.length && !/[\n\r\u2028\u2029]/.test(this.text[this.pos])) this.pos++;
      } else if (this.text.startsWith('/*', this.pos)) {
        const end = this.text.indexOf('*/', this.pos + 2);
        if (end < 0) this.fail('the end of a comment');
        this.pos = end + 2;
      } else {
        return;
      }
    }
  }

  private take(c: string): boolean {
    if (this.text[this.pos] !== c) return false;
    this.pos++;
    return true;
  }

  private expect(c: string): void {
    if (!this.take(c)) this.fail(`"${c}"`);
  }

  private fail(expected: string): never {
    throw new Error(`not valid JSON5: expected ${expected} at offset ${this.pos} (parse the text with JSON5.parse first)`);
  }
}
