/**
 * @module server/etcdserver/api/v3compactor/revision
 * Revision-based auto compaction (etcd 3.4 v3compactor/revision.go): every 5
 * minutes, compact at `current revision - retention` unless that is <= 0 or
 * the revision compacted last time. ErrCompacted counts as success; another
 * failure is retried 5 minutes later. Example (retention 1000, revision 5300):
 * compacts at 4300, keeping the last 1000 revisions.
 */

import { ErrCompacted } from '../../../mvcc/errors.js';
import type { Compactor, CompactorDeps, Timer } from './compactor.js';

/** Interval between compactions: 5 minutes (etcd `revInterval`). */
export const REV_INTERVAL_MS = 5 * 60 * 1000;

/** See the module comment. */
export class Revision implements Compactor {
  private readonly retention: number;
  private prev = 0;
  private paused = false;
  private stopped = false;
  private started = false;
  private timer: Timer | undefined;

  /** @param retention revisions to keep (> 0); throws RangeError otherwise. */
  constructor(
    retention: bigint,
    private readonly deps: CompactorDeps,
  ) {
    if (retention <= 0n) throw new RangeError(`revision compaction retention must be positive, got ${retention}`);
    this.retention = Number(retention);
  }

  run(): void {
    if (this.started) throw new Error('revision compactor: run called twice');
    this.started = true;
    this.wait();
  }

  private wait(): void {
    if (this.stopped) return;
    this.timer = this.deps.scheduler.after(REV_INTERVAL_MS, () => void this.tick());
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    const rev = this.deps.rev() - this.retention;
    if (this.paused || rev <= 0 || rev === this.prev) {
      this.wait();
      return;
    }
    const lg = this.deps.logger;
    lg?.info('starting auto revision compaction', { revision: rev, 'revision-compaction-retention': this.retention });
    try {
      await this.deps.compact(rev);
      this.prev = rev;
      lg?.info('completed auto revision compaction', { revision: rev, 'revision-compaction-retention': this.retention });
    } catch (e) {
      if (e instanceof ErrCompacted) this.prev = rev;
      else lg?.warn('failed auto revision compaction', { revision: rev, 'retry-interval-ms': REV_INTERVAL_MS, error: String((e as Error)?.message ?? e) });
    }
    this.wait();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }
}
