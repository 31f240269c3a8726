/**
 * @module commands/check/common
 * What `check perf` and `check datascale` share (etcdctl check.go): the load models and
 * their aliases, a progress bar that prints like gopkg.in/cheggaaa/pb.v1 (which etcdctl
 * uses, with the format "Bom !"), a token-bucket rate limiter with golang.org/x/time/rate's
 * burst-1 behaviour, latency statistics as etcd's pkg/report computes them, the random
 * keys etcdctl writes, and the compact/defrag steps of --auto-compact/--auto-defrag
 * (etcdctl util.go compact/defrag).
 */

import { closeSync, openSync } from 'node:fs';
import type * as ttyNs from 'node:tty';
import type * as cryptoNs from 'node:crypto';
import type { CommandContext, Output } from '../../cli/command.js';
import { CliError, ExitBadFeature, ExitError } from '../../cli/exit-codes.js';
import type { FlagSpec } from '../../cli/flags.js';
import { formatGoDuration, goQuote } from '../../cli/go-format.js';
import type { EtcdClient } from '../../client/client.js';
import { EtcdError } from '../../client/errors.js';

/** Load model names accepted by --load, mapped to the model (s, m, l, xl). */
const LOAD_ALIASES: Record<string, string> = {
  s: 's', small: 's',
  m: 'm', medium: 'm',
  l: 'l', large: 'l',
  xl: 'xl', xLarge: 'xl',
};

/**
 * The model named by --load.
 * @throws CliError(ExitBadFeature) `unknown load option <x>` (etcdctl exits 4)
 */
export function loadModel(load: string): string {
  const m = Object.prototype.hasOwnProperty.call(LOAD_ALIASES, load) ? LOAD_ALIASES[load] : undefined;
  if (m === undefined) throw new CliError(ExitBadFeature, `unknown load option ${load}`);
  return m;
}

/** --auto-compact and --auto-defrag, shared by both check commands. */
export const AUTO_FLAGS: FlagSpec[] = [
  { name: 'auto-compact', type: 'bool', default: false, usage: 'Compact storage with last revision after test is finished.' },
  { name: 'auto-defrag', type: 'bool', default: false, usage: 'Defragment storage after test is finished.' },
];

/** The message of etcdctl's exit 3 when the check's prefix already holds keys. */
export function prefixHasKeysMessage(prefix: string): string {
  return `prefix ${goQuote(prefix)} has keys. Delete with etcdctl del --prefix ${prefix} first`;
}

/** Promise-based sleep (ms). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Columns of the controlling terminal, as pb.v1 measures it (TIOCGWINSZ on /dev/tty,
 * else on stdin); 0 when there is none, in which case the bar is drawn without the bar
 * itself and without padding.
 */
export function terminalWidth(): number {
  let fd: number | undefined;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    fd = undefined;
  }
  try {
    const probe = fd ?? 0;
    const tty = process.getBuiltinModule('node:tty') as typeof ttyNs;
    if (!tty.isatty(probe)) return 0;
    const ws = new tty.WriteStream(probe);
    const cols = ws.columns ?? 0;
    ws.destroySoon?.();
    return cols;
  } catch {
    return 0;
  } finally {
    if (fd !== undefined) {
      try { closeSync(fd); } catch { /* ignore */ }
    }
  }
}

/**
 * A progress bar that prints what pb.v1 prints with etcdctl's settings: `\r` followed by
 * ` <current> / <total> `, the bar (only when a terminal width is known), the percentage
 * ` %6.02f%`, and the estimated time left ` 00m59s` (or, when finished, the elapsed time
 * as a Go duration and a newline). It redraws every 200 ms on stdout.
 */
export class ProgressBar {
  private current = 0;
  private previous = 0;
  private startTime = 0;
  private changeTime = 0;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  private readonly width: number;

  /**
   * @param out stdout (each redraw is flushed at once)
   * @param total the value at 100%
   */
  constructor(private readonly out: Output, private readonly total: number) {
    this.width = terminalWidth();
  }

  /** Draws the bar and starts redrawing it every 200 ms. */
  start(): void {
    this.startTime = Date.now();
    this.changeTime = this.startTime;
    this.update();
    this.timer = setInterval(() => this.update(), 200);
  }

  /** Adds `n` to the current value (redrawn on the next tick). */
  add(n = 1): void {
    this.current += n;
  }

  /** Draws the final state with the elapsed time and a newline; later calls do nothing. */
  finish(): void {
    if (this.finished) return;
    this.stopTimer();
    this.draw(true);
    this.out.write('\n');
    this.out.flush();
    this.finished = true;
  }

  /** Stops redrawing without finishing (the process is about to print its results). */
  stop(): void {
    this.stopTimer();
    this.finished = true;
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private update(): void {
    if (this.current !== this.previous) {
      this.changeTime = Date.now();
      this.previous = this.current;
    }
    this.draw(false);
  }

  private draw(final: boolean): void {
    if (this.finished) return;
    const total = this.total;
    const current = this.current;
    const percent = total > 0 ? current / (total / 100) : current / 100;
    const percentBox = ` ${percent.toFixed(2).padStart(6)}%`;
    const countersBox = total > 0 ? ` ${current} / ${total} ` : ` ${current} / ? `;
    const now = Date.now();
    const fromStartMs = now - this.startTime;
    let timeBox = '';
    if (final) {
      timeBox = ` ${formatGoDuration(Math.floor(fromStartMs / 1000) * 1e9)}`;
    } else if (current > 0) {
      const perEntry = (this.changeTime - this.startTime) / current;
      let leftMs = total > 0 ? (total - current) * perEntry - (now - this.changeTime) : current * perEntry;
      leftMs = Math.trunc(leftMs / 1000) * 1000;
      if (leftMs > 0) {
        const s = leftMs / 1000;
        let txt = '';
        let rest = s;
        if (rest > 86400) { txt += `${Math.floor(rest / 86400)}d`; rest %= 86400; }
        if (rest > 3600) { txt += `${Math.floor(rest / 3600)}h`; rest %= 3600; }
        txt += `${String(Math.floor(rest / 60)).padStart(2, '0')}m${String(rest % 60).padStart(2, '0')}s`;
        timeBox = ` ${txt}`;
      }
    }
    let barBox = '';
    const fixed = [...(countersBox + 'B!' + percentBox + timeBox)].length;
    const size = this.width - fixed;
    if (this.width > 0 && size > 0) {
      if (total > 0) {
        let curSize = Math.ceil((current / total) * size);
        const emptySize = Math.max(0, size - curSize);
        if (curSize > size) curSize = size;
        barBox = 'B';
        if (emptySize <= 0) barBox += 'o'.repeat(curSize);
        else if (curSize > 0) barBox += 'o'.repeat(curSize - 1) + 'm';
        barBox += ' '.repeat(emptySize) + '!';
      } else {
        const pos = size - (current % size);
        barBox = 'B' + ' '.repeat(Math.max(0, pos - 1)) + 'o' + ' '.repeat(Math.max(0, size - pos - 1)) + '!';
      }
    }
    const line = countersBox + barBox + percentBox + timeBox;
    const len = [...line].length;
    const end = len < this.width ? ' '.repeat(this.width - len) : '';
    this.out.write('\r' + line + end);
    this.out.flush();
  }
}

/**
 * A limiter handing out `ratePerSec` tokens per second with a burst of 1, like
 * rate.NewLimiter(limit, 1): waiting callers are spaced 1/rate apart, and time spent
 * not asking is not saved up (beyond a 2 ms allowance for timer lateness, since Node's
 * timers cannot sleep for less than a millisecond).
 */
export class RateLimiter {
  private next = 0;
  private readonly intervalMs: number;

  constructor(ratePerSec: number, private readonly deadline: number) {
    this.intervalMs = 1000 / ratePerSec;
  }

  /**
   * Waits for the next token.
   * @returns false (at once) when the token would come after the deadline, as
   *   Limiter.Wait fails when its context would expire first
   */
  async wait(): Promise<boolean> {
    const now = performance.now() + performance.timeOrigin;
    const at = Math.max(this.next, now - 2);
    if (at > this.deadline) return false;
    this.next = at + this.intervalMs;
    if (at - now >= 1) await sleep(at - now);
    return true;
  }
}

/** One request's outcome: its latency in seconds, or its error text. */
export interface Result {
  seconds?: number;
  error?: string;
}

/** Summary statistics of pkg/report (seconds; RPS over the whole collection time). */
export interface Stats {
  rps: number;
  slowest: number;
  average: number;
  stddev: number;
  /** error text → count */
  errorDist: Map<string, number>;
  /** number of successful requests */
  count: number;
}

/**
 * Collects results as etcd's pkg/report does: the clock starts when the collector is
 * created and stops at `stats()`; errors are counted by message, successes feed the
 * latency statistics.
 */
export class Report {
  private readonly started = performance.now();
  private readonly lats: number[] = [];
  private sum = 0;
  private readonly errors = new Map<string, number>();

  add(r: Result): void {
    if (r.error !== undefined) {
      this.errors.set(r.error, (this.errors.get(r.error) ?? 0) + 1);
      return;
    }
    this.lats.push(r.seconds!);
    this.sum += r.seconds!;
  }

  stats(): Stats {
    const totalSec = (performance.now() - this.started) / 1000;
    const n = this.lats.length;
    const average = this.sum / n;
    let sq = 0;
    let slowest = 0;
    for (const l of this.lats) {
      sq += (l - average) * (l - average);
      if (l > slowest) slowest = l;
    }
    return { rps: n / totalSec, slowest, average, stddev: Math.sqrt(sq / n), errorDist: this.errors, count: n };
  }
}

/** Go's %f: six decimals (NaN and infinities as Go prints them). */
export function goFloatF(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  return x.toFixed(6);
}

/**
 * Writes a random non-negative 63-bit integer as a Go signed varint (zig-zag, then
 * base-128) at the start of `buf`, leaving the rest of `buf` as it was — the keys
 * etcdctl builds with binary.PutVarint(k, rand.Int63n(math.MaxInt64)).
 */
export function putRandomVarint(buf: Uint8Array): void {
  const r = (process.getBuiltinModule('node:crypto') as typeof cryptoNs).randomBytes(8).readBigUInt64BE(0) & 0x7fffffffffffffffn;
  let ux = (r % 0x7fffffffffffffffn) << 1n;
  let i = 0;
  while (ux >= 0x80n) {
    buf[i++] = Number(ux & 0x7fn) | 0x80;
    ux >>= 7n;
  }
  buf[i] = Number(ux);
}

/** Runs `worker` `n` times concurrently and waits for all of them. */
export async function runWorkers(n: number, worker: () => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: n }, () => worker()));
}

/**
 * A bounded queue of requests between the generator and the workers (a Go channel with
 * a buffer): `push` waits while it is full, `pop` waits while it is empty and returns
 * undefined once it is closed and drained.
 */
export class RequestQueue<T> {
  private readonly items: T[] = [];
  private closed = false;
  private readonly takers: Array<(v: T | undefined) => void> = [];
  private readonly givers: Array<() => void> = [];

  constructor(private readonly capacity: number) {}

  async push(v: T): Promise<void> {
    while (this.takers.length === 0 && this.items.length >= this.capacity) {
      await new Promise<void>((r) => this.givers.push(r));
    }
    const taker = this.takers.shift();
    if (taker) taker(v);
    else this.items.push(v);
  }

  async pop(): Promise<T | undefined> {
    if (this.items.length > 0) {
      const v = this.items.shift()!;
      this.givers.shift()?.();
      return v;
    }
    if (this.closed) return undefined;
    return new Promise((r) => this.takers.push(r));
  }

  close(): void {
    this.closed = true;
    for (const t of this.takers.splice(0)) t(undefined);
  }
}

/** The error text etcdctl would count for a failed request. */
export function errorText(e: unknown): string {
  return e instanceof EtcdError || e instanceof Error ? e.message : String(e);
}

/**
 * Deletes the check's keys, then compacts/defragments as asked (etcdctl util.go
 * compact/defrag, each with a 30 s deadline and progress lines on stdout).
 * @throws CliError(ExitError) with the RPC error text
 */
export async function cleanUp(ctx: CommandContext, client: EtcdClient, prefix: Uint8Array, prefixEnd: Uint8Array): Promise<void> {
  let rev: bigint;
  try {
    const d = await client.deleteRange({ key: prefix, rangeEnd: prefixEnd }, { timeoutMs: 30_000 });
    rev = d.header?.revision ?? 0n;
  } catch (e) {
    throw asCliError(e);
  }
  if (ctx.flags.bool('auto-compact')) {
    ctx.out.write(`Compacting with revision ${rev}\n`);
    try {
      await client.compact({ revision: rev, physical: true }, { timeoutMs: 30_000 });
    } catch (e) {
      throw asCliError(e);
    }
    ctx.out.write(`Compacted with revision ${rev}\n`);
  }
  if (ctx.flags.bool('auto-defrag')) {
    for (const ep of ctx.globals().endpoints) {
      ctx.out.write(`Defragmenting ${goQuote(ep)}\n`);
      const one = client.forEndpoint(ep);
      try {
        await one.defragment({ timeoutMs: 30_000 });
      } catch (e) {
        throw asCliError(e);
      } finally {
        one.close();
      }
      ctx.out.write(`Defragmented ${goQuote(ep)}\n`);
    }
  }
}

/** An RPC failure as etcdctl's ExitWithError(ExitError, err). */
export function asCliError(e: unknown): unknown {
  if (e instanceof EtcdError) return new CliError(ExitError, e.message, e.reason);
  return e;
}

/**
 * A test-only override of a check's size from the environment (ETCDTS_* variables are
 * never ETCDCTL_ ones, so etcdctl's unknown-variable warning does not apply).
 * @returns the positive integer in `env[name]`, else `fallback`
 */
export function envOverride(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = Number(env[name]);
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
}
