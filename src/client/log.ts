/**
 * @module client/log
 * The client's log lines, shaped like those of etcd 3.4's Go client: clientv3 builds a
 * zap logger from logutil.DefaultZapLoggerConfig (pkg/logutil/zap.go): JSON lines on
 * stderr, level `info` and above, keys `level`, `ts` (ISO 8601 local time with
 * milliseconds and zone, `2006-01-02T15:04:05.000Z0700`), `caller` (Go source file and
 * line of the log call, e.g. `clientv3/retry_interceptor.go:62`), `msg`, then the
 * call's fields in order. etcdctl passes no other configuration, so these lines are
 * what a user (and etcd's e2e tests) see on stderr, e.g.
 *
 *   {"level":"warn","ts":"2026-12-04T17:03:08.646Z","caller":"clientv3/retry_interceptor.go:62",
 *    "msg":"retrying of unary invoker failed","target":"endpoint://client-<uuid>/127.0.0.1:2379",
 *    "attempt":0,"error":"rpc error: code = FailedPrecondition desc = etcdserver: authentication is not enabled"}
 *
 * Differences: zap adds a Go `stacktrace` field to error-level lines; we have no Go
 * stack to show and leave it out.
 */

/** zap levels the client uses, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** One field of a log line: key and a string, number, boolean or string list (zap.Strings) value. */
export type LogField = [key: string, value: string | number | bigint | boolean | readonly string[]];

/** Where the client sends its log lines. */
export interface ClientLogger {
  /**
   * Logs one line.
   * @param caller Go source position of the equivalent clientv3 log call
   */
  log(level: LogLevel, caller: string, msg: string, fields?: LogField[]): void;
}

/** A logger that drops everything (clientv3 with an empty LogConfig output). */
export const NOP_LOGGER: ClientLogger = { log() {} };

/**
 * How `ts` is written: `iso8601` (logutil's config, clientv3: `"2006-01-02T15:04:05.000Z0700"`)
 * or `epoch` (zap.NewProduction, etcdctl's snapshot commands: seconds as a float).
 */
export type TimeEncoding = 'iso8601' | 'epoch';

/**
 * A zap JSON logger writing whole lines (with `\n`) to `write`, dropping lines below
 * `minLevel` (logutil's default: info).
 */
export function zapJsonLogger(
  write: (line: string) => void,
  minLevel: LogLevel = 'info',
  now: () => Date = () => new Date(),
  time: TimeEncoding = 'iso8601',
): ClientLogger {
  return {
    log(level, caller, msg, fields = []) {
      if (LEVEL_RANK[level] < LEVEL_RANK[minLevel]) return;
      write(zapJsonLine(level, now(), caller, msg, fields, time));
    },
  };
}

/**
 * Formats one zap JSON line (with the trailing newline). Number fields that are not
 * integers are written as Go's strconv 'f' format with the shortest precision (zap's
 * AppendFloat64), e.g. a duration in seconds.
 */
export function zapJsonLine(level: LogLevel, ts: Date, caller: string, msg: string, fields: LogField[], time: TimeEncoding = 'iso8601'): string {
  const t = time === 'epoch' ? goFloat(epochSeconds(ts)) : `"${zapIso8601(ts)}"`;
  let s = `{"level":"${level}","ts":${t},"caller":${zapString(caller)},"msg":${zapString(msg)}`;
  for (const [k, v] of fields) {
    s += `,${zapString(k)}:`;
    s += typeof v === 'string' ? zapString(v) : typeof v === 'number' ? goFloat(v) : Array.isArray(v) ? `[${v.map(zapString).join(',')}]` : String(v);
  }
  return s + '}\n';
}

/**
 * Seconds since the epoch for zap's EpochTimeEncoder (Go has nanoseconds): a Date
 * stamped "now" gets the sub-millisecond part from the monotonic clock.
 */
function epochSeconds(ts: Date): number {
  const precise = performance.timeOrigin + performance.now();
  return Math.abs(precise - ts.getTime()) < 1 ? precise / 1000 : ts.getTime() / 1000;
}

/**
 * strconv.FormatFloat(f, 'f', -1, 64): the shortest digits that read back as `f`
 * (as JavaScript's), never in exponent form.
 */
export function goFloat(f: number): string {
  if (!Number.isFinite(f)) return Number.isNaN(f) ? 'NaN' : f > 0 ? '+Inf' : '-Inf';
  const s = String(f);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, d0, rest = '', expText] = m as unknown as [string, string, string, string | undefined, string];
  const digits = d0 + rest;
  const exp = Number(expText);
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  return sign + (digits.length > exp + 1 ? `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}` : digits + '0'.repeat(exp + 1 - digits.length));
}

/** zapcore.ISO8601TimeEncoder: `2006-01-02T15:04:05.000Z0700` in local time. */
export function zapIso8601(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}${zone}`;
}

/**
 * A JSON string as zap's encoder writes it: `"` and `\` escaped, `\n` `\r` `\t` as
 * such, other control characters as `\u00XX`; everything else (including `<`, `>`,
 * `&` and non-ASCII) as is. Lone surrogates (invalid UTF-8 in Go) become U+FFFD.
 */
export function zapString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20) out += `\\u00${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      out += s[i]! + s[i + 1]!;
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) out += '\ufffd';
    else out += s[i]!;
  }
  return out + '"';
}
