/** The access tokens mcrd is started with (--token-file, --read-only-token-file): what they are and how they are read. */
import fs from 'fs';

export interface AccessTokens {
  /** Allows every method. */
  full?: string;
  /** Allows every method but those that change rules or settings (WRITE_METHODS in server/api/access.ts). */
  readOnly?: string;
}

/** Tokens shorter than this are refused at start: guessable. */
export const MIN_TOKEN_LENGTH = 16;

/** Reads a token file (first line, surrounding whitespace removed); throws a message naming the file. */
export function readTokenFile(file: string, what: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the ${what} file ${file}: ${(err as Error).message}`);
  }
  const token = text.split('\n')[0].trim();
  if (token.length < MIN_TOKEN_LENGTH) throw new Error(`the ${what} in ${file} is shorter than ${MIN_TOKEN_LENGTH} characters`);
  if (/\s/.test(token)) throw new Error(`the ${what} in ${file} contains whitespace`);
  return token;
}
