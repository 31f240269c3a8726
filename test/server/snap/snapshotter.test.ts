// Snapshot files: round trip, newest selection, corrupt files skipped and reported,
// matching against WAL markers, purge.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Snapshotter, SnapCorruptError, snapName, encodeSnapshotFile, type SnapshotFile } from '../../../src/server/snap/snapshotter.js';

const enc = new TextEncoder();
const snap = (term: number, index: number, data = `state@${index}`, voters: bigint[] = [1n, 2n, 0xfedcba9876543210n], learners: bigint[] = [4n]): SnapshotFile => ({
  data: enc.encode(data),
  metadata: { confState: { voters, learners }, index, term },
});

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'snap-test-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return join(d, 'snap');
}

test('snap: save and load round trip; the documented example is 58 bytes', async (t) => {
  const dir = await tempDir(t);
  const s = new Snapshotter(dir);
  assert.deepEqual(await s.load(), { skipped: [] }, 'no directory: no snapshot');
  const name = await s.save(snap(2, 0x10));
  assert.equal(name, '0000000000000002-0000000000000010.snap');
  // etcd 3.4 writes .snap files with 0666 & ~umask (snapshotter.go WriteAndSyncFile(..., 0666)); the dir 0700
  assert.equal((await stat(join(dir, name))).mode & 0o777, 0o666 & ~process.umask());
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  const r = await s.load();
  assert.equal(r.file, name);
  assert.deepEqual(r.snapshot, snap(2, 0x10));
  assert.equal(encodeSnapshotFile(snap(2, 0x10, 'ab', [1n], [])).length, 58);
  await assert.rejects(s.save(snap(0, 0)), RangeError);
});

test('snap: load picks the newest by (term, index), not by file time', async (t) => {
  const dir = await tempDir(t);
  const s = new Snapshotter(dir);
  await s.save(snap(3, 0x100));
  await s.save(snap(2, 0x200)); // higher index, lower term, written later
  await s.save(snap(3, 0x0ff));
  const r = await s.load();
  assert.equal(r.file, snapName(3, 0x100));
  assert.deepEqual(r.snapshot?.metadata.index, 0x100);
});

test('snap: corrupt newer files are skipped, reported and renamed .broken', async (t) => {
  const dir = await tempDir(t);
  const s = new Snapshotter(dir);
  await s.save(snap(1, 10));
  const flipped = await s.save(snap(1, 20));
  const short = await s.save(snap(1, 30));
  const wrongName = snapName(1, 40);
  // a bit flip in the data
  const b = await readFile(join(dir, flipped));
  b[b.length - 2]! ^= 0x04;
  await writeFile(join(dir, flipped), b);
  // a truncated file
  await truncate(join(dir, short), 30);
  // a valid file under the wrong name
  await writeFile(join(dir, wrongName), encodeSnapshotFile(snap(1, 41)));
  const r = await s.load();
  assert.equal(r.file, snapName(1, 10));
  assert.deepEqual(r.snapshot, snap(1, 10));
  assert.deepEqual(
    r.skipped.map((e) => [e.file, e instanceof SnapCorruptError]),
    [
      [wrongName, true],
      [short, true],
      [flipped, true],
    ],
  );
  assert.match(r.skipped[1]!.message, /shorter/);
  assert.match(r.skipped[2]!.message, /CRC mismatch/);
  const names = (await readdir(dir)).sort();
  assert.deepEqual(names, [snapName(1, 10), `${flipped}.broken`, `${short}.broken`, `${wrongName}.broken`].sort());
  // everything corrupt: no snapshot, all reported
  await rm(join(dir, snapName(1, 10)));
  await s.save(snap(2, 50));
  await writeFile(join(dir, snapName(2, 50)), Buffer.from('TSSNAP01 but not really'));
  const r2 = await new Snapshotter(dir, { renameBroken: false }).load();
  assert.equal(r2.snapshot, undefined);
  assert.equal(r2.skipped.length, 1);
  assert.ok((await readdir(dir)).includes(snapName(2, 50)), 'renameBroken: false leaves the file');
});

test('snap: load(matching) takes the newest snapshot the WAL has a marker for', async (t) => {
  const dir = await tempDir(t);
  const s = new Snapshotter(dir);
  await s.save(snap(1, 10));
  await s.save(snap(1, 20));
  await s.save(snap(2, 30)); // saved, but its WAL marker never made it
  const r = await s.load([
    { term: 0, index: 0 },
    { term: 1, index: 10 },
    { term: 1, index: 20 },
  ]);
  assert.equal(r.file, snapName(1, 20));
  assert.deepEqual(r.skipped, []);
  assert.equal((await s.load([{ term: 9, index: 9 }])).snapshot, undefined);
});

test('snap: purge keeps the newest N and removes temp files', async (t) => {
  const dir = await tempDir(t);
  let syncs = 0;
  const s = new Snapshotter(dir, { fsync: async (fh) => (syncs++, fh.sync()) });
  for (let i = 1; i <= 5; i++) await s.save(snap(1, i * 10));
  assert.equal(syncs, 5);
  await writeFile(join(dir, `${snapName(1, 60)}.tmp`), 'partial');
  const deleted = await s.purge(2);
  assert.deepEqual(deleted, [snapName(1, 30), snapName(1, 20), snapName(1, 10), `${snapName(1, 60)}.tmp`]);
  assert.deepEqual((await readdir(dir)).sort(), [snapName(1, 40), snapName(1, 50)]);
  await assert.rejects(s.purge(0), RangeError);
});

test('snap: a huge voter count in a corrupt file is rejected without allocating', async (t) => {
  const dir = await tempDir(t);
  const s = new Snapshotter(dir);
  const name = await s.save(snap(1, 5));
  const b = await readFile(join(dir, name));
  b.writeUInt32LE(0xffffffff, 32);
  // recompute the CRC so only the bound check can catch it
  const { crc32c } = await import('../../../src/util/crc32c.js');
  b.writeUInt32LE(crc32c(b.subarray(16)), 8);
  await writeFile(join(dir, name), b);
  const r = await s.load();
  assert.equal(r.snapshot, undefined);
  assert.match(r.skipped[0]!.message, /do not fit/);
});
