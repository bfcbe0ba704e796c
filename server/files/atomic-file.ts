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
export async function writeFileAtomic(file: string, data: string | Buffer, mode: number): Promise<void> {
  const temporary = temporaryFileFor(file);
  try {
    await writeSynced(temporary, data, mode);
    await fs.rename(temporary, file);
  } catch (err) {
    await fs.rm(temporary, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncDirectory(path.dirname(file));
}

/** `file` holding `data` (replaced if it exists), with mode `mode`, synced. */
export async function writeSynced(file: string, data: string | Buffer, mode: number): Promise<void> {
  const handle = await fs.open(file, 'w', mode);
  try {
    await handle.chmod(mode); // an existing file keeps its old mode through open()
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync of a directory, so an entry made (or renamed) in it survives a crash. */
export async function syncDirectory(directory: string): Promise<void> {
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
