/**
 * @module server/etcdserver/api/v3compactor/periodic
 * Time-based auto compaction (etcd 3.4 v3compactor/periodic.go).
 *
 * With retention period P: the retry interval is min(P, 1h) / 10 and the
 * compact interval min(P, 1h). Every retry interval the compactor records the
 * current revision, keeping the last `P / retry + 1` of them, so the oldest is
 * the revision of about P ago. It compacts nothing during the first P; then it
 * compacts at the oldest recorded revision whenever the last successful
 * compaction is at least the compact interval ago (so every P for P <= 1h, and
 * every hour for longer retentions, always keeping P of history). A failed
 * compaction is retried one retry interval later; ErrCompacted counts as
 * success. Example (P = 1h): revisions recorded every 6 min, first compaction
 * after 1h at the revision of 1h ago, then hourly.
 */

import { ErrCompacted } from '../../../mvcc/errors.js';
import type { Compactor, CompactorDeps, Timer } from './compactor.js';

const HOUR_NS = 3_600_000_000_000n;
const RETRY_DIVISOR = 10n;

/** See the module comment. */
export class Periodic implements Compactor {
  private readonly periodMs: number;
  private readonly compactIntervalMs: number;
  private readonly retryIntervalMs: number;
  private readonly retentions: number;
  /** Revisions recorded every retry interval; `revs[0]` is the one of about a period ago. */
  revs: number[] = [];
  private lastSuccessMs = 0;
  private baseIntervalMs = 0;
  private paused = false;
  private stopped = false;
  private started = false;
  private timer: Timer | undefined;

  /**
   * @param periodNs the retention in nanoseconds (> 0 and at least 10 ns).
   * Throws RangeError otherwise.
   */
  constructor(
    periodNs: bigint,
    private readonly deps: CompactorDeps,
  ) {
    const itv = periodNs > HOUR_NS ? HOUR_NS : periodNs;
    const retry = itv / RETRY_DIVISOR;
    if (periodNs <= 0n || retry === 0n) throw new RangeError(`periodic compaction retention must be at least 10ns, got ${periodNs}ns`);
    this.periodMs = Number(periodNs) / 1e6;
    this.compactIntervalMs = Number(itv) / 1e6;
    this.retryIntervalMs = Number(retry) / 1e6;
    this.retentions = Number(periodNs / retry) + 1;
  }

  run(): void {
    if (this.started) throw new Error('periodic compactor: run called twice');
    this.started = true;
    this.lastSuccessMs = this.deps.clock.nowMs();
    this.baseIntervalMs = this.periodMs;
    this.record();
  }

  /** Records the current revision and waits one retry interval (the top of etcd's loop). */
  private record(): void {
    if (this.stopped) return;
    this.revs.push(this.deps.rev());
    if (this.revs.length > this.retentions) this.revs = this.revs.slice(1);
    this.timer = this.deps.scheduler.after(this.retryIntervalMs, () => void this.tick());
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    if (this.paused || this.deps.clock.nowMs() - this.lastSuccessMs < this.baseIntervalMs) {
      this.record();
      return;
    }
    if (this.baseIntervalMs === this.periodMs) this.baseIntervalMs = this.compactIntervalMs;
    const rev = this.revs[0]!;
    const lg = this.deps.logger;
    lg?.info('starting auto periodic compaction', { revision: rev, 'compact-period-ms': this.periodMs });
    try {
      await this.deps.compact(rev);
      this.succeeded(rev);
    } catch (e) {
      if (e instanceof ErrCompacted) this.succeeded(rev);
      else lg?.warn('failed auto periodic compaction', { revision: rev, 'retry-interval-ms': this.retryIntervalMs, error: String((e as Error)?.message ?? e) });
    }
    this.record();
  }

  private succeeded(rev: number): void {
    this.deps.logger?.info('completed auto periodic compaction', { revision: rev, 'compact-period-ms': this.periodMs });
    this.lastSuccessMs = this.deps.clock.nowMs();
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
