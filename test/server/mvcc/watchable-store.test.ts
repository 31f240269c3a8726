// The watchable store: live notification (one response per txn), catch-up from past
// revisions with no gap or duplicate, compaction cancels, filters, progress, slow
// consumers (victims) not blocking writes, restore, and the watch stream API (etcd's
// watchable_store_test.go and watcher_test.go cases). Most tests drive the sync loops
// by hand (startLoops: false); the last ones use the real timers.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Event_EventType, type Event } from '../../../src/gen/mvccpb/kv_pb.js';
import { MemoryBackend } from '../../../src/server/backend/memory-backend.js';
import { ErrEmptyWatcherRange, ErrWatcherDuplicateID, ErrWatcherNotExist } from '../../../src/server/mvcc/errors.js';
import { WatchableStore, type WatchableStoreConfig } from '../../../src/server/mvcc/watchable-store.js';
import { watchTunables } from '../../../src/server/mvcc/watcher-group.js';
import {
  AUTO_WATCH_ID,
  filterNoDelete,
  filterNoPut,
  withPrevKVs,
  type ResponseQueue,
  type WatchResponse,
} from '../../../src/server/mvcc/watcher.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string): Uint8Array => enc.encode(s);
const EMPTY = new Uint8Array(0);

function newStore(cfg: WatchableStoreConfig = {}): WatchableStore {
  return new WatchableStore(new MemoryBackend(), { startLoops: false, compactionSleepMs: 0, ...cfg });
}

/** "PUT a=1@2" / "DELETE a@5" (with " prev=a=0@1" when prevKv is set). */
function showEvent(e: Event): string {
  const kv = e.kv!;
  const prev = e.prevKv ? ` prev=${dec.decode(e.prevKv.value)}@${e.prevKv.modRevision}` : '';
  if (e.type === Event_EventType.DELETE) return `DELETE ${dec.decode(kv.key)}@${kv.modRevision}${prev}`;
  return `PUT ${dec.decode(kv.key)}=${dec.decode(kv.value)}@${kv.modRevision}${prev}`;
}

/** "w0 r5: PUT a=1@5, ..." or "w0 compacted 5" or "w0 r5 progress". */
function show(r: WatchResponse): string {
  if (r.compactRevision) return `w${r.watchId} compacted ${r.compactRevision}`;
  if (r.events.length === 0) return `w${r.watchId} r${r.revision} progress`;
  return `w${r.watchId} r${r.revision}: ${r.events.map(showEvent).join(', ')}`;
}

/** Responses grouped by watcher ID, keeping each watcher's order. */
const byWatcher = (rs: string[]): string[] =>
  rs.map((r, i) => [Number(/^w(-?\d+)/.exec(r)![1]), i, r] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]).map((x) => x[2]);

/** Takes every buffered response. */
function drain(q: ResponseQueue): string[] {
  const out: string[] = [];
  for (let r = q.tryReceive(); r; r = q.tryReceive()) out.push(show(r));
  return out;
}

describe('watch: live notification', () => {
  test('one response per write txn holding all of its events for the watcher, in order', () => {
    const s = newStore();
    const ws = s.newWatchStream();
    const wk = ws.watch(AUTO_WATCH_ID, b('a'), undefined, 0);
    const wr = ws.watch(AUTO_WATCH_ID, b('a'), b('c'), 0);
    const wp = ws.watch(AUTO_WATCH_ID, b('b'), EMPTY, 0);
    assert.deepEqual([wk, wr, wp], [0, 1, 2]);
    s.put(b('a'), b('1')); // 2
    const t = s.write(); // 3
    t.put(b('b'), b('2'));
    t.put(b('a'), b('3'));
    t.put(b('zz'), b('4'));
    t.put(b('a'), b('5'));
    t.end();
    s.deleteRange(b('a'), b('c')); // 4
    s.put(b('c'), b('6')); // 5
    // the order between watchers is unspecified (etcd iterates a map): compare per watcher
    assert.deepEqual(byWatcher(drain(ws.queue)), [
      'w0 r2: PUT a=1@2',
      'w0 r3: PUT a=3@3, PUT a=5@3',
      'w0 r4: DELETE a@4',
      'w1 r2: PUT a=1@2',
      'w1 r3: PUT b=2@3, PUT a=3@3, PUT a=5@3',
      'w1 r4: DELETE a@4, DELETE b@4',
      'w2 r3: PUT b=2@3, PUT zz=4@3',
      'w2 r4: DELETE b@4',
      'w2 r5: PUT c=6@5',
    ]);
  });

  test('a txn that changes nothing notifies nothing', () => {
    const s = newStore();
    const ws = s.newWatchStream();
    ws.watch(AUTO_WATCH_ID, b(''), EMPTY, 0);
    s.deleteRange(b('nothing'), undefined);
    s.write().end();
    assert.deepEqual(drain(ws.queue), []);
  });

  test('a future start revision: nothing before it is delivered', () => {
    const s = newStore();
    const ws = s.newWatchStream();
    ws.watch(AUTO_WATCH_ID, b('k'), undefined, 4);
    for (let i = 0; i < 4; i++) s.put(b('k'), b(String(i)));
    assert.deepEqual(drain(ws.queue), ['w0 r4: PUT k=2@4', 'w0 r5: PUT k=3@5']);
  });

  test('filters: NOPUT, NODELETE; a response whose events are all filtered is not sent', () => {
    const s = newStore();
    const ws = s.newWatchStream();
    ws.watch(1, b('k'), undefined, 0, [filterNoPut]);
    ws.watch(2, b('k'), undefined, 0, [filterNoDelete]);
    s.put(b('k'), b('1'));
    s.deleteRange(b('k'), undefined);
    const t = s.write();
    t.put(b('k'), b('2'));
    t.deleteRange(b('k'), undefined);
    t.end();
    assert.deepEqual(byWatcher(drain(ws.queue)), ['w1 r3: DELETE k@3', 'w1 r4: DELETE k@4', 'w2 r2: PUT k=1@2', 'w2 r4: PUT k=2@4']);
  });

  test('prev kv: each event gets the value before it (unset for a new key or a compacted revision)', async () => {
    const s = newStore();
    const ws = s.newWatchStream();
    ws.watch(AUTO_WATCH_ID, b('k'), undefined, 0);
    s.put(b('k'), b('1'));
    s.put(b('k'), b('2'));
    s.deleteRange(b('k'), undefined);
    const evs = [...Array(3)].flatMap(() => ws.queue.tryReceive()!.events);
    assert.deepEqual(withPrevKVs(s, evs).map(showEvent), ['PUT k=1@2', 'PUT k=2@3 prev=1@2', 'DELETE k@4 prev=2@3']);
    assert.equal(evs[1]!.prevKv, undefined, 'the shared events are not modified');
    await s.compact(4).done;
    assert.deepEqual(withPrevKVs(s, evs.slice(1)).map(showEvent), ['PUT k=2@3', 'DELETE k@4']);
  });
});

describe('watch: catch-up from a past revision', () => {
  test('unsynced until syncWatchers; then the missed events in one response, then live ones, no gap, no duplicate', () => {
    const s = newStore();
    for (let i = 1; i <= 4; i++) s.put(b('k'), b(String(i))); // 2..5
    s.put(b('other'), b('x')); // 6
    const ws = s.newWatchStream();
    ws.watch(AUTO_WATCH_ID, b('k'), undefined, 3);
    assert.equal(s.unsynced.size(), 1);
    // a write before the sync: not delivered live (the watcher is unsynced) but by the catch-up
    s.deleteRange(b('k'), undefined); // 7
    assert.deepEqual(drain(ws.queue), []);
    assert.equal(s.syncWatchers(), 0);
    assert.equal(s.synced.size(), 1);
    s.put(b('k'), b('5')); // 8
    assert.deepEqual(drain(ws.queue), [
      'w0 r7: PUT k=2@3, PUT k=3@4, PUT k=4@5, DELETE k@7',
      'w0 r8: PUT k=5@8',
    ]);
  });

  test('a watcher from the current revision is unsynced but has nothing to catch up', () => {
    const s = newStore();
    s.put(b('k'), b('1'));
    const ws = s.newWatchStream();
    ws.watch(AUTO_WATCH_ID, b('k'), undefined, 2);
    s.syncWatchers();
    s.put(b('k'), b('2'));
    assert.deepEqual(drain(ws.queue), ['w0 r2: PUT k=1@2', 'w0 r3: PUT k=2@3']);
  });

  test('catch-up is cut into responses of at most watchBatchMaxRevs revisions', () => {
    const saved = watchTunables.watchBatchMaxRevs;
    watchTunables.watchBatchMaxRevs = 2;
    try {
      const s = newStore();
      for (let i = 1; i <= 5; i++) s.put(b('k'), b(String(i))); // 2..6
      const ws = s.newWatchStream();
      ws.watch(AUTO_WATCH_ID, b('k'), undefined, 2);
      assert.equal(s.syncWatchers(), 1);
      assert.equal(s.syncWatchers(), 1);
      assert.equal(s.syncWatchers(), 0);
      s.put(b('k'), b('6'));
      assert.deepEqual(drain(ws.queue), [
        'w0 r6: PUT k=1@2, PUT k=2@3',
        'w0 r6: PUT k=3@4, PUT k=4@5',
        'w0 r6: PUT k=5@6',
        'w0 r7: PUT k=6@7',
      ]);
    } finally {
      watchTunables.watchBatchMaxRevs = saved;
    }
  });

  test('a start revision below the compaction revision cancels the watcher with the compact revision', async () => {
    const s = newStore();
    for (let i = 1; i <= 5; i++) s.put(b('k'), b(String(i))); // 2..6
    await s.compact(5).done;
    const ws = s.newWatchStream();
    ws.watch(7, b('k'), undefined, 3);
    ws.watch(8, b('k'), undefined, 5);
    s.syncWatchers();
    s.put(b('k'), b('6'));
    assert.deepEqual(drain(ws.queue), [
      'w7 compacted 5',
      'w8 r6: PUT k=4@5, PUT k=5@6',
      'w8 r7: PUT k=6@7',
    ]);
    assert.equal(s.unsynced.size(), 0);
    assert.equal(s.synced.size(), 1);
  });

  test('restore: synced watchers catch up from the new backend', () => {
    const src = newStore();
    src.put(b('foo'), b('bar')); // 2
    src.put(b('foo'), b('baz')); // 3
    src.commit();
    const s = newStore();
    const ws = s.newWatchStream();
    ws.watch(AUTO_WATCH_ID, b('foo'), undefined, 0); // minRev 2
    s.restore((src.backend() as MemoryBackend).reopenCommitted());
    assert.equal(s.unsynced.size(), 1);
    s.syncWatchers();
    assert.deepEqual(drain(ws.queue), ['w0 r3: PUT foo=bar@2, PUT foo=baz@3']);
  });
});

describe('watch: slow consumers', () => {
  test('a full queue makes the watcher a victim; writes go on; every event arrives once, in order', () => {
    const s = newStore({ chanBufLen: 2 });
    const slow = s.newWatchStream();
    const fast = s.newWatchStream();
    slow.watch(AUTO_WATCH_ID, b('k'), undefined, 0);
    fast.watch(AUTO_WATCH_ID, b('k'), undefined, 0);
    const fastSeen: string[] = [];
    for (let i = 0; i < 6; i++) {
      assert.equal(s.put(b('k'), b(String(i))), i + 2); // writes never wait
      fastSeen.push(...drain(fast.queue));
    }
    assert.equal(fastSeen.length, 6);
    assert.equal(slow.queue.length, 2);
    assert.equal(s.victimCount(), 1);

    const got: string[] = [];
    for (let round = 0; round < 10 && got.length < 6; round++) {
      const r = slow.queue.tryReceive();
      if (r) got.push(...r.events.map(showEvent));
      s.moveVictims();
      s.syncWatchers();
    }
    got.push(...drain(slow.queue).flatMap((x) => x.replace(/^w0 r\d+: /, '').split(', ')));
    assert.deepEqual(got, ['PUT k=0@2', 'PUT k=1@3', 'PUT k=2@4', 'PUT k=3@5', 'PUT k=4@6', 'PUT k=5@7']);
    assert.equal(s.victimCount(), 0);
    assert.equal(s.synced.size(), 2);
    s.put(b('k'), b('live'));
    assert.deepEqual(drain(slow.queue), ['w0 r8: PUT k=live@8']);
  });

  test('a canceled victim gets nothing more', () => {
    const s = newStore({ chanBufLen: 1 });
    const ws = s.newWatchStream();
    const id = ws.watch(AUTO_WATCH_ID, b('k'), undefined, 0);
    s.put(b('k'), b('1'));
    s.put(b('k'), b('2'));
    assert.equal(s.victimCount(), 1);
    ws.cancel(id);
    assert.equal(s.victimCount(), 0);
    drain(ws.queue);
    s.moveVictims();
    s.syncWatchers();
    s.put(b('k'), b('3'));
    assert.deepEqual(drain(ws.queue), []);
  });
});

describe('watch: stream API', () => {
  test('IDs: automatic from 0, skipping taken ones; explicit; duplicates refused', () => {
    const s = newStore();
    const ws = s.newWatchStream();
    assert.equal(ws.watch(1, b('a'), undefined, 0), 1);
    assert.equal(ws.watch(AUTO_WATCH_ID, b('a'), undefined, 0), 0);
    assert.equal(ws.watch(AUTO_WATCH_ID, b('a'), undefined, 0), 2);
    assert.throws(() => ws.watch(1, b('a'), undefined, 0), ErrWatcherDuplicateID);
    assert.throws(() => ws.watch(1, b('a'), undefined, 0), { message: 'mvcc: duplicate watch ID provided on the WatchStream' });
  });

  test('an empty range is refused; an empty end means from key', () => {
    const s = newStore();
    const ws = s.newWatchStream();
    assert.throws(() => ws.watch(AUTO_WATCH_ID, b('b'), b('a'), 0), ErrEmptyWatcherRange);
    assert.throws(() => ws.watch(AUTO_WATCH_ID, b('a'), b('a'), 0), { message: 'mvcc: watcher range is empty' });
    ws.watch(AUTO_WATCH_ID, b('a'), EMPTY, 0);
  });

  test('cancel stops events; cancel of an unknown ID is ErrWatcherNotExist; close cancels all and ends the queue', async () => {
    const s = newStore();
    const ws = s.newWatchStream();
    const id = ws.watch(AUTO_WATCH_ID, b('a'), undefined, 0);
    ws.watch(AUTO_WATCH_ID, b('a'), undefined, 0);
    ws.cancel(id);
    assert.throws(() => ws.cancel(id), ErrWatcherNotExist);
    assert.throws(() => ws.cancel(id), { message: 'mvcc: watcher does not exist' });
    s.put(b('a'), b('1'));
    assert.deepEqual(drain(ws.queue), ['w1 r2: PUT a=1@2']);
    ws.close();
    assert.equal(s.synced.size(), 0);
    assert.equal(await ws.queue.receive(), undefined);
    assert.throws(() => ws.watch(AUTO_WATCH_ID, b('a'), undefined, 0), ErrEmptyWatcherRange);
  });

  test('progress: only for synced watchers; progress-all only when all are synced', () => {
    const s = newStore();
    s.put(b('a'), b('1'));
    const ws = s.newWatchStream();
    const synced = ws.watch(AUTO_WATCH_ID, b('a'), undefined, 0);
    const behind = ws.watch(AUTO_WATCH_ID, b('a'), undefined, 1);
    ws.requestProgress(synced);
    ws.requestProgress(behind);
    ws.requestProgress(99);
    assert.equal(ws.requestProgressAll(), false);
    assert.deepEqual(drain(ws.queue), ['w0 r2 progress']);
    s.syncWatchers();
    drain(ws.queue);
    ws.requestProgress(behind);
    assert.equal(ws.requestProgressAll(), true);
    assert.deepEqual(drain(ws.queue), ['w1 r2 progress', 'w-1 r2 progress']);
    assert.equal(ws.rev(), 2);
  });
});

describe('watch: with the background loops', () => {
  test('a past-revision watcher catches up by itself and then gets live events', async () => {
    const s = new WatchableStore(new MemoryBackend(), { syncIntervalMs: 5 });
    try {
      s.put(b('k'), b('1'));
      s.put(b('k'), b('2'));
      const ws = s.newWatchStream();
      ws.watch(AUTO_WATCH_ID, b('k'), undefined, 2);
      const first = await ws.queue.receive();
      assert.equal(show(first!), 'w0 r3: PUT k=1@2, PUT k=2@3');
      s.put(b('k'), b('3'));
      assert.equal(show((await ws.queue.receive())!), 'w0 r4: PUT k=3@4');
    } finally {
      s.close();
    }
  });

  test('a consumer reading slowly still receives every revision once, in order, while writes run ahead', async () => {
    const s = new WatchableStore(new MemoryBackend(), { chanBufLen: 3, syncIntervalMs: 5, victimRetryMs: 1 });
    try {
      const ws = s.newWatchStream();
      ws.watch(AUTO_WATCH_ID, b('k'), undefined, 0);
      const n = 200;
      for (let i = 0; i < n; i++) s.put(b('k'), b(String(i)));
      assert.equal(s.rev(), n + 1);
      const revs: number[] = [];
      for await (const r of ws.queue) {
        for (const e of r.events) revs.push(Number(e.kv!.modRevision));
        if (revs.length >= n) break;
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      assert.deepEqual(revs, Array.from({ length: n }, (_, i) => i + 2));
    } finally {
      s.close();
    }
  });
});

describe('watch: randomized interleavings (seeded)', () => {
  /** mulberry32: a small deterministic PRNG. */
  function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  for (const seed of [1, 2, 3, 4, 5]) {
    test(`seed ${seed}: every watcher gets exactly the matching events from its start revision, in order`, () => {
      const rnd = prng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const keys = ['a', 'b', 'c', 'd'];
      const s = newStore({ chanBufLen: 2 });
      /** Every event ever, as "rev key type". */
      const log: { rev: number; key: string; text: string }[] = [];
      const watchers: { q: ResponseQueue; id: number; key: string; end?: string; start: number; got: string[] }[] = [];
      let sawVictim = false;
      let sawCatchUp = false;
      for (let step = 0; step < 300; step++) {
        sawVictim ||= s.victimCount() > 0;
        sawCatchUp ||= s.unsynced.size() > 0;
        const r = rnd();
        if (r < 0.45) {
          const t = s.write();
          const n = 1 + Math.floor(rnd() * 3);
          for (let i = 0; i < n; i++) {
            const k = pick(keys);
            if (rnd() < 0.75) t.put(b(k), b(String(step)));
            else t.deleteRange(b(k), undefined);
          }
          const rev = t.rev() + 1;
          // expected events: the txn's changes, in order
          for (const kv of t.changes()) {
            const k = dec.decode(kv.key);
            log.push({ rev, key: k, text: kv.createRevision === 0n ? `DELETE ${k}@${rev}` : `PUT ${k}=${dec.decode(kv.value)}@${rev}` });
          }
          t.end();
        } else if (r < 0.55 && watchers.length < 12) {
          const ws = s.newWatchStream();
          const start = rnd() < 0.3 ? 0 : 1 + Math.floor(rnd() * s.rev());
          const key = pick(keys);
          const end = rnd() < 0.5 ? undefined : pick(['c', 'e', '']);
          if (end !== undefined && end !== '' && end <= key) continue;
          const id = ws.watch(AUTO_WATCH_ID, b(key), end === undefined ? undefined : b(end), start);
          watchers.push({ q: ws.queue, id, key, end, start: start <= 0 ? s.rev() + 1 : start, got: [] });
        } else if (r < 0.75) {
          s.syncWatchers();
        } else if (r < 0.85) {
          s.moveVictims();
        } else {
          const w = pick(watchers.length ? watchers : [undefined]);
          // take a few responses (maybe none)
          while (w && rnd() < 0.8) {
            const x = w.q.tryReceive();
            if (!x) break;
            w.got.push(...x.events.map(showEvent));
          }
        }
      }
      // let everything settle
      for (let i = 0; i < 400; i++) {
        for (const w of watchers) for (let x = w.q.tryReceive(); x; x = w.q.tryReceive()) w.got.push(...x.events.map(showEvent));
        s.moveVictims();
        s.syncWatchers();
      }
      for (const w of watchers) for (let x = w.q.tryReceive(); x; x = w.q.tryReceive()) w.got.push(...x.events.map(showEvent));
      assert.equal(s.unsynced.size() + s.victimCount(), 0);
      assert.ok(sawVictim && sawCatchUp, 'the run exercised victims and catch-up');
      for (const w of watchers) {
        const inRange = (k: string): boolean => (w.end === undefined ? k === w.key : k >= w.key && (w.end === '' || k < w.end));
        const want = log.filter((e) => e.rev >= w.start && inRange(e.key)).map((e) => e.text);
        assert.deepEqual(w.got, want, `watcher ${w.key}..${w.end} from ${w.start}`);
      }
    });
  }
});
