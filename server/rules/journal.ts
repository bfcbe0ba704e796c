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
 * Compaction runs beside the frames, not instead of them (docs/decisions/0048). Its task (writing a
 * snapshot of what the records built) is started between two frames, once every record of the
 * frames before has been acknowledged and before any later one is written: the journal's size then
 * is the cut, and what the task reads before its first await is what the records before the cut
 * built. Frames go on being written and acknowledged while the task runs. Once it succeeds, between
 * two frames, the journal is replaced by its tail, the frames after the cut: read back from the file,
 * written to a temporary file beside it (<journal>.tmp, which RuleStore.open removes when a crash
 * left one), synced, renamed over it, and the directory synced before the next frame, which goes to
 * the new file. A crash at any moment leaves the old snapshot and the whole journal, the new snapshot
 * and the whole journal (whose records up to the cut the reader skips as the snapshot's), or the new
 * snapshot and the tail. A task that fails changes nothing; a tail that cannot be written leaves the
 * whole journal, which goes on (with a warning); a directory that cannot be synced after the rename
 * makes every append fail until a restart, as a failed write that cannot be put back does.
 * One compaction at a time.
 */
import { promises as fs } from 'fs';
import type { FileHandle } from 'fs/promises';
import path from 'path';
import { crc32 } from 'zlib';

import { syncDirectory, temporaryFileFor, writeSynced } from '../files/atomic-file';
import { joinedByteLength, writeJoined } from '../files/joined-bytes';
import { gather } from '../gather';
import { logger } from '../log';

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
  // Written in place: the records straight into the frame (whose header length follows from the
  // payload's), not joined, encoded and concatenated (three copies of a frame of 50 rules).
  const length = joinedByteLength(records, '\n');
  const headerLength = String(length).length + 10; // "<length> <crc32 in 8 hex digits>\n"
  const frame = Buffer.allocUnsafe(headerLength + length + 1);
  const at = writeJoined(frame, headerLength, records, '\n');
  frame[at] = NEWLINE;
  const checksum = crc32(frame.subarray(headerLength, at)).toString(16).padStart(8, '0');
  frame.write(`${length} ${checksum}\n`, 0, 'latin1');
  return frame;
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
  private readonly log = logger('store');
  private handle: FileHandle | undefined;
  private queue: Pending[] = [];
  private writing: Promise<void> | undefined;
  /** Work to run between two frames, before the next one (compaction's start and end). */
  private gaps: Array<() => Promise<void>> = [];
  /** The compaction under way, if any (one at a time). */
  private compaction: Promise<boolean> | undefined;
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

  /**
   * Compacts beside the frames (see the file comment): calls `task` at the cut (between two frames,
   * after the `durable` callbacks of the last one; at once when no frame is being written), so what
   * it reads before its first await is the state of the records before the cut; then, once its
   * promise resolves, replaces the journal by the frames after the cut. Resolves to whether the
   * journal was replaced (false: the task failed, or the tail could not be written and the whole
   * journal goes on). Only one compaction at a time: while one is under way, resolves to false at once.
   */
  compact(task: () => Promise<void>): Promise<boolean> {
    if (this.compaction) return Promise.resolve(false);
    const compaction = this.runCompaction(task).finally(() => (this.compaction = undefined));
    this.compaction = compaction;
    return compaction;
  }

  /** Whether a compaction is under way. */
  get compacting(): boolean {
    return this.compaction !== undefined;
  }

  /** Resolves once everything queued is written (or failed), a compaction under way has ended, and the file is closed. */
  async close(): Promise<void> {
    while (this.writing || this.compaction) {
      await this.compaction;
      await this.writing;
    }
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private async runCompaction(task: () => Promise<void>): Promise<boolean> {
    const { cut, written } = await this.betweenFrames(async () => ({ cut: this.bytes, written: succeeds(task) }));
    // A task that fails has said why; the journal goes on as it is.
    if (!(await written)) return false;
    return this.betweenFrames(() => this.replaceWithTail(cut));
  }

  /** Runs `work` between two frames (before any frame still queued), kept from the frames until it settles. */
  private betweenFrames<T>(work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.gaps.push(() => work().then(resolve, reject));
      this.writing ??= this.writeAll();
    });
  }

  private async writeAll(): Promise<void> {
    try {
      while (this.queue.length > 0 || this.gaps.length > 0) {
        // Gaps first: under a steady stream of appends they would never come otherwise.
        const gap = this.gaps.shift();
        if (gap) {
          await gap();
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

  /**
   * Between two frames, once the snapshot of the records before `cut` is durable: the journal becomes
   * its frames after `cut`. Until the rename nothing is lost by a failure: the whole journal goes on
   * (its records up to the cut are skipped when read, the snapshot has them).
   */
  private async replaceWithTail(cut: number): Promise<boolean> {
    const temporary = temporaryFileFor(this.file);
    let tail: Buffer;
    try {
      tail = await readBytes(this.file, cut, this.bytes - cut);
      await writeSynced(temporary, tail, this.mode);
      await fs.rename(temporary, this.file);
    } catch (err) {
      await fs.rm(temporary, { force: true }).catch(() => undefined);
      this.log.warn(`rule store journal ${this.file}: could not be replaced by its records after the snapshot, it goes on whole (${(err as Error).message})`, {
        journalBytes: this.bytes,
        tailBytes: this.bytes - cut,
      });
      return false;
    }
    // The old file is gone from its name: appends go to the new one, opened again on the next frame.
    const old = this.handle;
    this.handle = undefined;
    this.bytes = tail.length;
    await old?.close().catch(() => undefined);
    try {
      await syncDirectory(path.dirname(this.file));
    } catch (err) {
      // A crash could bring back the old name, without what would be appended to the new file.
      this.broken = new Error(`rule store journal ${this.file} was replaced but its directory could not be synced (${(err as Error).message}): restart mcrd`);
      this.log.error(this.broken.message);
    }
    return true;
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

/** Starts `task` now (what it does before its first await is done when this returns); resolves to whether it succeeded. */
function succeeds(task: () => Promise<void>): Promise<boolean> {
  try {
    return task().then(
      () => true,
      () => false,
    );
  } catch {
    return Promise.resolve(false);
  }
}

/** `length` bytes of `file` from `position`. */
async function readBytes(file: string, position: number, length: number): Promise<Buffer> {
  const data = Buffer.alloc(length);
  if (length === 0) return data;
  const handle = await fs.open(file, 'r');
  try {
    let read = 0;
    while (read < length) {
      const { bytesRead } = await handle.read(data, read, length - read, position + read);
      if (bytesRead === 0) throw new Error(`${file} ends before byte ${position + length}`);
      read += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return data;
}
