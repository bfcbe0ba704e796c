/**
 * Replacing a file so that a crash at any moment leaves either the old or the new content, never a
 * mix: write a temporary file beside it, fsync it, rename it over the target, fsync the directory.
 */
import { promises as fs } from 'fs';
import path from 'path';

/** The temporary file writeFileAtomic uses for `file`. */
export function temporaryFileFor(file: string): string {
  return `${file}.tmp`;
}

/**
 * Writes `data` to `file` atomically with the given mode. Resolves once the new content is durable;
 * rejects (with the old content still in place, unless the rename already happened and only the
 * directory fsync failed) otherwise.
 */
export async function writeFileAtomic(file: string, data: string, mode: number): Promise<void> {
  const temporary = temporaryFileFor(file);
  const handle = await fs.open(temporary, 'w', mode);
  try {
    try {
      await handle.chmod(mode); // an existing temporary file keeps its old mode through open()
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, file);
  } catch (err) {
    await fs.rm(temporary, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncDirectory(path.dirname(file));
}

/** fsync of a directory, so a rename in it survives a crash. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await fs.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes a temporary file a crash left behind; anything else in its place is left alone. */
export async function removeStaleTemporary(file: string): Promise<void> {
  const temporary = temporaryFileFor(file);
  const stat = await fs.lstat(temporary).catch(() => undefined);
  if (stat?.isFile()) await fs.unlink(temporary);
}
