/**
 * @module cli/go-format
 * The few pieces of Go's standard library formatting and parsing that etcdctl's
 * output and error messages depend on: `strconv.Quote` (`%q`), `strconv.ParseInt`
 * with base 0, `strconv.ParseBool`, `time.ParseDuration` and `time.Duration.String`.
 * Error texts are Go's, byte for byte, because etcdctl prints them.
 */

/** made on first use: a TextDecoder costs every CLI start ~1 ms */
let utf8: InstanceType<typeof TextDecoder> | undefined;
const PRINTABLE = /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u;

/** Go's `%q` / `strconv.Quote` for a string. */
export function goQuote(s: string): string {
  return goQuoteBytes(Buffer.from(s, 'utf8'));
}

/**
 * Go's `%q` applied to `string(b)` for arbitrary bytes: valid UTF-8 printable runes
 * are kept, invalid bytes become `\xNN`, control characters use Go's escapes.
 */
export function goQuoteBytes(b: Uint8Array): string {
  let out = '"';
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      switch (c) {
        case 0x07: out += '\\a'; continue;
        case 0x08: out += '\\b'; continue;
        case 0x0c: out += '\\f'; continue;
        case 0x0a: out += '\\n'; continue;
        case 0x0d: out += '\\r'; continue;
        case 0x09: out += '\\t'; continue;
        case 0x0b: out += '\\v'; continue;
        case 0x22: out += '\\"'; continue;
        case 0x5c: out += '\\\\'; continue;
      }
      if (c < 0x20 || c === 0x7f) out += '\\x' + hex2(c);
      else out += String.fromCharCode(c);
      continue;
    }
    const n = utf8SeqLen(b, i);
    if (n === 0) {
      out += '\\x' + hex2(c);
      i++;
      continue;
    }
    const ch = (utf8 ??= new TextDecoder('utf-8', { fatal: false })).decode(b.subarray(i, i + n));
    const cp = ch.codePointAt(0)!;
    if (PRINTABLE.test(ch)) out += ch;
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
    i += n;
  }
  return out + '"';
}

function hex2(c: number): string {
  return c.toString(16).padStart(2, '0');
}

/** Length of the valid UTF-8 sequence starting at b[i], or 0 when it is invalid. */
function utf8SeqLen(b: Uint8Array, i: number): number {
  const c = b[i]!;
  let n: number;
  let min: number;
  if (c >= 0xc2 && c <= 0xdf) { n = 2; min = 0x80; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; min = 0x800; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; min = 0x10000; }
  else return 0;
  if (i + n > b.length) return 0;
  let cp = c & (n === 2 ? 0x1f : n === 3 ? 0x0f : 0x07);
  for (let k = 1; k < n; k++) {
    const cc = b[i + k]!;
    if ((cc & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

/** A Go `strconv.NumError`-shaped failure. */
export class GoParseError extends Error {}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

/**
 * `strconv.ParseInt(s, base, 64)`; base 0 means Go's prefix rules (0x, 0o, 0b, leading 0,
 * underscores). Throws GoParseError with Go's exact message.
 */
export function parseGoInt(s: string, base = 10, bits = 64): bigint {
  const fn = 'strconv.ParseInt';
  let t = s;
  let neg = false;
  if (t.startsWith('+') || t.startsWith('-')) {
    neg = t[0] === '-';
    t = t.slice(1);
  }
  const u = parseUnsigned(t, base, s, fn);
  const v = neg ? -u : u;
  const min = bits === 64 ? INT64_MIN : -(1n << BigInt(bits - 1));
  const max = bits === 64 ? INT64_MAX : (1n << BigInt(bits - 1)) - 1n;
  if (v < min || v > max) throw new GoParseError(`${fn}: parsing ${goQuote(s)}: value out of range`);
  return v;
}

/** `strconv.ParseUint(s, base, 64)`. Throws GoParseError with Go's exact message. */
export function parseGoUint(s: string, base = 10): bigint {
  const fn = 'strconv.ParseUint';
  const v = parseUnsigned(s, base, s, fn);
  if (v > UINT64_MAX) throw new GoParseError(`${fn}: parsing ${goQuote(s)}: value out of range`);
  return v;
}

function parseUnsigned(t: string, base: number, orig: string, fn: string): bigint {
  const syntax = () => new GoParseError(`${fn}: parsing ${goQuote(orig)}: invalid syntax`);
  if (t === '') throw syntax();
  let allowUnderscore = false;
  if (base === 0) {
    base = 10;
    if (t[0] === '0') {
      if (t.length >= 3 && /[xX]/.test(t[1]!)) { base = 16; t = t.slice(2); }
      else if (t.length >= 3 && /[oO]/.test(t[1]!)) { base = 8; t = t.slice(2); }
      else if (t.length >= 3 && /[bB]/.test(t[1]!)) { base = 2; t = t.slice(2); }
      else { base = 8; t = t.slice(1); if (t === '') return 0n; }
    }
    allowUnderscore = true;
  }
  if (allowUnderscore) {
    if (/^_|__|_$/.test(t)) throw syntax();
    t = t.replace(/_/g, '');
  }
  if (t === '') throw syntax();
  let v = 0n;
  const b = BigInt(base);
  for (const ch of t) {
    const d = parseInt(ch, 36);
    if (Number.isNaN(d) || d >= base) throw syntax();
    v = v * b + BigInt(d);
  }
  return v;
}

/** `strconv.ParseBool`. */
export function parseGoBool(s: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  throw new GoParseError(`strconv.ParseBool: parsing ${goQuote(s)}: invalid syntax`);
}

const UNIT_NS: Record<string, number> = {
  ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9,
};

/**
 * `time.ParseDuration`: returns nanoseconds as a number (exact below 2^53 ns ≈ 104 days,
 * which covers every etcdctl timeout). Throws GoParseError with Go's message.
 */
export function parseGoDuration(s: string): number {
  const orig = s;
  const invalid = () => new GoParseError(`time: invalid duration ${goQuote(orig)}`);
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let total = 0;
  while (s !== '') {
    const m = /^([0-9]*)(\.[0-9]*)?/.exec(s)!;
    const whole = m[1]!;
    const frac = m[2] ?? '';
    if (whole === '' && (frac === '' || frac === '.')) throw invalid();
    s = s.slice(m[0].length);
    const u = /^[^0-9.]*/.exec(s)![0];
    if (u === '') throw new GoParseError(`time: missing unit in duration ${goQuote(orig)}`);
    const mult = UNIT_NS[u];
    if (mult === undefined) throw new GoParseError(`time: unknown unit ${goQuote(u)} in duration ${goQuote(orig)}`);
    s = s.slice(u.length);
    total += Number(whole || '0') * mult + (frac.length > 1 ? Number('0' + frac) * mult : 0);
  }
  return Math.round(neg ? -total : total);
}

/** `time.Duration.String()` for a duration in nanoseconds (e.g. 2e9 → "2s", 90e9 → "1m30s"). */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    let unit: string;
    let div: number;
    if (u < 1e3) { unit = 'ns'; div = 1; }
    else if (u < 1e6) { unit = 'µs'; div = 1e3; }
    else { unit = 'ms'; div = 1e6; }
    out = trimFrac(u, div) + unit;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    const sec = trimFrac(u, 1e9) + 's';
    out = h > 0 ? `${h}h${m}m${sec}` : m > 0 ? `${m}m${sec}` : sec;
  }
  return neg ? '-' + out : out;
}

function trimFrac(v: number, div: number): string {
  const whole = Math.floor(v / div);
  const rest = v - whole * div;
  if (rest === 0) return String(whole);
  const digits = String(div).length - 1;
  return `${whole}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}`;
}
