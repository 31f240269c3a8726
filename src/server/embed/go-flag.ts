/**
 * Command-line parsing with the semantics of Go's standard `flag` package
 * (flag.FlagSet with ContinueOnError), which etcd 3.4's `etcd` binary uses
 * (etcdmain/config.go), NOT pflag/cobra:
 *
 * - `-name x`, `-name=x`, `--name x`, `--name=x` are all the same;
 * - boolean flags take no separate value: `--x`, `--x=false` (`--x false` makes
 *   `false` the first positional argument);
 * - parsing stops at the first non-flag argument or after `--`;
 * - `-h` / `-help` / `--help` (when not defined) request the usage text.
 *
 * Error texts are Go 1.19's (flag.go `failf` messages), so `etcd --nope` reads
 * `flag provided but not defined: -nope` exactly like real etcd.
 */

/** A flag value (Go flag.Value): set from text, reports its current text. */
export interface FlagValue {
  /** Parses `text`; throws an Error whose message is the Go error text. */
  set(text: string): void;
  /** The current value as text (used for `--help` defaults and env printing). */
  toString(): string;
  /** true for flags that take no separate argument (Go's boolFlag interface). */
  readonly isBool?: boolean;
}

/** One defined flag. */
export interface FlagDef {
  readonly name: string;
  readonly usage: string;
  readonly value: FlagValue;
}

/** A parse error; `message` is exactly what Go's flag package prints. */
export class FlagParseError extends Error {}

/** Thrown by parse() for -h/-help/--help when no such flag is defined (Go's flag.ErrHelp). */
export class FlagHelpRequested extends Error {
  constructor() {
    super('flag: help requested');
  }
}

/** Go flag.FlagSet (ContinueOnError): defined flags, the ones set, positional args. */
export class GoFlagSet {
  private readonly defs = new Map<string, FlagDef>();
  private readonly setNames = new Set<string>();
  private rest: string[] = [];

  /** Defines flag `name`; throws if already defined (a programming error). */
  define(name: string, value: FlagValue, usage: string): FlagValue {
    if (this.defs.has(name)) throw new Error(`flag redefined: ${name}`);
    this.defs.set(name, { name, usage, value });
    return value;
  }

  lookup(name: string): FlagDef | undefined {
    return this.defs.get(name);
  }

  /** All defined flags in lexical order (Go VisitAll). */
  all(): FlagDef[] {
    return [...this.defs.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Whether `name` was set on the command line or with set() (Go Visit / etcd flags.IsSet). */
  isSet(name: string): boolean {
    return this.setNames.has(name);
  }

  /** Names of flags set so far, lexical order. */
  setFlags(): string[] {
    return [...this.setNames].sort();
  }

  /** Positional arguments left after parsing (Go fs.Args()). */
  args(): string[] {
    return this.rest;
  }

  /**
   * Sets flag `name` from text as if given on the command line (Go fs.Set).
   * Throws Error(`no such flag -<name>`) or the value's own error.
   */
  set(name: string, text: string): void {
    const def = this.defs.get(name);
    if (!def) throw new Error(`no such flag -${name}`);
    def.value.set(text);
    this.setNames.add(name);
  }

  /**
   * Parses `argv` (without the program name).
   * @throws FlagParseError with Go's message; FlagHelpRequested for -h/-help.
   */
  parse(argv: readonly string[]): void {
    let i = 0;
    while (i < argv.length) {
      const s = argv[i];
      if (s.length < 2 || s[0] !== '-') break;
      let dashes = 1;
      if (s[1] === '-') {
        dashes = 2;
        if (s.length === 2) {
          i++;
          break; // "--" terminates the flags
        }
      }
      let name = s.slice(dashes);
      if (name.length === 0 || name[0] === '-' || name[0] === '=') throw new FlagParseError(`bad flag syntax: ${s}`);
      i++;
      let value: string | undefined;
      const eq = name.indexOf('=');
      if (eq >= 1) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      const def = this.defs.get(name);
      if (!def) {
        if (name === 'help' || name === 'h') throw new FlagHelpRequested();
        throw new FlagParseError(`flag provided but not defined: -${name}`);
      }
      if (def.value.isBool) {
        if (value !== undefined) {
          try {
            def.value.set(value);
          } catch (e) {
            throw new FlagParseError(`invalid boolean value ${goQuote(value)} for -${name}: ${(e as Error).message}`);
          }
        } else {
          try {
            def.value.set('true');
          } catch (e) {
            throw new FlagParseError(`invalid boolean flag ${name}: ${(e as Error).message}`);
          }
        }
      } else {
        if (value === undefined) {
          if (i >= argv.length) throw new FlagParseError(`flag needs an argument: -${name}`);
          value = argv[i++];
        }
        try {
          def.value.set(value);
        } catch (e) {
          throw new FlagParseError(`invalid value ${goQuote(value)} for flag -${name}: ${(e as Error).message}`);
        }
      }
      this.setNames.add(name);
    }
    this.rest = argv.slice(i);
  }
}

/** Go's %q for a string (strconv.Quote): double quotes, escapes for control and non-printable runes. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

// ---- Go strconv / time parsing used by the flag value types ----

/** Why a Go number parse failed: strconv.ErrSyntax or strconv.ErrRange. */
export type NumErrorKind = 'invalid syntax' | 'value out of range';

/** Thrown by parseGoInt/parseGoUint; `kind` is the strconv error. */
export class GoNumError extends Error {
  constructor(readonly fn: string, readonly input: string, readonly kind: NumErrorKind) {
    super(`strconv.${fn}: parsing ${goQuote(input)}: ${kind}`);
  }
}

/** Digits of `s` in base 0 (Go: 0x/0o/0b/0 prefixes, underscores only with a prefix) → bigint, or undefined. */
function parseBase0Digits(s: string): bigint | undefined {
  if (s.length === 0) return undefined;
  let base = 10;
  let body = s;
  let prefixed = false;
  if (s[0] === '0' && s.length > 1) {
    const p = s[1].toLowerCase();
    if (p === 'x') { base = 16; body = s.slice(2); prefixed = true; }
    else if (p === 'o') { base = 8; body = s.slice(2); prefixed = true; }
    else if (p === 'b') { base = 2; body = s.slice(2); prefixed = true; }
    else { base = 8; body = s.slice(1); prefixed = true; }
  }
  if (body.includes('_')) {
    // underscores: only with base prefix, only between digits (or after the prefix)
    if (!prefixed) return undefined;
    if (/__/.test(body) || body.endsWith('_') || (base === 8 && s[1] !== 'o' && s[1] !== 'O' && body.startsWith('_'))) return undefined;
    body = body.replace(/_/g, '');
  }
  if (body.length === 0) return base === 8 && !/[oO]/.test(s[1] ?? '') ? 0n : undefined;
  let v = 0n;
  const b = BigInt(base);
  for (const ch of body.toLowerCase()) {
    const d = parseInt(ch, 36);
    if (Number.isNaN(d) || d >= base) return undefined;
    v = v * b + BigInt(d);
  }
  return v;
}

/** Go strconv.ParseUint(s, 0, bits). Throws GoNumError. */
export function parseGoUint(s: string, bits: number): bigint {
  if (s.length === 0) throw new GoNumError('ParseUint', s, 'invalid syntax');
  const v = parseBase0Digits(s);
  if (v === undefined) throw new GoNumError('ParseUint', s, 'invalid syntax');
  if (v >= 1n << BigInt(bits)) throw new GoNumError('ParseUint', s, 'value out of range');
  return v;
}

/** Go strconv.ParseInt(s, 0, bits). Throws GoNumError. */
export function parseGoInt(s: string, bits: number): bigint {
  let neg = false;
  let body = s;
  if (body[0] === '+' || body[0] === '-') {
    neg = body[0] === '-';
    body = body.slice(1);
  }
  const v = body.length === 0 ? undefined : parseBase0Digits(body);
  if (v === undefined) throw new GoNumError('ParseInt', s, 'invalid syntax');
  const lim = 1n << BigInt(bits - 1);
  if (neg ? v > lim : v >= lim) throw new GoNumError('ParseInt', s, 'value out of range');
  return neg ? -v : v;
}

/** Go strconv.ParseBool; undefined when not a Go boolean spelling. */
export function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go time.ParseDuration → nanoseconds; throws Error(`time: invalid duration "x"` / `time: missing unit ...`). */
export function parseGoDuration(s: string): number {
  const orig = s;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new Error(`time: invalid duration ${goQuote(orig)}`);
  let total = 0;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    if ((m[1] ?? '') === '' && (m[2] ?? '') === '') throw new Error(`time: invalid duration ${goQuote(orig)}`);
    s = s.slice(m[0].length);
    const u = /^[^\d.]*/.exec(s)![0];
    if (u === '') throw new Error(`time: missing unit in duration ${goQuote(orig)}`);
    const mult = UNIT_NS[u];
    if (mult === undefined) throw new Error(`time: unknown unit ${goQuote(u)} in duration ${goQuote(orig)}`);
    s = s.slice(u.length);
    total += Number(`${m[1] || '0'}.${m[2] || '0'}`) * mult;
  }
  if (total > 9223372036854775807) throw new Error(`time: invalid duration ${goQuote(orig)}`);
  return neg ? -total : total;
}

/** Go time.Duration.String() of `ns` nanoseconds: "0s", "100ms", "1m30s", "1h0m0s", "1.5µs". */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.round(Math.abs(ns));
  let out: string;
  if (u < 1e9) {
    const [unit, div] = u < 1e3 ? ['ns', 1] : u < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = trimFrac(u / (div as number)) + unit;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    const sec = trimFrac(u / 1e9) + 's';
    out = h > 0 ? `${h}h${m}m${sec}` : m > 0 ? `${m}m${sec}` : sec;
  }
  return (neg ? '-' : '') + out;
}

function trimFrac(x: number): string {
  return String(Number(x.toFixed(9)));
}
