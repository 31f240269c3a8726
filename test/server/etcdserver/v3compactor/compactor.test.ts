// Auto compaction (etcd 3.4 v3compactor periodic.go / revision.go, embed
// parseCompactionRetention) on a ManualClock and a manual scheduler.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrCompacted } from '../../../../src/server/mvcc/errors.js';
import {
  newCompactor,
  parseCompactionRetention,
  parseGoDuration,
  type Scheduler,
  type Timer,
} from '../../../../src/server/etcdserver/api/v3compactor/compactor.js';
import { REV_INTERVAL_MS } from '../../../../src/server/etcdserver/api/v3compactor/revision.js';
import { ManualClock } from '../../../../src/util/clock.js';

/** Timers fired by `advance`, in time order, on the shared ManualClock. */
class ManualScheduler implements Scheduler {
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  constructor(private readonly clock: ManualClock) {}
  after(ms: number, fn: () => void): Timer {
    const t = { at: this.clock.nowMs() + ms, fn, live: true };
    this.timers.push(t);
    return { cancel: () => void (t.live = false) };
  }
  pending(): number {
    return this.timers.filter((t) => t.live).length;
  }
  async advance(ms: number): Promise<void> {
    const target = this.clock.nowMs() + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.live && t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.live = false;
      this.timers = this.timers.filter((t) => t.live);
      this.clock.advance(due.at - this.clock.nowMs());
      due.fn();
      await new Promise((r) => setImmediate(r));
    }
    this.clock.advance(target - this.clock.nowMs());
  }
}

function harness(failWith?: () => Error | undefined) {
  const clock = new ManualClock(0);
  const scheduler = new ManualScheduler(clock);
  const state = { rev: 1, compacted: [] as number[] };
  const deps = {
    clock,
    scheduler,
    rev: () => state.rev,
    compact: async (r: number) => {
      state.compacted.push(r);
      const e = failWith?.();
      if (e) throw e;
    },
  };
  return { clock, scheduler, state, deps };
}

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('parse retention (embed parseCompactionRetention)', () => {
  test('plain integers: hours for periodic, revisions for revision', () => {
    assert.equal(parseCompactionRetention('periodic', '2'), 2n * 3_600_000_000_000n);
    assert.equal(parseCompactionRetention('revision', '1000'), 1000n);
    assert.equal(parseCompactionRetention('periodic', '0'), 0n);
    assert.equal(parseCompactionRetention('', '5'), 0n);
  });
  test('Go durations', () => {
    assert.equal(parseCompactionRetention('periodic', '30m'), 1_800_000_000_000n);
    assert.equal(parseGoDuration('1h30m'), 5_400_000_000_000n);
    assert.equal(parseGoDuration('1.5s'), 1_500_000_000n);
    assert.equal(parseGoDuration('-2ms'), -2_000_000n);
    assert.equal(parseGoDuration('100µs'), 100_000n);
    assert.equal(parseGoDuration('.5m'), 30_000_000_000n);
    assert.equal(parseCompactionRetention('revision', '1h'), 3_600_000_000_000n, 'etcd uses the nanoseconds as a revision count');
  });
  test("errors carry Go's messages", () => {
    assert.throws(() => parseCompactionRetention('periodic', '1'.concat('x')), /error parsing CompactionRetention: time: unknown unit "x" in duration "1x"/);
    assert.throws(() => parseGoDuration('10'), /time: missing unit in duration "10"/);
    assert.throws(() => parseGoDuration(''), /time: invalid duration ""/);
    assert.throws(() => parseGoDuration('h'), /time: invalid duration "h"/);
    assert.throws(() => parseCompactionRetention('periodic', '-1'), /missing unit/);
    assert.throws(() => newCompactor('weekly', 1n, harness().deps), /unsupported compaction mode weekly/);
    assert.throws(() => newCompactor('periodic', 0n, harness().deps), RangeError);
    assert.throws(() => newCompactor('revision', -5n, harness().deps), RangeError);
  });
});

describe('periodic compactor', () => {
  test('1h: records a revision every 6 min, first compaction after 1h at the revision of 1h ago, then hourly at the one of 66 min ago', async () => {
    const h = harness();
    const c = newCompactor('periodic', 3_600_000_000_000n, h.deps);
    c.run();
    // revision grows by 10 every 6 minutes: recorded 1, 11, 21, ...
    for (let i = 0; i < 10; i++) {
      h.state.rev += 10;
      await h.scheduler.advance(6 * MIN);
    }
    assert.deepEqual(h.state.compacted, [1], 'at 60 min: the revision recorded at 0 min');
    for (let i = 0; i < 9; i++) {
      h.state.rev += 10;
      await h.scheduler.advance(6 * MIN);
    }
    assert.deepEqual(h.state.compacted, [1], 'not again before an hour since the last success');
    h.state.rev += 10;
    await h.scheduler.advance(6 * MIN);
    // etcd's window holds 11 revisions recorded before the wait, so from the second
    // compaction on, revs[0] is the one recorded at 54 min (period + one retry interval ago)
    assert.deepEqual(h.state.compacted, [1, 91], 'at 120 min: the revision recorded at 54 min');
    c.stop();
    assert.equal(h.scheduler.pending(), 0);
  });

  test('10s: compacts every period; a failure is retried after a tenth of it; ErrCompacted counts as success', async () => {
    let fail: Error | undefined = new Error('timeout');
    const h = harness(() => fail);
    const c = newCompactor('periodic', 10_000_000_000n, h.deps);
    c.run();
    await h.scheduler.advance(10_000);
    assert.equal(h.state.compacted.length, 1);
    await h.scheduler.advance(1_000);
    assert.equal(h.state.compacted.length, 2, 'retried one retry interval later');
    fail = new ErrCompacted();
    await h.scheduler.advance(1_000);
    assert.equal(h.state.compacted.length, 3);
    fail = undefined;
    await h.scheduler.advance(9_000);
    assert.equal(h.state.compacted.length, 3, 'ErrCompacted reset the period');
    await h.scheduler.advance(1_000);
    assert.equal(h.state.compacted.length, 4);
    c.stop();
  });

  test('24h: compacts hourly after the first day, keeping a day of history', async () => {
    const h = harness();
    const c = newCompactor('periodic', 24n * 3_600_000_000_000n, h.deps);
    c.run();
    await h.scheduler.advance(24 * HOUR - 1);
    assert.equal(h.state.compacted.length, 0);
    await h.scheduler.advance(1);
    assert.equal(h.state.compacted.length, 1);
    await h.scheduler.advance(HOUR);
    assert.equal(h.state.compacted.length, 2);
    c.stop();
  });

  test('pause keeps recording but does not compact; resume compacts again', async () => {
    const h = harness();
    const c = newCompactor('periodic', 10_000_000_000n, h.deps);
    c.run();
    c.pause();
    await h.scheduler.advance(30_000);
    assert.equal(h.state.compacted.length, 0);
    c.resume();
    h.state.rev = 50;
    await h.scheduler.advance(1_000);
    assert.equal(h.state.compacted.length, 1);
    c.stop();
  });
});

describe('revision compactor', () => {
  test('every 5 min compacts at rev - retention, skipping <= 0 and repeats; ErrCompacted counts', async () => {
    let fail: Error | undefined;
    const h = harness(() => fail);
    const c = newCompactor('revision', 100n, h.deps);
    c.run();
    h.state.rev = 50;
    await h.scheduler.advance(REV_INTERVAL_MS);
    assert.deepEqual(h.state.compacted, []);
    h.state.rev = 350;
    await h.scheduler.advance(REV_INTERVAL_MS - 1);
    assert.deepEqual(h.state.compacted, []);
    await h.scheduler.advance(1);
    assert.deepEqual(h.state.compacted, [250]);
    await h.scheduler.advance(REV_INTERVAL_MS);
    assert.deepEqual(h.state.compacted, [250], 'same revision is not compacted twice');
    h.state.rev = 400;
    fail = new Error('no leader');
    await h.scheduler.advance(REV_INTERVAL_MS);
    await h.scheduler.advance(REV_INTERVAL_MS);
    assert.deepEqual(h.state.compacted, [250, 300, 300], 'failure retried');
    fail = new ErrCompacted();
    await h.scheduler.advance(REV_INTERVAL_MS);
    await h.scheduler.advance(REV_INTERVAL_MS);
    assert.deepEqual(h.state.compacted, [250, 300, 300, 300]);
    c.pause();
    h.state.rev = 1000;
    await h.scheduler.advance(REV_INTERVAL_MS);
    assert.equal(h.state.compacted.length, 4);
    c.resume();
    fail = undefined;
    await h.scheduler.advance(REV_INTERVAL_MS);
    assert.deepEqual(h.state.compacted.at(-1), 900);
    c.stop();
    assert.equal(h.scheduler.pending(), 0);
  });
});
