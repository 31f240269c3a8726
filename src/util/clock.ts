/**
 * @module util/clock
 * The one source of time for everything time-based outside the Raft core
 * (leases, auth tokens, ...). Production code receives a {@link Clock} instead
 * of calling `Date.now()`, so tests can drive time with a {@link ManualClock}
 * and stay fast and deterministic (etcd's lessor has "TODO: use clockwork for
 * testability"; we inject a clock from the start).
 */

/** A source of the current time in milliseconds. */
export interface Clock {
  /**
   * The current time in milliseconds. Only differences between two readings
   * are meaningful; implementations must never go backwards.
   */
  nowMs(): number;
}

/**
 * The real clock. It is monotonic (`performance.timeOrigin + performance.now()`),
 * so wall-clock adjustments do not shorten or lengthen leases and tokens, as
 * with Go's monotonic `time.Now()` readings.
 */
export class SystemClock implements Clock {
  nowMs(): number {
    return performance.timeOrigin + performance.now();
  }
}

/** A shared {@link SystemClock} instance. */
export const systemClock: Clock = new SystemClock();

/**
 * A clock that only moves when told to, for tests.
 *
 * @example
 * const clock = new ManualClock();
 * const t0 = clock.nowMs();
 * clock.advance(1500);
 * clock.nowMs() - t0; // 1500
 */
export class ManualClock implements Clock {
  private now: number;

  /** Starts at `startMs` (default 0). */
  constructor(startMs = 0) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  /** Moves the clock forward by `ms` (must be >= 0; a clock never goes backwards). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance: ms must be >= 0, got ${ms}`);
    this.now += ms;
  }
}
