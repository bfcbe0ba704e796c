/**
 * The shell commands a Markdown document shows, as a reader would type them: every line of a fenced
 * `sh`/`bash`/`shell` block (continuation lines joined, comments removed), or, in a block that shows a
 * session (`$ command` followed by its output), only the lines after `$ `.
 */

export interface DocCommand {
  /** The document, as given. */
  file: string;
  /** 1-based line of the command's first line. */
  line: number;
  text: string;
}

const SHELL_FENCE = /^```(sh|bash|shell|console)\s*$/;
const FENCE = /^```/;
const PROMPT = /^\$ /;

/** `line` without a trailing `# comment` (a # that starts a word outside quotes). */
export function withoutComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"') i++;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '\\') {
      i++;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) {
      return line.slice(0, i).trimEnd();
    }
  }
  return line.trimEnd();
}

/** The command lines of one fenced block (lines[0] is its first line, numbered `firstLine`). */
function blockCommands(file: string, lines: readonly string[], firstLine: number): DocCommand[] {
  const session = lines.some((line) => PROMPT.test(line));
  const commands: DocCommand[] = [];
  let pending: { line: number; parts: string[] } | null = null;
  lines.forEach((raw, i) => {
    let text: string;
    if (pending) text = raw.trim();
    else if (session) {
      if (!PROMPT.test(raw)) return;
      text = raw.replace(PROMPT, '');
    } else text = raw;
    text = withoutComment(text);
    if (!pending && text.trim() === '') return;
    const current: { line: number; parts: string[] } = pending ?? { line: firstLine + i, parts: [] };
    if (text.endsWith('\\')) {
      current.parts.push(text.slice(0, -1).trim());
      pending = current;
      return;
    }
    current.parts.push(text.trim());
    commands.push({ file, line: current.line, text: current.parts.filter(Boolean).join(' ') });
    pending = null;
  });
  return commands;
}

/** Every shell command `markdown` shows, in document order. */
export function shellCommands(markdown: string, file: string): DocCommand[] {
  const lines = markdown.split('\n');
  const commands: DocCommand[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!SHELL_FENCE.test(lines[i])) {
      // Skip over any other fenced block whole, so that its lines are never read as a fence.
      if (FENCE.test(lines[i])) {
        const end = lines.findIndex((line, j) => j > i && FENCE.test(line));
        i = end === -1 ? lines.length : end;
      }
      continue;
    }
    const end = lines.findIndex((line, j) => j > i && FENCE.test(line));
    const stop = end === -1 ? lines.length : end;
    commands.push(...blockCommands(file, lines.slice(i + 1, stop), i + 2));
    i = stop;
  }
  return commands;
}
