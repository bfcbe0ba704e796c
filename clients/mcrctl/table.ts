/**
 * The one text layout of mcrctl: aligned tables (renderTable) and aligned "Key: value" blocks
 * (renderFields). Every command's text output goes through these.
 */

export interface Column {
  header: string;
  /** Numbers read best right-aligned; default left. */
  align?: 'left' | 'right';
}

const GAP = '  ';

/** Display width of a cell line (code points; mcrctl prints no wide characters of its own). */
function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, size - width(text)));
  return align === 'right' ? fill + text : text + fill;
}

/**
 * Rows under a header line, each column as wide as its widest cell, separated by two spaces, lines
 * without trailing blanks. A cell containing newlines spans several lines (one output per line, say);
 * the row's other cells are blank on the extra lines. Ends with a newline.
 */
export function renderTable(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>): string {
  const table = [columns.map((c) => [c.header]), ...rows.map((row) => columns.map((_, i) => (row[i] ?? '').split('\n')))];
  const widths = columns.map((_, i) => Math.max(...table.map((row) => Math.max(...row[i].map(width)))));
  const lines: string[] = [];
  for (const row of table) {
    const height = Math.max(...row.map((cell) => cell.length));
    for (let line = 0; line < height; line++) {
      const cells = row.map((cell, i) => pad(cell[line] ?? '', widths[i], columns[i].align ?? 'left'));
      lines.push(cells.join(GAP).trimEnd());
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * "Key:  value" lines with the values aligned, indented by `indent`. A multi-line value continues
 * under the first line of the value. Ends with a newline.
 */
export function renderFields(fields: ReadonlyArray<readonly [string, string]>, indent = ''): string {
  const keyWidth = Math.max(0, ...fields.map(([key]) => width(key) + 1));
  const lines: string[] = [];
  for (const [key, value] of fields) {
    const [first, ...rest] = value.split('\n');
    lines.push(`${indent}${pad(`${key}:`, keyWidth, 'left')}${GAP}${first}`.trimEnd());
    for (const more of rest) lines.push(`${indent}${' '.repeat(keyWidth)}${GAP}${more}`.trimEnd());
  }
  return lines.join('\n') + '\n';
}
