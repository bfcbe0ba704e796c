/**
 * An append-only journal of records (single-line strings), written in frames:
 *
 *   <length> <crc32 of the payload, 8 hex digits>\n<payload: the records, one per line>\n
 *
 * Group commit (docs/decisions/0023): records appended while a frame is being written and synced
 * wait, and all of them go out in the next frame with one fdatasync; a frame gathers the records on
 * their way first (server/gather.ts). A record is acknowledged (its `durable` callback, in order)
 * only once its frame is on disk. Because a frame is synced before the next one is written, only the
 * last frame can be torn by a crash: on open a bad last frame is cut off, a bad frame with good data
 * after it is corruption.
 *
 * A compaction task (writing a snapshot of what the records built) runs between two frames, with no
 * frame in flight; once it succeeds the journal is emptied.
 */
import { promises as fs } from 'fs';
import type { FileHandle } from 'fs/promises';
import path from 'path';
import { crc32 } from 'zlib';

import { gather } from '../gather';

/** What the journal does once a record is on disk, or could not be written. */
export interface AppendCallbacks {
  durable(): void;
  failed(err: Error): void;
}

/** The journal cannot be read as it is (not a torn end: that is cut off). */
export class JournalProblem extends Error {}

export interface JournalContents {
  /** Every record of every good frame, in order. */
  records: string[];
  /** Bytes of the good frames (where the journal goes on). */
  goodBytes: number;
  /** Bytes after them: a torn frame a crash left, to be cut off. */
  tornBytes: number;
}

/** Longest frame header: 10 digits of length, a space, 8 hex digits, a newline. */
const MAX_HEADER = 20;
const NEWLINE = 0x0a;
const HEADER = /^(0|[1-9][0-9]{0,9}) ([0-9a-f]{8})$/;

/** One frame holding `records` (which must not contain a newline). */
export function encodeFrame(records: readonly string[]): Buffer {
  const payload = Buffer.from(records.join('\n'), 'utf8');
  const header = `${payload.length} ${crc32(payload).toString(16).padStart(8, '0')}\n`;
  return Buffer.concat([Buffer.from(header, 'latin1'), payload, Buffer.from('\n', 'latin1')]);
}

/** The frames of a journal's bytes; throws JournalProblem for damage before its last frame. */
export function decodeJournal(data: Buffer): JournalContents {
  const records: string[] = [];
  let offset = 0;
  const torn = (): JournalContents => ({ records, goodBytes: offset, tornBytes: data.length - offset });
  while (offset < data.length) {
    const end = data.indexOf(NEWLINE, offset);
    const match = end >= 0 && end - offset <= MAX_HEADER ? HEADER.exec(data.toString('latin1', offset, end)) : null;
    if (!match) {
      // A header cut short by a crash (or blocks of zeros a power cut left) reaches the end unbroken.
      if (end < 0) return torn();
      throw new JournalProblem(`frame at byte ${offset}: no valid header`);
    }
    const length = Number(match[1]);
    const start = end + 1;
    const frameEnd = start + length + 1;
    if (frameEnd > data.length) return torn();
    const payload = data.subarray(start, start + length);
    const checksum = crc32(payload).toString(16).padStart(8, '0');
    if (data[frameEnd - 1] !== NEWLINE || checksum !== match[2]) {
      if (frameEnd === data.length) return torn();
      throw new JournalProblem(`frame at byte ${offset}: ${checksum !== match[2] ? 'checksum does not match' : 'not closed by a newline'}, and frames follow it`);
    }
    for (const record of payload.toString('utf8').split('\n')) records.push(record);
    offset = frameEnd;
  }
  return torn();
}

/** Reads the journal in `file` (none: empty). A torn end is reported, not cut off: see Journal.open. */
export async function readJournal(file: string): Promise<JournalContents> {
  let data: Buffer;
  try {
    data = await fs.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], goodBytes: 0, tornBytes: 0 };
    throw err;
  }
  return decodeJournal(data);
}

interface Pending extends AppendCallbacks {
  record: string;
}

export class Journal {
  private handle: FileHandle | undefined;
  private queue: Pending[] = [];
  private writing: Promise<void> | undefined;
  private compaction: (() => Promise<void>) | undefined;
  /** Records in the last frame: how long the next one gathers (server/gather.ts). */
  private lastFrame = 0;
  /** Set once the journal could not be put back after a failed write: every append fails with it. */
  private broken: Error | undefined;

  constructor(
    readonly file: string,
    /** Bytes in the file (its good frames). */
    private bytes: number,
    private readonly mode: number,
  ) {}

  /** Bytes of the journal on disk. */
  get size(): number {
    return this.bytes;
  }

  /** Cuts a torn end off `file` (what readJournal called tornBytes), so appends follow good frames. */
  static async cutTornEnd(file: string, goodBytes: number): Promise<void> {
    const handle = await fs.open(file, 'r+');
    try {
      await handle.truncate(goodBytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** Queues `record` for the next frame; `callbacks` are called in order once it is durable or failed. */
  append(record: string, callbacks: AppendCallbacks): void {
    if (this.broken) {
      callbacks.failed(this.broken);
      return;
    }
    this.queue.push({ record, ...callbacks });
    this.writing ??= this.writeAll();
  }

  /** Runs `task` between two frames (once); the journal is emptied when it succeeds. */
  compact(task: () => Promise<void>): void {
    this.compaction = task;
    this.writing ??= this.writeAll();
  }

  /** Resolves once everything queued is written (or failed) and the file is closed. */
  async close(): Promise<void> {
    while (this.writing) await this.writing;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private async writeAll(): Promise<void> {
    try {
      while (this.queue.length > 0 || this.compaction) {
        // A compaction first: under a steady stream of appends it would never come otherwise.
        if (this.compaction) {
          await this.runCompaction();
          continue;
        }
        await gather(this.lastFrame);
        this.lastFrame = this.queue.length;
        await this.writeFrame(this.queue.splice(0));
      }
    } finally {
      this.writing = undefined;
    }
  }

  private async writeFrame(batch: Pending[]): Promise<void> {
    const frame = encodeFrame(batch.map((p) => p.record));
    try {
      const handle = await this.open();
      let written = 0;
      while (written < frame.length) written += (await handle.write(frame, written, frame.length - written)).bytesWritten;
      await handle.datasync();
    } catch (err) {
      await this.putBack();
      // What was queued meanwhile was planned on top of this batch: it fails with it.
      for (const pending of [...batch, ...this.queue.splice(0)]) pending.failed(err as Error);
      return;
    }
    this.bytes += frame.length;
    for (const pending of batch) pending.durable();
  }

  /** After a failed write: the file back to its good frames, or the journal refuses every append. */
  private async putBack(): Promise<void> {
    if (!this.handle) return;
    try {
      await this.handle.truncate(this.bytes);
    } catch (err) {
      this.broken = new Error(`rule store journal ${this.file} could not be put back after a failed write (${(err as Error).message}): restart mcrd`);
    }
  }

  private async runCompaction(): Promise<void> {
    const task = this.compaction!;
    this.compaction = undefined;
    // A task that fails has said why; the journal goes on as it is. A journal not emptied after its
    // snapshot is written holds only records the snapshot has: they are skipped when read.
    if (!(await task().then(() => true, () => false))) return;
    try {
      const handle = await this.open();
      await handle.truncate(0);
      await handle.sync();
      this.bytes = 0;
    } catch {
      // Appends go on after the records the snapshot has.
    }
  }

  /** The file, opened for appending on first use (created 0600 with its directory entry synced). */
  private async open(): Promise<FileHandle> {
    if (this.handle) return this.handle;
    const created = await fs.stat(this.file).then(
      () => false,
      () => true,
    );
    const handle = await fs.open(this.file, 'a', this.mode);
    if (created) {
      await handle.chmod(this.mode);
      await syncDirectory(path.dirname(this.file));
    }
    this.handle = handle;
    return handle;
  }
}

/** fsync of a directory, so an entry made in it survives a crash. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await fs.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
