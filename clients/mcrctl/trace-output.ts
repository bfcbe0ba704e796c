/**
 * Where the records of `mcrctl trace` and `trace show` go: readable lines or JSON lines on stdout,
 * or a pcapng capture on stdout or in a file (-w). A file is opened before the trace is enabled, so
 * that a path that cannot be written fails before anything is traced; the capture's header is
 * written by begin(), once the trace's settings (its snap length) are known.
 */
import fs from 'fs';

import { TraceRecord, TraceStatus } from '../../gen/mcr/v1/trace';
import { CLIENT_VERSION } from '../lib/version';
import { LINKTYPE_ETHERNET, PcapngStream } from './pcapng';
import { traceComment, traceLine } from './trace-view';

/** Where a pcapng capture goes: stdout (for `| wireshark -k -i -`) or a file. */
export type PcapDestination = { to: 'stdout' } | { to: 'file'; path: string };

/** How records are shown. */
export type TraceFormat = { kind: 'lines' } | { kind: 'json' } | { kind: 'pcapng'; destination: PcapDestination };

/** Receives a trace's records, in order. */
export interface TraceOutput {
  /** Writes what comes before the records (a capture's header); called once, before record(). */
  begin(subject: CaptureSubject): void;
  record(record: TraceRecord): void;
  /** Closes a file; nothing is written afterwards. Idempotent. */
  close(): void;
}

/** What a TraceOutput writes through. */
export interface TraceStdout {
  write(text: string): void;
  writeBytes(bytes: Uint8Array): void;
}

/** The trace a capture is of, for its interface description. */
export interface CaptureSubject {
  status: TraceStatus;
  /** The rule's input interface, when known (the rule may be gone). */
  inputInterface?: string;
}

/** A file opened for writing, written synchronously, so that every record is on disk once written. */
class FileBytes {
  private fd: number | undefined;

  constructor(private readonly path: string) {
    try {
      this.fd = fs.openSync(path, 'w', 0o644);
    } catch (err) {
      throw new Error(`cannot write the capture to ${path}: ${(err as Error).message}`);
    }
  }

  write(bytes: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`the capture file ${this.path} is already closed`);
    for (let offset = 0; offset < bytes.length; ) offset += fs.writeSync(this.fd, bytes, offset);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** A pcapng capture: one interface for the trace, one packet per record with its verdict as comment. */
class CaptureOutput implements TraceOutput {
  private readonly file?: FileBytes;
  private capture?: PcapngStream;

  /** Opens (creates or truncates) the file now, if the destination is one. */
  constructor(destination: PcapDestination, private readonly stdout: TraceStdout) {
    if (destination.to === 'file') this.file = new FileBytes(destination.path);
  }

  begin({ status, inputInterface }: CaptureSubject): void {
    const write = (bytes: Uint8Array) => (this.file ? this.file.write(bytes) : this.stdout.writeBytes(bytes));
    this.capture = PcapngStream.open(
      write,
      { application: `mcrctl ${CLIENT_VERSION}` },
      { linkType: LINKTYPE_ETHERNET, snapLength: status.snapLength, name: inputInterface, description: `mcr trace of rule ${status.ruleId}` },
    );
  }

  record(record: TraceRecord): void {
    if (this.capture === undefined) throw new Error('a trace record came before the capture was begun');
    this.capture.packet({
      timestampNanos: record.timestampUnixNanos,
      data: record.frame,
      // A frame_length below the bytes captured would be a malformed record: never claim less.
      originalLength: Math.max(record.frameLength, record.frame.length),
      comment: traceComment(record),
    });
  }

  close(): void {
    this.file?.close();
  }
}

/** Records as text on stdout: one line each, or one JSON object each. */
class TextOutput implements TraceOutput {
  constructor(private readonly render: (record: TraceRecord) => string, private readonly stdout: TraceStdout) {}

  begin(): void {}

  record(record: TraceRecord): void {
    this.stdout.write(this.render(record) + '\n');
  }

  close(): void {}
}

/** The output of a trace in `format`. Anything that can fail locally (opening -w FILE) fails here. */
export function openTraceOutput(format: TraceFormat, stdout: TraceStdout): TraceOutput {
  switch (format.kind) {
    case 'pcapng':
      return new CaptureOutput(format.destination, stdout);
    case 'json':
      return new TextOutput((record) => JSON.stringify(TraceRecord.toJSON(record)), stdout);
    case 'lines':
      return new TextOutput(traceLine, stdout);
  }
}
