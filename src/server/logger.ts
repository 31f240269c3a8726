/**
 * The server's logger: JSON lines shaped like etcd 3.4's zap output
 * (etcd pkg/logutil/zap.go DefaultZapLoggerConfig, embed/config_logging.go):
 *
 *   {"level":"info","ts":"2026-11-21T02:15:00.123Z","caller":"etcdmain/main.ts:42","msg":"...","key":"value"}
 *
 * - `level`: debug | info | warn | error | panic | fatal;
 * - `ts`: local time, ISO-8601 with milliseconds and zone ("Z" in UTC, else "+0100"), as zap's ISO8601TimeEncoder;
 * - `caller`: the calling file relative to src/server (or dist/src/server) and its line, like zap's "embed/etcd.go:117";
 * - `msg` then the fields in the order given; Error values become their message (zap.Error).
 *
 * Written with pino (pino 10) to the --log-outputs: "default"/"stderr" (fd 2),
 * "stdout" (fd 1) or file paths (appended). Writes are synchronous, so a `fatal`
 * line is on disk before the process exits.
 *
 * With --logger=capnslog (etcd 3.4's default) the same calls print capnslog lines
 * instead (createCapnslogLogger): `2026-11-21 02:22:10.456922 I | etcdserver: text`.
 * etcd 3.4 writes a different text per logger at each site (`if lg != nil { lg.Info(...) }
 * else { plog.Infof(...) }`); a call site gives that text as the optional third argument
 * ({@link Capnslog}). Lines logged without one get a generic rendering of msg and fields.
 *
 * Server code depends only on the `Logger` interface; tests use `nopLogger` or
 * `MemoryLogger`. This interface also satisfies the Raft core's logger (raft/logger.ts).
 */
import { readFileSync, writeSync } from 'node:fs';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';

/** Structured fields of one log line (zap fields). */
export type LogFields = Record<string, unknown>;

/** capnslog's level letters: Critical, Error, Warning, Notice, Info, Debug. */
export type CapnslogLevel = 'C' | 'E' | 'W' | 'N' | 'I' | 'D';

/**
 * What etcd 3.4 prints for one event under --logger=capnslog: its package logger
 * (`pkg`, e.g. "etcdserver" or "etcdserver/membership") and the formatted text, e.g.
 * `{ pkg: 'etcdserver', text: 'published {Name:n1 ClientURLs:[http://127.0.0.1:2379]} to cluster 2264b312802ce73b' }`.
 * `level` overrides the letter implied by the method (etcd logs some events with plog.Noticef: "N").
 */
export interface Capnslog {
  pkg: string;
  text: string;
  level?: CapnslogLevel;
}

/**
 * What server code logs through: the zap message and fields, and optionally the
 * capnslog rendering of the same event. An empty zap message logs the capnslog line only
 * (etcd sites of the form `if lg == nil { plog.Info(...) }`). `fatal` only logs: the caller decides to exit
 * (etcd's lg.Fatal exits 1).
 */
export interface Logger {
  debug(msg: string, fields?: LogFields, capnslog?: Capnslog): void;
  info(msg: string, fields?: LogFields, capnslog?: Capnslog): void;
  warn(msg: string, fields?: LogFields, capnslog?: Capnslog): void;
  error(msg: string, fields?: LogFields, capnslog?: Capnslog): void;
  fatal(msg: string, fields?: LogFields, capnslog?: Capnslog): void;
}

/** Levels accepted by --log-level (etcd pkg/logutil ConvertToZapLevel). */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'dpanic', 'panic', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A logger that drops everything. */
export const nopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal() {},
};

/** One line kept by MemoryLogger. */
export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  msg: string;
  fields: LogFields;
  /** The capnslog rendering the call site gave, if any. */
  capnslog?: Capnslog;
}

/** A logger for tests: keeps every entry in `entries`. */
export class MemoryLogger implements Logger {
  readonly entries: LogEntry[] = [];
  private add(level: LogEntry['level'], msg: string, fields: LogFields, capnslog: Capnslog | undefined): void {
    this.entries.push(capnslog ? { level, msg, fields, capnslog } : { level, msg, fields });
  }
  debug(msg: string, fields: LogFields = {}, capnslog?: Capnslog): void {
    this.add('debug', msg, fields, capnslog);
  }
  info(msg: string, fields: LogFields = {}, capnslog?: Capnslog): void {
    this.add('info', msg, fields, capnslog);
  }
  warn(msg: string, fields: LogFields = {}, capnslog?: Capnslog): void {
    this.add('warn', msg, fields, capnslog);
  }
  error(msg: string, fields: LogFields = {}, capnslog?: Capnslog): void {
    this.add('error', msg, fields, capnslog);
  }
  fatal(msg: string, fields: LogFields = {}, capnslog?: Capnslog): void {
    this.add('fatal', msg, fields, capnslog);
  }
}

/** Options of createZapLogger. */
export interface ZapLoggerOptions {
  /** --log-level (default "info"). Throws Error(`unknown level "x"`) otherwise. */
  level?: string;
  /** --log-outputs: "default" | "stderr" | "stdout" | file paths (default ["default"]). */
  outputs?: readonly string[];
  /** For tests: write here instead of `outputs`. */
  stream?: DestinationStream;
  /** For tests: fixed clock (ms since epoch). */
  now?: () => number;
}

/** zap's ISO8601TimeEncoder: "2006-01-02T15:04:05.000Z0700" in local time. */
export function zapTimestamp(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const p = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');
  const zone = off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${p(Math.trunc(off / 60))}${p(off % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}${zone}`;
}

/** capnslog's pretty formatter time: "2006-01-02 15:04:05.000000" in local time. */
export function capnslogTimestamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}000`;
}

/**
 * One line as etcd 3.4's default capnslog logger prints it, e.g.
 * `2026-11-21 02:22:10.456922 E | etcdmain: error verifying flags, ...`.
 * `level`: C (critical/fatal) E W N I D.
 */
export function capnslogLine(level: CapnslogLevel, pkg: string, text: string, now = Date.now()): string {
  return `${capnslogTimestamp(now)} ${level} | ${pkg}: ${text}\n`;
}

const SERVER_DIR = (() => {
  // this file is src/server/logger.ts (dist/src/server/logger.js once built)
  const here = fileURLToPath(import.meta.url);
  return here.slice(0, here.lastIndexOf(sep) + 1);
})();

/** "etcdmain/main.ts:42" for the frame `depth` levels above the logger method. */
function callerOf(depth: number): string {
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = depth + 1;
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder);
  Error.stackTraceLimit = saved;
  const frame = (holder.stack ?? '').split('\n')[depth + 1] ?? '';
  const m = /\(?(?:file:\/\/)?([^()\s]+):(\d+):\d+\)?$/.exec(frame.trim());
  if (!m) return 'unknown';
  let file = m[1];
  let line = Number(m[2]);
  if (file.endsWith('.cjs')) {
    const at = bundleModuleAt(file, line);
    if (at) [file, line] = at;
  }
  if (file.startsWith(SERVER_DIR)) file = file.slice(SERVER_DIR.length);
  else if (file.startsWith('src/server/')) file = file.slice('src/server/'.length);
  else file = file.split(sep).slice(-2).join('/');
  return `${file.replace(/\.js$/, '.ts').split(sep).join('/')}:${line}`;
}

/** Per bundle file: the first line of each module in it, ascending, with its source path. */
const bundleModules = new Map<string, Array<[number, string]>>();

/**
 * For a line of a bundle built by scripts/build.mjs (dist/etcd.cjs, not minified): the
 * source module it belongs to and the line counted from the module's start; undefined
 * outside a src/ module or without the bundle's module table (`<bundle>.modules.json`,
 * `[[firstLine, "src/...ts"], ...]` ascending, written by the build), read once.
 */
function bundleModuleAt(bundle: string, line: number): [string, number] | undefined {
  let mods = bundleModules.get(bundle);
  if (!mods) {
    try {
      mods = JSON.parse(readFileSync(`${bundle}.modules.json`, 'utf8')) as Array<[number, string]>;
    } catch {
      mods = []; // not readable: callers stay bundle lines
    }
    bundleModules.set(bundle, mods);
  }
  let lo = 0;
  let hi = mods.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (mods[mid]![0] <= line) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found < 0 || !mods[found]![1].startsWith('src/')) return undefined;
  return [mods[found]![1], line - mods[found]![0]];
}

/** Field values as zap writes them: Error → message, bigint → number text, URL → string. */
function plainFields(fields: LogFields | undefined): LogFields {
  if (!fields) return {};
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) out[k] = v.message;
    else if (typeof v === 'bigint') out[k] = Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    else if (v instanceof URL) out[k] = v.href;
    else out[k] = v;
  }
  return out;
}

/** A Logger writing zap-shaped JSON lines through pino. */
class ZapLogger implements Logger {
  constructor(private readonly p: PinoLogger<'panic' | 'dpanic'>) {}
  private write(level: 'debug' | 'info' | 'warn' | 'error' | 'fatal', msg: string, fields?: LogFields): void {
    if (msg === '' || !this.p.isLevelEnabled(level)) return;
    // caller and msg go first so the key order matches zap's (pino would put msg last)
    this.p[level]({ caller: callerOf(3), msg, ...plainFields(fields) });
  }
  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }
  fatal(msg: string, fields?: LogFields): void {
    this.write('fatal', msg, fields);
  }
}

/**
 * Checks --log-outputs as etcd's zap setup does (embed/config_logging.go):
 * "default" cannot be combined with others. Returns the destinations
 * ("stderr" | "stdout" | file path); throws Error with etcd's message.
 */
export function logDestinations(outputs: readonly string[]): string[] {
  const outs = outputs.length === 0 ? ['default'] : outputs;
  if (outs.length > 1 && outs.includes('default')) throw new Error(`multi logoutput for "default" is not supported yet`);
  return outs.map((o) => (o === 'default' ? 'stderr' : o));
}

/**
 * Creates the server logger (zap JSON lines via pino).
 * @throws Error(`unknown level "x"`) for a bad level (etcd panics with that text),
 *         Error from logDestinations for bad outputs.
 */
export function createZapLogger(opts: ZapLoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`unknown level "${level}"`);
  let stream: DestinationStream;
  if (opts.stream) stream = opts.stream;
  else {
    const dests = logDestinations(opts.outputs ?? ['default']).map((d) =>
      pino.destination({ dest: d === 'stderr' ? 2 : d === 'stdout' ? 1 : d, sync: true, append: true, mkdir: false }),
    );
    stream = dests.length === 1 ? dests[0] : pino.multistream(dests.map((s) => ({ stream: s, level: 'trace' as const })));
  }
  const now = opts.now ?? Date.now;
  const p = pino(
    {
      level: level === 'dpanic' ? 'dpanic' : level,
      customLevels: { dpanic: 52, panic: 55 },
      base: null,
      messageKey: 'msg',
      timestamp: () => `,"ts":"${zapTimestamp(now())}"`,
      formatters: { level: (label: string) => ({ level: label }) },
    },
    stream,
  );
  return new ZapLogger(p);
}

/** Options of createCapnslogLogger. */
export interface CapnslogLoggerOptions {
  /** --log-level (default "info"); debug < info < warn < error < dpanic/panic/fatal. Throws Error(`unknown level "x"`) otherwise. */
  level?: string;
  /** --log-outputs with --logger=capnslog: one of "default" | "stderr" | "stdout" (config.ts has checked it). */
  outputs?: readonly string[];
  /** For tests: write here instead of `outputs`. */
  write?: (line: string) => void;
  /** For tests: fixed clock (ms since epoch). */
  now?: () => number;
}

const LEVEL_RANK: Record<string, number> = { debug: 0, info: 1, warn: 2, error: 3, dpanic: 4, panic: 4, fatal: 4 };
const LEVEL_LETTER = { debug: 'D', info: 'I', warn: 'W', error: 'E', fatal: 'C' } as const;

/** Go's %v of a field value, roughly: strings bare, arrays `[a b]`, objects as JSON. */
function goValue(v: unknown): string {
  if (v instanceof Error) return v.message;
  if (Array.isArray(v)) return `[${v.map(goValue).join(' ')}]`;
  if (v instanceof URL) return v.href;
  if (v !== null && typeof v === 'object') return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  return String(v);
}

/** Writes all of `text` to `fd`, retrying while a non-blocking pipe is full (EAGAIN), as pino's sync destination does. */
function writeAllSync(fd: number, text: string): void {
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/**
 * A Logger printing capnslog "pretty formatter" lines (etcd 3.4's default --logger=capnslog):
 * `2026-11-21 02:22:10.456922 I | etcdserver: text`. A call's {@link Capnslog} argument
 * gives etcd's exact text; otherwise the line is `<dir of the caller>: msg (key=value, ...)`.
 * @throws Error(`unknown level "x"`) for a bad level.
 */
export function createCapnslogLogger(opts: CapnslogLoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`unknown level "${level}"`);
  const min = LEVEL_RANK[level];
  const now = opts.now ?? Date.now;
  const fd = opts.outputs?.[0] === 'stdout' ? 1 : 2;
  const write = opts.write ?? ((line: string) => writeAllSync(fd, line));
  const log = (lvl: keyof typeof LEVEL_LETTER, msg: string, fields: LogFields | undefined, c: Capnslog | undefined): void => {
    if (LEVEL_RANK[lvl] < min) return;
    if (c) {
      write(capnslogLine(c.level ?? LEVEL_LETTER[lvl], c.pkg, c.text, now()));
      return;
    }
    const caller = callerOf(3);
    const pkg = caller.includes('/') ? caller.slice(0, caller.lastIndexOf('/')) : 'etcd';
    const f = Object.entries(plainFields(fields));
    const text = f.length === 0 ? msg : `${msg} (${f.map(([k, v]) => `${k}=${goValue(v)}`).join(', ')})`;
    write(capnslogLine(LEVEL_LETTER[lvl], pkg, text, now()));
  };
  return {
    debug: (msg, fields, c) => log('debug', msg, fields, c),
    info: (msg, fields, c) => log('info', msg, fields, c),
    warn: (msg, fields, c) => log('warn', msg, fields, c),
    error: (msg, fields, c) => log('error', msg, fields, c),
    fatal: (msg, fields, c) => log('fatal', msg, fields, c),
  };
}
