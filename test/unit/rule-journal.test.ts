import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { decodeJournal, Journal } from '../../server/rules/journal';
import { gate, stillPending } from '../support/gate';

describe('rule store journal: compaction beside the frames', () => {
  let dir: string;
  let file: string;
  let journal: Journal;

  /** Appends `record`; resolves once it is durable. */
  const append = (record: string) =>
    new Promise<void>((resolve, reject) => journal.append(record, { durable: resolve, failed: reject }));
  const recordsOnDisk = () => decodeJournal(fs.readFileSync(file)).records;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-journal-'));
    file = path.join(dir, 'rules.journal');
    journal = new Journal(file, 0, 0o600);
  });

  afterEach(async () => {
    await journal.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts the task at a frame boundary, acknowledges appends while it runs, then keeps only the frames after the cut', async () => {
    await append('a');
    await append('b');
    const snapshot = gate();
    let seenAtCut: string[] | undefined;
    const compacted = journal.compact(async () => {
      seenAtCut = recordsOnDisk(); // read before the first await: the state at the cut
      await snapshot.wait();
    });
    await snapshot.entered;
    expect(seenAtCut).to.deep.equal(['a', 'b']);
    // The task is still running: frames go on being written and acknowledged.
    await Promise.all([append('c'), append('d')]);
    await append('e');
    expect(recordsOnDisk()).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
    snapshot.open();
    expect(await compacted).to.equal(true);
    expect(recordsOnDisk()).to.deep.equal(['c', 'd', 'e']);
    expect(journal.size).to.equal(fs.statSync(file).size);
    expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
    expect(fs.existsSync(`${file}.tmp`)).to.equal(false);
    // Appends go to the new file.
    await append('f');
    expect(recordsOnDisk()).to.deep.equal(['c', 'd', 'e', 'f']);
    expect(journal.size).to.equal(fs.statSync(file).size);
  });

  it('starts the task after every record of the frame it was asked in is acknowledged', async () => {
    const acknowledged: string[] = [];
    let acknowledgedAtCut: string[] | undefined;
    const records = ['a', 'b', 'c', 'd'];
    await Promise.all(
      records.map(
        (record) =>
          new Promise<void>((resolve, reject) =>
            journal.append(record, {
              durable: () => {
                acknowledged.push(record);
                // Asked while the frame's later records are on disk but not yet acknowledged (as the
                // store does when the first of them makes the journal outgrow the snapshot).
                if (record === 'a') {
                  void journal.compact(async () => {
                    acknowledgedAtCut = [...acknowledged];
                  });
                }
                resolve();
              },
              failed: reject,
            }),
          ),
      ),
    );
    await journal.close();
    expect(acknowledgedAtCut).to.deep.equal(records);
    expect(fs.statSync(file).size, 'the tail: nothing after the cut').to.equal(0);
  });

  it('changes nothing when the task fails, and goes on', async () => {
    await append('a');
    expect(await journal.compact(() => Promise.reject(new Error('disk full')))).to.equal(false);
    await append('b');
    expect(recordsOnDisk()).to.deep.equal(['a', 'b']);
    // A task that throws before its first await is a failure too.
    expect(
      await journal.compact(() => {
        throw new Error('at once');
      }),
    ).to.equal(false);
    expect(recordsOnDisk()).to.deep.equal(['a', 'b']);
  });

  it('goes on appending to the whole journal when its tail cannot be written', async () => {
    await append('a');
    const original = fs.promises.rename;
    fs.promises.rename = (from, to) =>
      String(to) === file ? Promise.reject(Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' })) : original(from, to);
    const logged: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => logged.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      expect(await journal.compact(async () => undefined)).to.equal(false);
    } finally {
      fs.promises.rename = original;
      process.stderr.write = write;
    }
    expect(logged.join('')).to.match(/warn/).and.to.contain('it goes on whole (EIO');
    expect(fs.existsSync(`${file}.tmp`)).to.equal(false);
    await append('b');
    expect(recordsOnDisk()).to.deep.equal(['a', 'b']);
    expect(journal.size).to.equal(fs.statSync(file).size);
  });

  it('runs one compaction at a time, and close() waits for it', async () => {
    await append('a');
    const snapshot = gate();
    const first = journal.compact(() => snapshot.wait());
    await snapshot.entered;
    expect(await journal.compact(async () => undefined)).to.equal(false);
    const closing = journal.close();
    expect(await stillPending(closing), 'close() while the compaction is held').to.equal(true);
    snapshot.open();
    await closing;
    expect(await first).to.equal(true);
    expect(fs.statSync(file).size).to.equal(0);
  });
});
