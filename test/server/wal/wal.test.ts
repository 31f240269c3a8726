// The WAL: round trip, reopen, segment cuts, group commit, torn tails, corruption,
// overwritten entries, snapshot markers and purge. Every test uses its own temp dir.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants as fsConstants, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm, stat, truncate, writeFile, appendFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { LOOP_WRITE_MAX_BYTES, Wal, segmentName, type WalEntry, type WalHardState } from '../../../src/server/wal/wal.js';
import { WalClosedError, WalCorruptError, WalExistsError, WalNotFoundError, WalSnapshotNotFoundError } from '../../../src/server/wal/errors.js';
import { HEADER_BYTES, encodeRecord, framedSize } from '../../../src/server/wal/encoder.js';
import { RecordType, encodeEntry, encodeHardState } from '../../../src/server/wal/record.js';

const META = { nodeId: 0x8e9e05c52164694dn, clusterId: 0xcdf818194e3a8c32n };
const enc = new TextEncoder();
const e = (term: number, index: number, s = `v${index}`): WalEntry => ({ term, index, type: 0, data: enc.encode(s) });
const hs = (term: number, commit: number, vote = 1n): WalHardState => ({ term, vote, commit });
const SNAP0 = { term: 0, index: 0 };

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'wal-test-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return join(d, 'wal');
}

function idx(entries: readonly WalEntry[]): number[] {
  return entries.map((x) => x.index);
}

async function walFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.wal')).sort();
}

test('wal: round trip, and the segment layout doc.md shows', async (t) => {
  const dir = await tempDir(t);
  const w = await Wal.create(dir, META);
  await w.save(hs(1, 0), [e(1, 1, 'a')]);
  await w.close();
  assert.deepEqual(await walFiles(dir), ['0000000000000000-0000000000000000.wal']);
  const st = await stat(join(dir, segmentName(0, 0)));
  assert.equal(st.size, 0x90);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  assert.equal(st.mode & 0o777, 0o600);

  const r = await Wal.open(dir, SNAP0);
  assert.deepEqual(r.metadata, META);
  assert.deepEqual(r.hardState, hs(1, 0));
  assert.deepEqual(r.entries, [e(1, 1, 'a')]);
  assert.equal(r.truncatedTail, undefined);
  await r.wal.close();
});

/** Open descriptors of this process whose file is `path`, with their open flags (octal in /proc). */
async function openFlagsOf(path: string): Promise<number[]> {
  const out: number[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    let target: string;
    try {
      target = await readlink(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (target !== path) continue;
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8');
    out.push(parseInt(/^flags:\s*([0-7]+)/m.exec(info)![1]!, 8));
  }
  return out;
}

test('wal: without a sync hook, batches go through an O_DSYNC descriptor of the tail segment, also after a cut and a reopen', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const dir = await tempDir(t);
  const dsyncOf = async (name: string) => (await openFlagsOf(join(dir, name))).filter((f) => (f & fsConstants.O_DSYNC) === fsConstants.O_DSYNC && (f & 0o3) === fsConstants.O_WRONLY).length;
  const w = await Wal.create(dir, META, { segmentBytes: 300 });
  assert.equal(await dsyncOf(segmentName(0, 0)), 1);
  await w.save(hs(1, 1), [e(1, 1, 'x'.repeat(400))]); // fills the first segment: cut
  await w.flush();
  const files = await walFiles(dir);
  assert.equal(files.length, 2);
  assert.equal(await dsyncOf(files[0]!), 0, 'the old segment\'s O_DSYNC descriptor is closed at the cut');
  assert.equal(await dsyncOf(files[1]!), 1);
  await w.close();
  assert.equal(await dsyncOf(files[1]!), 0);
  const r = await Wal.open(dir, SNAP0, { segmentBytes: 300 });
  assert.equal(await dsyncOf(files[1]!), 1);
  await r.wal.save(hs(1, 2), [e(1, 2)]);
  await r.wal.close();
  const again = await Wal.open(dir, SNAP0);
  assert.deepEqual(idx(again.entries), [1, 2]);
  await again.wal.close();

  // with a hook every batch is synced through it instead, and no O_DSYNC descriptor is opened
  const dir2 = `${dir}-hook`;
  let syncs = 0;
  const h = await Wal.create(dir2, META, { fdatasync: async (fh) => { syncs++; await fh.datasync(); } });
  const before = syncs;
  await h.save(hs(1, 1), [e(1, 1)]);
  assert.equal(syncs, before + 1);
  assert.equal((await openFlagsOf(join(dir2, segmentName(0, 0)))).filter((f) => (f & fsConstants.O_DSYNC) === fsConstants.O_DSYNC).length, 0);
  await h.close();
  await rm(dir2, { recursive: true, force: true });
});

test('wal: a lone small batch is written on the event loop, others in the thread pool; a slow loop write turns that off', async (t) => {
  const dir = await tempDir(t);
  // synchronous: the loop's write is in the file when save() returns
  const sizeNow = () => statSync(join(dir, readdirSync(dir).filter((n) => n.endsWith('.wal')).sort().at(-1)!)).size;
  const w = await Wal.create(dir, META);
  const size = sizeNow();
  const p1 = w.save(hs(1, 1), [e(1, 1)]);
  assert.ok(sizeNow() > size, 'written before save() returned');
  await p1;
  assert.deepEqual(w.writeCounts(), { onLoop: 1, inPool: 0 });
  // two entries, or more than LOOP_WRITE_MAX_BYTES: the pool
  await w.save(hs(1, 3), [e(1, 2), e(1, 3)]);
  await w.save(hs(1, 4), [e(1, 4, 'x'.repeat(LOOP_WRITE_MAX_BYTES))]);
  assert.deepEqual(w.writeCounts(), { onLoop: 1, inPool: 2 });
  // saves made while a write is in flight are one batch: the pool
  await Promise.all([w.save(hs(1, 6), [e(1, 5), e(1, 6)]), w.save(hs(1, 7), [e(1, 7)]), w.save(hs(1, 8), [e(1, 8)])]);
  assert.deepEqual(w.writeCounts(), { onLoop: 1, inPool: 4 }, 'the two made during the first write go together');
  // a hard state alone is a lone small batch too
  await w.save(hs(2, 8), []);
  assert.deepEqual(w.writeCounts(), { onLoop: 2, inPool: 4 });
  await w.close();
  const r = await Wal.open(dir, SNAP0, { loopWriteSlowMs: 0 }); // any write time is too slow
  assert.deepEqual(idx(r.entries), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(r.hardState, hs(2, 8));
  await r.wal.save(hs(2, 9), [e(2, 9)]);
  await r.wal.save(hs(2, 10), [e(2, 10)]);
  assert.deepEqual(r.wal.writeCounts(), { onLoop: 1, inPool: 1 }, 'after a slow one, lone batches go to the pool');
  await r.wal.close();
  const again = await Wal.open(dir, SNAP0);
  assert.deepEqual(idx(again.entries), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  await again.wal.close();
});

test('wal: onWrite is told each durable write and its bytes: the file grows by exactly what it was told, on every write path', async (t) => {
  const dir = await tempDir(t);
  const seen: Array<[number, number]> = [];
  const onWrite = (sec: number, bytes: number) => seen.push([sec, bytes]);
  const total = async () => {
    let n = 0;
    for (const f of await walFiles(dir)) n += (await stat(join(dir, f))).size;
    return n;
  };
  const w = await Wal.create(dir, META, { onWrite, segmentBytes: 400 });
  const start = await total();
  await w.save(hs(1, 1), [e(1, 1)]); // lone: on the loop
  await Promise.all([w.save(hs(1, 2), [e(1, 2)]), w.save(hs(1, 3), [e(1, 3)])]); // the pool
  await w.save(hs(1, 4), [e(1, 4, 'y'.repeat(500))]); // fills the segment: a cut follows
  await w.close();
  assert.ok(seen.length >= 4, `writes told: ${seen.length}`);
  assert.ok(seen.every(([sec, bytes]) => sec >= 0 && sec < 60 && bytes > 0), JSON.stringify(seen));
  assert.equal(seen.reduce((a, [, b]) => a + b, 0), (await total()) - start, 'bytes told = bytes added to the segments');
  // with a sync hook, the hook's time is what is told
  const dir2 = `${dir}-hook`;
  const told: number[] = [];
  const h = await Wal.create(dir2, META, { fdatasync: (fh) => new Promise((r) => setTimeout(() => void fh.datasync().then(r), 30)), onWrite: (sec) => told.push(sec) });
  await h.save(hs(1, 1), [e(1, 1)]);
  await h.close();
  await rm(dir2, { recursive: true, force: true });
  assert.equal(told.length, 1);
  assert.ok(told[0]! >= 0.025, `sync hook time told: ${told[0]}`);
});

test('wal: a save is framed in one buffer byte for byte as encodeRecord frames each entry and the hard state (every padding, terms and indexes past 2^32)', async (t) => {
  const dir = await tempDir(t);
  const w = await Wal.create(dir, META, { segmentBytes: 1 << 20 });
  const seg = join(dir, (await walFiles(dir))[0]!);
  let expected = await readFile(seg);
  const big = 2 ** 40 + 3;
  let index = 1;
  for (let round = 0; round < 4; round++) {
    const entries: WalEntry[] = [];
    for (let n = 0; n < 9; n++, index++) entries.push({ term: round === 3 ? big : round + 1, index, type: n % 3, data: enc.encode('d'.repeat((n * 7 + round) % 19)) });
    const hsNow = round === 1 ? hs(0, 0, 0n) : hs(round + 1, index - 1, 0xfedcba9876543210n);
    await w.save(hsNow, entries);
    const records = entries.map((x) => encodeRecord(RecordType.Entry, encodeEntry(x)));
    if (round !== 1) records.push(encodeRecord(RecordType.HardState, encodeHardState(hsNow)));
    expected = Buffer.concat([expected, ...records]);
    assert.deepEqual(await readFile(seg), expected, `round ${round}`);
  }
  await w.close();
  // doc.md: reserved header bytes and padding are zero (walked here without the encoder)
  const bytes = await readFile(seg);
  for (let pos = 0; pos < bytes.length; ) {
    const len = bytes.readUInt32LE(pos);
    assert.deepEqual([...bytes.subarray(pos + 5, pos + 8)], [0, 0, 0], `reserved bytes at ${pos}`);
    const pad = (8 - (len % 8)) % 8;
    assert.ok(bytes.subarray(pos + 16 + len, pos + 16 + len + pad).every((b) => b === 0), `padding after the record at ${pos}`);
    pos += 16 + len + pad;
  }
  const r = await Wal.open(dir, SNAP0);
  assert.equal(r.entries.length, 36);
  assert.equal(r.entries.at(-1)!.term, big);
  assert.deepEqual(r.hardState, hs(4, 36, 0xfedcba9876543210n));
  await r.wal.close();
});

test('wal: create refuses a directory with segments; open refuses an empty one', async (t) => {
  const dir = await tempDir(t);
  await (await Wal.create(dir, META)).close();
  await assert.rejects(Wal.create(dir, META), WalExistsError);
  await assert.rejects(Wal.open(join(dir, 'nope'), SNAP0), WalNotFoundError);
  const empty = `${dir}-empty`;
  await (await import('node:fs/promises')).mkdir(empty);
  await assert.rejects(Wal.open(empty, SNAP0), WalNotFoundError);
});

test('wal: replay after reopen, appending after reopen, large and empty payloads', async (t) => {
  const dir = await tempDir(t);
  const w = await Wal.create(dir, META);
  const big = new Uint8Array(100_000).map((_, i) => i * 7);
  await w.save(hs(1, 0), [e(1, 1), e(1, 2, '')]);
  await w.save(hs(2, 2, 2n), [{ term: 2, index: 3, type: 1, data: big }]);
  await w.close();
  await assert.rejects(w.save(hs(2, 3), [e(2, 4)]), WalClosedError);

  const r1 = await Wal.open(dir, SNAP0);
  assert.deepEqual(idx(r1.entries), [1, 2, 3]);
  assert.deepEqual(r1.entries[2], { term: 2, index: 3, type: 1, data: big });
  assert.equal(r1.entries[1]!.data.length, 0);
  assert.deepEqual(r1.hardState, hs(2, 2, 2n));
  await r1.wal.save(hs(2, 3, 2n), [e(2, 4)]);
  // an empty save writes nothing and resolves at once
  await r1.wal.save({ term: 0, vote: 0n, commit: 0 }, []);
  await r1.wal.close();

  const r2 = await Wal.open(dir, SNAP0);
  assert.deepEqual(idx(r2.entries), [1, 2, 3, 4]);
  assert.deepEqual(r2.hardState, hs(2, 3, 2n));
  await r2.wal.close();
});

test('wal: save rejects non-consecutive entries and values outside the bounds, writing nothing', async (t) => {
  const dir = await tempDir(t);
  const w = await Wal.create(dir, META);
  await assert.rejects(w.save(hs(1, 0), [e(1, 1), e(1, 3)]), RangeError);
  await assert.rejects(w.save(hs(1, 0), [e(1, 2 ** 53)]), RangeError);
  await assert.rejects(w.save({ term: 1, vote: -1n, commit: 0 }, []), RangeError);
  await w.save(hs(1, 0), [e(1, 1)]);
  await w.close();
  const r = await Wal.open(dir, SNAP0);
  assert.deepEqual(idx(r.entries), [1]);
  await r.wal.close();
});

test('wal: segments are cut at the size limit, named after the next index, and replay across them', async (t) => {
  const dir = await tempDir(t);
  const w = await Wal.create(dir, META, { segmentBytes: 300 });
  for (let i = 1; i <= 40; i++) await w.save(hs(1, i - 1), [e(1, i, 'x'.repeat(20))]);
  await w.close();
  const files = await walFiles(dir);
  assert.ok(files.length >= 5, `expected several segments, got ${files.join(' ')}`);
  assert.deepEqual(files, w.segmentNames());
  // each name's index is one past the last entry of the previous segment
  const r = await Wal.open(dir, SNAP0, { segmentBytes: 300 });
  assert.deepEqual(idx(r.entries), Array.from({ length: 40 }, (_, i) => i + 1));
  assert.deepEqual(r.hardState, hs(1, 39));
  let prevSeq = -1;
  for (const f of files) {
    const [seqHex, idxHex] = f.replace('.wal', '').split('-') as [string, string];
    assert.equal(parseInt(seqHex, 16), prevSeq + 1);
    prevSeq++;
    const first = parseInt(idxHex, 16);
    if (first > 0) {
      const buf = await readFile(join(dir, f));
      // the segment starts with metadata + hard state and then entry `first`, if any
      const entryAt = framedSize(16) + framedSize(24);
      if (buf.length > entryAt) assert.equal(Number(buf.readBigUInt64LE(entryAt + HEADER_BYTES + 8)), first);
    }
  }
  // appending after reopen continues cutting with the right names
  for (let i = 41; i <= 50; i++) await r.wal.save(hs(1, i - 1), [e(1, i, 'x'.repeat(20))]);
  await r.wal.close();
  const r2 = await Wal.open(dir, SNAP0);
  assert.equal(r2.entries.length, 50);
  await r2.wal.close();
});

test('wal: concurrent saves during an fsync share the next fsync (group commit)', async (t) => {
  const dir = await tempDir(t);
  let syncs = 0;
  let gate: (() => void) | undefined;
  let gated = false;
  const fdatasync = async (fh: FileHandle): Promise<void> => {
    syncs++;
    if (gated) await new Promise<void>((res) => (gate = res));
    await fh.datasync();
  };
  const w = await Wal.create(dir, META, { fdatasync });
  syncs = 0;
  gated = true;
  const order: number[] = [];
  const first = w.save(hs(1, 0), [e(1, 1)]).then(() => order.push(1));
  // let the first batch reach the (blocked) fsync
  while (gate === undefined) await new Promise((res) => setImmediate(res));
  assert.equal(syncs, 1);
  const rest: Promise<unknown>[] = [];
  for (let i = 2; i <= 100; i++) rest.push(w.save(hs(1, i - 1), [e(1, i)]).then(() => order.push(i)));
  gated = false;
  gate!();
  await Promise.all([first, ...rest]);
  assert.equal(syncs, 2, 'one fsync for the first save, one shared by the 99 made while it was in flight');
  assert.deepEqual(order, Array.from({ length: 100 }, (_, i) => i + 1), 'callers resolve in call order');
  await w.close();
  const r = await Wal.open(dir, SNAP0);
  assert.deepEqual(idx(r.entries), Array.from({ length: 100 }, (_, i) => i + 1));
  assert.deepEqual(r.hardState, hs(1, 99));
  await r.wal.close();
});

test('wal: a failed fsync rejects that batch and everything after it', async (t) => {
  const dir = await tempDir(t);
  let fail = false;
  const w = await Wal.create(dir, META, {
    fdatasync: async (fh) => {
      if (fail) throw Object.assign(new Error('EIO: injected'), { code: 'EIO' });
      await fh.datasync();
    },
  });
  await w.save(hs(1, 0), [e(1, 1)]);
  fail = true;
  await assert.rejects(w.save(hs(1, 1), [e(1, 2)]), /EIO/);
  fail = false;
  await assert.rejects(w.save(hs(1, 1), [e(1, 3)]), WalClosedError);
  await w.close();
});

/** A WAL with entries 1..n (one save each) in one segment; returns the tail file and the last record's offset. */
async function walWithEntries(dir: string, n: number): Promise<{ file: string; lastOffset: number; size: number }> {
  const w = await Wal.create(dir, META);
  for (let i = 1; i < n; i++) await w.save({ term: 0, vote: 0n, commit: 0 }, [e(1, i, `value-${i}`)]);
  const file = join(dir, segmentName(0, 0));
  const lastOffset = (await stat(file)).size;
  await w.save({ term: 0, vote: 0n, commit: 0 }, [e(1, n, `value-${n}-is-a-little-longer`)]);
  await w.close();
  return { file, lastOffset, size: (await stat(file)).size };
}

test('wal: a torn last record is cut off at every truncation point', async (t) => {
  const base = await tempDir(t);
  const { lastOffset, size } = await walWithEntries(base, 5);
  for (let cut = lastOffset; cut < size; cut++) {
    const dir = `${base}-cut${cut}`;
    await cp(base, dir, { recursive: true });
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, segmentName(0, 0));
    await truncate(file, cut);
    const r = await Wal.open(dir, SNAP0);
    // a cut inside the zero padding leaves the record whole
    const expected = cut >= lastOffset + HEADER_BYTES + 17 + 'value-5-is-a-little-longer'.length ? 5 : 4;
    assert.deepEqual(idx(r.entries), Array.from({ length: expected }, (_, i) => i + 1), `cut at ${cut}`);
    if (expected === 4 && cut > lastOffset) assert.deepEqual(r.truncatedTail && { file: r.truncatedTail.file, offset: r.truncatedTail.offset }, { file: segmentName(0, 0), offset: lastOffset });
    // the WAL is writable after recovery and the new record replays
    await r.wal.save(hs(2, 0), [e(2, expected + 1)]);
    await r.wal.close();
    const r2 = await Wal.open(dir, SNAP0);
    assert.deepEqual(idx(r2.entries), Array.from({ length: expected + 1 }, (_, i) => i + 1), `reopen after cut at ${cut}`);
    assert.equal(r2.truncatedTail, undefined);
    await r2.wal.close();
  }
});

test('wal: zeros or garbage after the last good record are a torn tail', async (t) => {
  const base = await tempDir(t);
  const { size } = await walWithEntries(base, 3);
  const tails: [string, Buffer][] = [
    ['zeros', Buffer.alloc(4096)],
    ['garbage', Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 131 + 17) & 0xff))],
    ['few bytes', Buffer.from([1, 2, 3])],
  ];
  for (const [what, tail] of tails) {
    const dir = `${base}-${what.replace(' ', '')}`;
    await cp(base, dir, { recursive: true });
    t.after(() => rm(dir, { recursive: true, force: true }));
    await appendFile(join(dir, segmentName(0, 0)), tail);
    const r = await Wal.open(dir, SNAP0);
    assert.deepEqual(idx(r.entries), [1, 2, 3], what);
    assert.equal(r.truncatedTail?.offset, size, what);
    await r.wal.close();
    assert.equal((await stat(join(dir, segmentName(0, 0)))).size, size, `${what}: file truncated`);
  }
  // a payload bit flip in the final record with only zeros after it is also a torn tail
  const dir = `${base}-lastflip`;
  await cp(base, dir, { recursive: true });
  const file = join(dir, segmentName(0, 0));
  const buf = await readFile(file);
  buf[size - 8]! ^= 0x01; // inside the last record's payload ("...longer")
  await writeFile(file, Buffer.concat([buf, Buffer.alloc(64)]));
  const r = await Wal.open(dir, SNAP0);
  assert.deepEqual(idx(r.entries), [1, 2]);
  await r.wal.close();
});

test('wal: a bit flip in the middle is WalCorruptError naming file and offset', async (t) => {
  const base = await tempDir(t);
  await walWithEntries(base, 6);
  const file0 = segmentName(0, 0);
  const buf = await readFile(join(base, file0));
  // record offsets: walk the framing
  const offsets: number[] = [];
  for (let off = 0; off < buf.length; off += framedSize(buf.readUInt32LE(off))) offsets.push(off);
  const target = offsets[4]!; // the third entry (metadata, snapshot, e1, e2, e3, ...)
  for (const [what, at] of [
    ['payload', target + HEADER_BYTES + 3],
    ['length field', target],
    ['header CRC', target + 13],
  ] as const) {
    const dir = `${base}-${what.replace(' ', '')}`;
    await cp(base, dir, { recursive: true });
    t.after(() => rm(dir, { recursive: true, force: true }));
    const b = Buffer.from(buf);
    b[at]! ^= 0x10;
    await writeFile(join(dir, file0), b);
    await assert.rejects(Wal.open(dir, SNAP0), (err: unknown) => {
      assert.ok(err instanceof WalCorruptError, `${what}: ${String(err)}`);
      assert.equal(err.file, file0);
      assert.equal(err.offset, target);
      assert.match(err.message, new RegExp(`${file0} at offset ${target}`));
      return true;
    });
  }
});

test('wal: damage in a segment that is not the last one is WalCorruptError, even at its end', async (t) => {
  const dir = await tempDir(t);
  const w = await Wal.create(dir, META, { segmentBytes: 200 });
  for (let i = 1; i <= 20; i++) await w.save(hs(1, i), [e(1, i, 'y'.repeat(30))]);
  await w.close();
  const files = await walFiles(dir);
  assert.ok(files.length >= 3);
  const victim = join(dir, files[1]!);
  const size = (await stat(victim)).size;
  await truncate(victim, size - 3);
  await assert.rejects(Wal.open(dir, SNAP0), (err: unknown) => err instanceof WalCorruptError && err.file === files[1] && /not the last segment/.test(err.message));
  // a missing segment in the middle is reported too
  await rm(victim);
  await assert.rejects(Wal.open(dir, SNAP0), (err: unknown) => err instanceof WalCorruptError && /sequence jumps/.test(err.message));
});

test('wal: entries overwritten by a new leader replay as the later records', async (t) => {
  const dir = await tempDir(t);
  const w = await Wal.create(dir, META, { segmentBytes: 250 });
  await w.save(hs(1, 2), [e(1, 1), e(1, 2), e(1, 3), e(1, 4), e(1, 5)]);
  // term 2 leader overwrites from index 3
  await w.save(hs(2, 2), [e(2, 3, 'new3'), e(2, 4, 'new4')]);
  await w.save(hs(2, 3), [e(2, 5, 'new5'), e(2, 6, 'new6')]);
  // term 3 leader overwrites from index 6 (possibly in a later segment)
  await w.save(hs(3, 5), [e(3, 6, 'x6')]);
  await w.close();
  const r = await Wal.open(dir, SNAP0);
  assert.deepEqual(r.entries, [e(1, 1), e(1, 2), e(2, 3, 'new3'), e(2, 4, 'new4'), e(2, 5, 'new5'), e(3, 6, 'x6')]);
  assert.deepEqual(r.hardState, hs(3, 5));
  await r.wal.close();
  // replay from a snapshot inside the overwritten range keeps the same suffix
  const r2 = await Wal.open(dir, SNAP0);
  await r2.wal.saveSnapshotMarker({ term: 2, index: 4 });
  await r2.wal.close();
  const r3 = await Wal.open(dir, { term: 2, index: 4 });
  assert.deepEqual(r3.entries, [e(2, 5, 'new5'), e(3, 6, 'x6')]);
  await r3.wal.close();
});

test('wal: an entry index gap after the snapshot is WalCorruptError', async (t) => {
  const dir = await tempDir(t);
  const w = await Wal.create(dir, META);
  await w.save(hs(1, 0), [e(1, 1), e(1, 2)]);
  await w.save(hs(1, 0), [e(1, 5)]);
  await w.close();
  await assert.rejects(Wal.open(dir, SNAP0), (err: unknown) => err instanceof WalCorruptError && /gap/.test(err.message));
});

test('wal: snapshot markers, replay from a snapshot, release and purge', async (t) => {
  const dir = await tempDir(t);
  const w = await Wal.create(dir, META, { segmentBytes: 300 });
  for (let i = 1; i <= 30; i++) await w.save(hs(1, i), [e(1, i, 'z'.repeat(20))]);
  await w.saveSnapshotMarker({ term: 1, index: 20 });
  for (let i = 31; i <= 40; i++) await w.save(hs(1, i), [e(1, i, 'z'.repeat(20))]);
  const before = await walFiles(dir);
  w.releaseLockTo(20);
  assert.deepEqual(await w.purge(1000), [], 'keep bound respected');
  const deleted = await w.purge(1);
  assert.ok(deleted.length > 0);
  const after = await walFiles(dir);
  assert.deepEqual(after, before.filter((f) => !deleted.includes(f)));
  // the kept oldest segment starts at or before index 20, the next one after it
  const startOf = (f: string): number => parseInt(f.split('-')[1]!, 16);
  assert.ok(startOf(after[0]!) <= 20 && (after.length < 2 || startOf(after[1]!) >= 20));
  await w.close();

  const r = await Wal.open(dir, { term: 1, index: 20 });
  assert.deepEqual(idx(r.entries), Array.from({ length: 20 }, (_, i) => i + 21));
  assert.deepEqual(r.hardState, hs(1, 40));
  assert.deepEqual(r.metadata, META);
  await r.wal.close();
  // from the purged start, or an unknown snapshot, or the wrong term: refused
  await assert.rejects(Wal.open(dir, SNAP0), WalSnapshotNotFoundError);
  await assert.rejects(Wal.open(dir, { term: 1, index: 25 }), WalSnapshotNotFoundError);
  await assert.rejects(Wal.open(dir, { term: 2, index: 20 }), WalSnapshotNotFoundError);
});

test('wal: releaseLockTo follows etcd (segments 1..6, release to 4 keeps 3); the tail is never released', async (t) => {
  const dir = await tempDir(t);
  const w = await Wal.create(dir, META, { segmentBytes: 1 });
  // segmentBytes 1: every save cuts, so segment k (k >= 1) starts at index k
  for (let i = 1; i <= 6; i++) await w.save(hs(1, i), [e(1, i)]);
  await w.flush();
  const names = w.segmentNames();
  assert.deepEqual(names.map((n) => parseInt(n.split('-')[1]!, 16)), [0, 2, 3, 4, 5, 6, 7]);
  w.releaseLockTo(4);
  assert.deepEqual(await w.purge(1), names.slice(0, 2), 'segments starting at 0 and 2 go, the one starting at 3 stays');
  w.releaseLockTo(1000);
  assert.deepEqual(await w.purge(1), names.slice(2, 6));
  assert.deepEqual(await walFiles(dir), names.slice(6));
  await w.close();
});

test('wal: leftover temp files are removed on open', async (t) => {
  const dir = await tempDir(t);
  await (await Wal.create(dir, META)).close();
  await writeFile(join(dir, `${segmentName(1, 5)}.tmp`), 'partial');
  const r = await Wal.open(dir, SNAP0);
  await r.wal.close();
  assert.deepEqual(await readdir(dir), [segmentName(0, 0)]);
});

test('wal: a torn entry whose data holds a valid-looking record is still a torn tail', async (t) => {
  const dir = await tempDir(t);
  const w = await Wal.create(dir, META);
  await w.save(hs(1, 0), [e(1, 1)]);
  const file = join(dir, segmentName(0, 0));
  const lastOffset = (await stat(file)).size;
  // user data that contains a complete framed record, placed 8-byte aligned in the file
  const fake = encodeRecord(RecordType.Entry, encodeEntry(e(9, 99, 'fake')));
  const data = Buffer.concat([Buffer.alloc(7), fake, Buffer.alloc(100)]); // 16 header + 17 fixed + 7 = 40: fake starts aligned
  await w.save({ term: 0, vote: 0n, commit: 0 }, [{ term: 1, index: 2, type: 0, data }]);
  await w.close();
  const fakeAt = lastOffset + HEADER_BYTES + 17 + 7;
  assert.equal(fakeAt % 8, 0);
  await truncate(file, fakeAt + fake.length + 10); // the fake record is whole, the real one is cut
  const r = await Wal.open(dir, SNAP0);
  assert.deepEqual(idx(r.entries), [1]);
  assert.equal(r.truncatedTail?.offset, lastOffset);
  await r.wal.close();
});

test('wal: a record with good CRCs but an unknown type or bad payload is corruption, even at the end', async (t) => {
  const dir = await tempDir(t);
  await (await Wal.create(dir, META)).close();
  const file = join(dir, segmentName(0, 0));
  const size = (await stat(file)).size;
  await appendFile(file, encodeRecord(99, Buffer.from('future')));
  await assert.rejects(Wal.open(dir, SNAP0), (err: unknown) => err instanceof WalCorruptError && err.offset === size && /unknown record type 99/.test(err.message));
  await truncate(file, size);
  await appendFile(file, encodeRecord(RecordType.HardState, Buffer.alloc(5)));
  await assert.rejects(Wal.open(dir, SNAP0), (err: unknown) => err instanceof WalCorruptError && /hard state payload is 5 bytes/.test(err.message));
});
