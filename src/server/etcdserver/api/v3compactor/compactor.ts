/**
 * @module server/etcdserver/api/v3compactor/compactor
 * Automatic compaction (etcd 3.4 etcdserver/api/v3compactor/compactor.go and
 * the retention parsing of embed/etcd.go `parseCompactionRetention`).
 *
 * Two modes (`--auto-compaction-mode`):
 * - `periodic` (periodic.ts): keep about `retention` of history; the
 *   retention is a Go duration (`30m`, `1h30m`, `5s`) or a plain number of hours;
 * - `revision` (revision.ts): every 5 minutes keep the last `retention` revisions.
 * A retention of 0 disables auto compaction (the server creates no compactor).
 *
 * The compactor runs only on the leader: the server calls `pause()` when this
 * member loses leadership and `resume()` when it gains it (etcd server.go), and
 * `stop()` on shutdown. Time comes from an injected {@link Clock} and every wait
 * from an injected {@link Scheduler}, so tests drive both by hand; the
 * compaction itself is the injected `compact(rev)` (the server proposes a
 * CompactionRequest and resolves when it is applied).
 */

import type { Clock } from '../../../../util/clock.js';
import { Periodic } from './periodic.js';
import { Revision } from './revision.js';

/** `--auto-compaction-mode periodic` (etcd `ModePeriodic`). */
export const MODE_PERIODIC = 'periodic';
/** `--auto-compaction-mode revision` (etcd `ModeRevision`). */
export const MODE_REVISION = 'revision';

/** A running auto-compactor (etcd `Compactor`). */
export interface Compactor {
  /** Starts the loop (call once). */
  run(): void;
  /** Stops the loop for good; a compaction in flight is not cancelled but its result is ignored. */
  stop(): void;
  /** Suspends compactions (this member is not the leader); the loop keeps ticking. */
  pause(): void;
  /** Undoes {@link pause}. */
  resume(): void;
}

/** A cancellable scheduled call. */
export interface Timer {
  cancel(): void;
}

/** Runs a function later (the compactor's only source of waiting, clockwork's `After`). */
export interface Scheduler {
  /** Calls `fn` once after `ms` milliseconds (`ms` >= 0). */
  after(ms: number, fn: () => void): Timer;
}

/** The real scheduler: `setTimeout`, unref'd so that it never keeps the process alive. */
export const realScheduler: Scheduler = {
  after(ms: number, fn: () => void): Timer {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

/** Minimal logger (zap-like). */
export interface CompactorLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/** What a compactor works with (etcd's `RevGetter`, `Compactable` and clock). */
export interface CompactorDeps {
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  /** The current store revision (etcd `RevGetter.Rev`). */
  rev(): number;
  /**
   * Compacts at `rev` through raft (etcd `Compactable.Compact`). Rejects with
   * mvcc's ErrCompacted when `rev` was already compacted (counted as a success,
   * as etcd does) or any other error (retried later).
   */
  compact(rev: number): Promise<void>;
  readonly logger?: CompactorLogger;
}

const NS_PER: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  'µs': 1000n, // U+00B5 micro sign
  'μs': 1000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_INT64 = (1n << 63n) - 1n;

/**
 * Parses a Go duration string (Go `time.ParseDuration`: `300ms`, `-1.5h`,
 * `2h45m`, `0`) into nanoseconds. Throws Error with Go's messages:
 * `time: invalid duration "x"`, `time: missing unit in duration "1"`,
 * `time: unknown unit "x" in duration "1x"`.
 */
export function parseGoDuration(s: string): bigint {
  const orig = s;
  const quoted = JSON.stringify(orig);
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw new Error(`time: invalid duration ${quoted}`);
  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || (s[0]! >= '0' && s[0]! <= '9'))) throw new Error(`time: invalid duration ${quoted}`);
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const intPart = m[1]!;
    const fracPart = m[2];
    if (intPart === '' && (fracPart === undefined || fracPart === '')) throw new Error(`time: invalid duration ${quoted}`);
    s = s.slice(m[0].length);
    let i = 0;
    while (i < s.length && s[i] !== '.' && !(s[i]! >= '0' && s[i]! <= '9')) i++;
    if (i === 0) throw new Error(`time: missing unit in duration ${quoted}`);
    const u = s.slice(0, i);
    s = s.slice(i);
    const unit = NS_PER[u];
    if (unit === undefined) throw new Error(`time: unknown unit ${JSON.stringify(u)} in duration ${quoted}`);
    const v = BigInt(intPart === '' ? '0' : intPart);
    if (v > MAX_INT64 / unit) throw new Error(`time: invalid duration ${quoted}`);
    let d = v * unit;
    if (fracPart) {
      // Go: v += uint64(float64(f) * (float64(unit) / scale)), with f's digits capped before overflow
      let f = 0;
      let scale = 1;
      for (const ch of fracPart) {
        if (f > (2 ** 63 - 1) / 10) break;
        f = f * 10 + (ch.charCodeAt(0) - 48);
        scale *= 10;
      }
      d += BigInt(Math.trunc(f * (Number(unit) / scale)));
    }
    total += d;
    if (total > MAX_INT64) throw new Error(`time: invalid duration ${quoted}`);
  }
  return neg ? -total : total;
}

/**
 * The retention of `--auto-compaction-retention` for `mode` (etcd embed
 * `parseCompactionRetention`): a non-negative integer is a revision count in
 * revision mode and hours in periodic mode (any other mode: 0); anything else
 * is parsed as a Go duration, giving nanoseconds (in revision mode etcd then
 * uses those nanoseconds as the revision count, and so do we). Returns
 * nanoseconds (periodic) or revisions (revision). Throws Error
 * `error parsing CompactionRetention: <go error>`.
 */
export function parseCompactionRetention(mode: string, retention: string): bigint {
  if (/^[+-]?\d+$/.test(retention)) {
    const h = BigInt(retention);
    if (h >= 0n && h <= MAX_INT64) {
      if (mode === MODE_REVISION) return h;
      if (mode === MODE_PERIODIC) {
        const ns = h * NS_PER.h!;
        // Go's int64 multiplication wraps; refuse instead of compacting with a garbage period
        if (ns > MAX_INT64) throw new Error(`error parsing CompactionRetention: retention ${retention} hours is too large`);
        return ns;
      }
      return 0n;
    }
  }
  try {
    return parseGoDuration(retention);
  } catch (e) {
    throw new Error(`error parsing CompactionRetention: ${(e as Error).message}`);
  }
}

/**
 * Creates the compactor for `mode` (etcd `v3compactor.New`); `retention` as
 * returned by {@link parseCompactionRetention}. Throws Error
 * `unsupported compaction mode <mode>`, or RangeError for a retention that is
 * not positive (etcd would spin or panic).
 */
export function newCompactor(mode: string, retention: bigint, deps: CompactorDeps): Compactor {
  switch (mode) {
    case MODE_PERIODIC:
      return new Periodic(retention, deps);
    case MODE_REVISION:
      return new Revision(retention, deps);
    default:
      throw new Error(`unsupported compaction mode ${mode}`);
  }
}
