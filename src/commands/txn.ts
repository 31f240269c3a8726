/**
 * @module commands/txn
 * `etcdctl txn [options]`: one Txn RPC read from stdin (etcdctl txn_command.go).
 *
 * Input: comparisons, one per line, up to a blank line; then the success operations up
 * to a blank line; then the failure operations up to a blank line. Every line must end
 * with `\n` (a last line without one is `Error: EOF`, exit 3, as with Go's
 * bufio.ReadString). Lines are trimmed of Unicode white space.
 *
 * A comparison is `<target>("<key>") <op> "<value>"`, scanned like Go's
 * `fmt.Sscanf(rest, "%q) %s %q")`: key and value are Go quoted strings (or `raw`
 * strings), targets `ver|version`, `c|create`, `m|mod` (decimal integers),
 * `val|value` (bytes) and `lease` (hexadecimal lease ID), operators `=`, `!=`, `<`,
 * `>`. An operation is a `put`, `get` or `del` command line with the same flags and
 * checks as those commands, split into words with etcdctl's argify rules (util.go).
 *
 * With `-i`, the prompts `compares:`, `success requests (get, put, del):` and
 * `failure requests (get, put, del):` are printed before each section.
 *
 * Deliberate differences from etcdctl 3.4.23 (all where it crashes or hangs):
 *  - `lease("k") <op> "<id>"` works as fixed by etcd PR #21422 (3.4.23 panics);
 *  - an unknown operator is an input error (3.4.23 panics), see `parseCompare`;
 *  - a single-quoted word that argify would cut out of range loses its quotes
 *    (3.4.23 panics), see `argify`;
 *  - operation lines that make the nested cobra print help are input errors (3.4.23
 *    prints help, then waits forever), see `parseOp`;
 *  - the Txn RPC has the --command-timeout deadline (3.4.23 uses no deadline and waits
 *    forever for an unreachable endpoint).
 */

import { writeSync } from 'node:fs';
import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  type CompareSchema,
  type RequestOpSchema,
} from '../gen/etcdserverpb/rpc_pb.js';
import type { CommandSpec } from '../cli/command.js';
import { CliError, ExitBadArgs, ExitInvalidInput, SilentExit } from '../cli/exit-codes.js';
import { parseFlags, type FlagSpec, type FlagValues } from '../cli/flags.js';
import { goQuote, goQuoteBytes, GoParseError, parseGoInt } from '../cli/go-format.js';
import { helpFlag } from '../cli/help.js';
import { buildDelRequest, DEL_FLAGS } from './del.js';
import { buildGetRequest, GET_FLAGS } from './get.js';
import { buildPutRequest, PUT_FLAGS } from './put.js';

type CompareInit = MessageInitShape<typeof CompareSchema>;
type RequestOpInit = MessageInitShape<typeof RequestOpSchema>;

// ---------------------------------------------------------------------------
// Go runes over bytes

const RUNE_ERROR = 0xfffd;
const EOF = -1;

/**
 * Decodes the rune at `b[i]` as Go's utf8.DecodeRune does.
 * @returns [code point, size]; invalid or truncated sequences give [U+FFFD, 1]
 */
function decodeRune(b: Uint8Array, i: number): [number, number] {
  const c = b[i]!;
  if (c < 0x80) return [c, 1];
  let n: number;
  let min: number;
  let cp: number;
  if (c >= 0xc2 && c <= 0xdf) { n = 2; min = 0x80; cp = c & 0x1f; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; min = 0x800; cp = c & 0x0f; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; min = 0x10000; cp = c & 0x07; }
  else return [RUNE_ERROR, 1];
  if (i + n > b.length) return [RUNE_ERROR, 1];
  for (let k = 1; k < n; k++) {
    const cc = b[i + k]!;
    if ((cc & 0xc0) !== 0x80) return [RUNE_ERROR, 1];
    cp = (cp << 6) | (cc & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return [RUNE_ERROR, 1];
  return [cp, n];
}

/** UTF-8 bytes of one code point (Go's utf8.EncodeRune; only valid runes are passed). */
function encodeRune(cp: number): number[] {
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 0x3f)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
}

/** Go's unicode.IsSpace (which is also the set fmt's scanner skips). */
function isSpace(r: number): boolean {
  return (r >= 0x09 && r <= 0x0d) || r === 0x20 || r === 0x85 || r === 0xa0 || r === 0x1680 ||
    (r >= 0x2000 && r <= 0x200a) || r === 0x2028 || r === 0x2029 || r === 0x202f || r === 0x205f || r === 0x3000;
}

/** Go's strings.TrimSpace on bytes. */
function trimSpace(b: Uint8Array): Uint8Array {
  let start = -1;
  let end = 0;
  for (let i = 0; i < b.length;) {
    const [r, n] = decodeRune(b, i);
    if (!isSpace(r)) {
      if (start < 0) start = i;
      end = i + n;
    }
    i += n;
  }
  return start < 0 ? b.subarray(0, 0) : b.subarray(start, end);
}

/** Thrown when a fmt-style scan fails; only the number of scanned operands matters. */
class ScanFailure extends Error {}

/**
 * A rune reader over bytes with Go fmt's scanning rules: invalid UTF-8 reads as
 * U+FFFD (and is written back as its UTF-8 encoding).
 */
class RuneScanner {
  private pos = 0;
  private last = 0;
  constructor(private readonly b: Uint8Array) {}

  /** The next rune, or EOF. */
  get(): number {
    if (this.pos >= this.b.length) { this.last = 0; return EOF; }
    const [r, n] = decodeRune(this.b, this.pos);
    this.pos += n;
    this.last = n;
    return r;
  }

  /** Steps back over the rune just read. */
  unread(): void {
    this.pos -= this.last;
    this.last = 0;
  }

  /** The next rune; EOF is a scan failure (fmt's mustReadRune). */
  must(): number {
    const r = this.get();
    if (r === EOF) throw new ScanFailure('unexpected EOF');
    return r;
  }

  skipSpace(): void {
    for (;;) {
      const r = this.get();
      if (r === EOF) return;
      if (!isSpace(r)) { this.unread(); return; }
    }
  }

  /** `%s`: skips spaces, then reads one space-free word (non-empty, else failure). */
  word(): Uint8Array {
    this.skipSpace();
    const out: number[] = [];
    for (;;) {
      const r = this.get();
      if (r === EOF) break;
      if (isSpace(r)) { this.unread(); break; }
      out.push(...encodeRune(r));
    }
    if (out.length === 0) throw new ScanFailure('EOF');
    return Uint8Array.from(out);
  }

  /**
   * `%q`: skips spaces, then reads a Go double-quoted string (unquoted with
   * strconv.Unquote) or a back-quoted raw string.
   */
  quoted(): Uint8Array {
    this.skipSpace();
    const q = this.get();
    const buf: number[] = [];
    if (q === 0x60) {
      for (;;) {
        const r = this.must();
        if (r === 0x60) break;
        buf.push(...encodeRune(r));
      }
      return Uint8Array.from(buf);
    }
    if (q !== 0x22) throw new ScanFailure('expected quoted string');
    buf.push(0x22);
    for (;;) {
      const r = this.must();
      buf.push(...encodeRune(r));
      if (r === 0x5c) buf.push(...encodeRune(this.must()));
      else if (r === 0x22) break;
    }
    const v = unquote(Uint8Array.from(buf));
    if (!v) throw new ScanFailure('invalid syntax');
    return v;
  }

  /** A literal rune of the format; EOF or a different rune is a failure. */
  literal(c: number): void {
    if (this.must() !== c) throw new ScanFailure('input does not match format');
  }

  /** A space in the format: one or more spaces, or the end of the input. */
  space(): void {
    const r = this.get();
    if (r === EOF) return;
    if (!isSpace(r)) throw new ScanFailure('expected space in input to match format');
    this.skipSpace();
  }
}

function unhex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * Go's strconv.Unquote for a double-quoted string given as bytes (quotes included).
 * @returns the unquoted bytes, or undefined for Go's ErrSyntax
 */
function unquote(s: Uint8Array): Uint8Array | undefined {
  if (s.length < 2 || s[0] !== 0x22 || s[s.length - 1] !== 0x22) return undefined;
  const out: number[] = [];
  let i = 1;
  const end = s.length - 1;
  while (i < end) {
    const c = s[i]!;
    if (c === 0x22 || c === 0x0a) return undefined;
    if (c >= 0x80) {
      const [r, n] = decodeRune(s, i);
      out.push(...encodeRune(r));
      i += n;
      continue;
    }
    if (c !== 0x5c) { out.push(c); i++; continue; }
    if (i + 1 >= end) return undefined;
    const e = s[i + 1]!;
    i += 2;
    switch (e) {
      case 0x61: out.push(0x07); break; // \a
      case 0x62: out.push(0x08); break; // \b
      case 0x66: out.push(0x0c); break; // \f
      case 0x6e: out.push(0x0a); break; // \n
      case 0x72: out.push(0x0d); break; // \r
      case 0x74: out.push(0x09); break; // \t
      case 0x76: out.push(0x0b); break; // \v
      case 0x5c: out.push(0x5c); break;
      case 0x22: out.push(0x22); break;
      case 0x78: case 0x75: case 0x55: { // \x, \u, \U
        const n = e === 0x78 ? 2 : e === 0x75 ? 4 : 8;
        if (i + n > end) return undefined;
        let v = 0;
        for (let k = 0; k < n; k++) {
          const d = unhex(s[i + k]!);
          if (d < 0) return undefined;
          v = v * 16 + d;
        }
        i += n;
        if (e === 0x78) { out.push(v); break; }
        if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return undefined;
        out.push(...encodeRune(v));
        break;
      }
      default: {
        if (e < 0x30 || e > 0x37) return undefined; // includes \' in a "..." string
        if (i + 2 > end) return undefined;
        let v = e - 0x30;
        for (let k = 0; k < 2; k++) {
          const d = s[i + k]! - 0x30;
          if (d < 0 || d > 7) return undefined;
          v = v * 8 + d;
        }
        i += 2;
        if (v > 255) return undefined;
        out.push(v);
      }
    }
  }
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------
// Errors carrying raw input bytes

/**
 * Ends the command with `Error: <parts>` (bytes written as they are, as Go prints
 * input lines) and `code`.
 */
function failRaw(code: number, ...parts: Array<string | Uint8Array>): never {
  const buf = Buffer.concat([Buffer.from('Error: '), ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)), Buffer.from('\n')]);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(2, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      break;
    }
  }
  throw new SilentExit(code);
}

// ---------------------------------------------------------------------------
// Comparisons

/**
 * Parses one comparison line (already trimmed), as etcdctl's parseCompare.
 * Deliberate differences from 3.4.23, where it panics (exit 2):
 *  - `lease("k") <op> "<id>"`: the value is a hexadecimal lease ID and the key is kept
 *    (etcd PR #21422); a value that is not hexadecimal is `invalid txn compare request`;
 *  - an unknown operator (e.g. `==`) is `invalid txn compare request: <line>`.
 * @throws via failRaw: `malformed comparison: ...` / `invalid txn compare request: ...`, exit 3
 */
function parseCompare(line: Uint8Array): CompareInit {
  const paren = line.indexOf(0x28);
  if (paren < 0) failRaw(ExitInvalidInput, 'malformed comparison: ', line);
  const target = line.subarray(0, paren);
  const sc = new RuneScanner(line.subarray(paren + 1));
  let key: Uint8Array = new Uint8Array();
  let op: Uint8Array = new Uint8Array();
  let val: Uint8Array = new Uint8Array();
  let n = 0;
  try {
    key = sc.quoted(); n++;
    sc.literal(0x29);
    sc.space();
    op = sc.word(); n++;
    sc.space();
    val = sc.quoted(); n++;
  } catch (e) {
    if (!(e instanceof ScanFailure)) throw e;
  }
  if (n !== 3) {
    failRaw(ExitInvalidInput, 'malformed comparison: ', line, '; got ', target, `(${goQuoteBytes(key)}) `, op, ` ${goQuoteBytes(val)}`);
  }
  const invalid = (): never => failRaw(ExitInvalidInput, 'invalid txn compare request: ', line);
  const int = (base: number): bigint => {
    try {
      return parseGoInt(Buffer.from(val).toString('latin1'), base);
    } catch (e) {
      if (e instanceof GoParseError) return invalid();
      throw e;
    }
  };
  let cmp: CompareInit;
  switch (Buffer.from(target).toString('latin1')) {
    case 'ver': case 'version':
      cmp = { key, target: Compare_CompareTarget.VERSION, targetUnion: { case: 'version', value: int(10) } };
      break;
    case 'c': case 'create':
      cmp = { key, target: Compare_CompareTarget.CREATE, targetUnion: { case: 'createRevision', value: int(10) } };
      break;
    case 'm': case 'mod':
      cmp = { key, target: Compare_CompareTarget.MOD, targetUnion: { case: 'modRevision', value: int(10) } };
      break;
    case 'val': case 'value':
      cmp = { key, target: Compare_CompareTarget.VALUE, targetUnion: { case: 'value', value: val } };
      break;
    case 'lease':
      cmp = { key, target: Compare_CompareTarget.LEASE, targetUnion: { case: 'lease', value: int(16) } };
      break;
    default:
      return failRaw(ExitInvalidInput, 'malformed comparison: ', line, ' (unknown target ', target, ')');
  }
  switch (Buffer.from(op).toString('latin1')) {
    case '=': cmp.result = Compare_CompareResult.EQUAL; break;
    case '!=': cmp.result = Compare_CompareResult.NOT_EQUAL; break;
    case '>': cmp.result = Compare_CompareResult.GREATER; break;
    case '<': cmp.result = Compare_CompareResult.LESS; break;
    default: invalid();
  }
  return cmp;
}

// ---------------------------------------------------------------------------
// Operations

/** Go's `\s` in RE2 (ASCII only) and its complement, for argify's regexp. */
const ARG_RE = /"(?:[^"\\]|\\[^\n])*"|'[^']*'|[^'"\t\n\f\r ][^\t\n\f\r ]*[^'"\t\n\f\r ]?/g;

/**
 * etcdctl's argify (util.go): splits a line into words; `"..."` words are Go-unquoted,
 * `'...'` words lose their quotes. Words are byte strings (latin1 JS strings here).
 *
 * etcdctl 3.4.23 cuts a single-quoted word as `word[1 : len(words)-1]` (it uses the
 * number of words instead of the word's length), so `put 'abc' v` puts key `a`. That
 * is reproduced; where the same bug makes etcdctl panic (the cut would fall outside
 * the word), the quotes are simply removed.
 * @throws CliError(ExitInvalidInput, 'invalid syntax') for a bad escape in `"..."`
 */
function argify(line: string): string[] {
  const words = [...line.matchAll(ARG_RE)].map((m) => m[0]);
  return words.map((w) => {
    if (w[0] === "'") {
      const end = words.length - 1;
      return end >= 1 && end <= w.length ? w.slice(1, end) : w.slice(1, -1);
    }
    if (w[0] === '"') {
      let v: Uint8Array;
      try {
        v = new RuneScanner(Buffer.from(w, 'latin1')).quoted();
      } catch (e) {
        if (e instanceof ScanFailure) throw new CliError(ExitInvalidInput, e.message);
        throw e;
      }
      return Buffer.from(v).toString('latin1');
    }
    return w;
  });
}

interface OpKind {
  name: 'put' | 'get' | 'del' | 'help' | 'completion';
  use: string;
  flags: FlagSpec[];
}

/** The commands etcdctl's nested cobra root knows (cobra adds help and completion). */
const OP_KINDS: OpKind[] = [
  { name: 'completion', use: 'completion', flags: [] },
  { name: 'del', use: 'del [options] <key> [range_end]', flags: DEL_FLAGS },
  { name: 'get', use: 'get [options] <key> [range_end]', flags: GET_FLAGS },
  { name: 'help', use: 'help [command]', flags: [] },
  { name: 'put', use: 'put [options] <key> <value> (<value> can also be given from stdin)', flags: PUT_FLAGS },
];

/**
 * cobra's Find on a root without flags: the first word that is not a flag (a flag
 * without `=` takes the next word as its value), matched exactly or by unique prefix.
 * @returns the command and the words without the command word, or undefined
 */
function findOp(words: string[]): { kind: OpKind; rest: string[] } | undefined {
  let name: string | undefined;
  let at = -1;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--') break;
    const takesValue = (w.startsWith('--') && !w.includes('=')) || (w.startsWith('-') && !w.includes('=') && w.length === 2);
    if (takesValue) {
      if (words.length - i - 1 <= 1) break;
      i++;
      continue;
    }
    if (w !== '' && !w.startsWith('-')) { name = w; at = i; break; }
  }
  if (name === undefined) return undefined;
  let kind = OP_KINDS.find((k) => k.name === name);
  if (!kind) {
    const matches = OP_KINDS.filter((k) => k.name.startsWith(name!));
    if (matches.length === 1) kind = matches[0];
  }
  if (!kind) return undefined;
  return { kind, rest: [...words.slice(0, at), ...words.slice(at + 1)] };
}

/** pflag's FlagUsages (cobra's default usage template), for the nested usage text. */
function pflagUsages(specs: FlagSpec[]): string {
  const sorted = [...specs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const lines = sorted.map((f) => {
    let left = f.short ? `  -${f.short}, --${f.name}` : `      --${f.name}`;
    const type = f.type === 'bool' ? '' : f.type === 'int' ? 'int' : f.type;
    if (type) left += ' ' + type;
    let usage = f.usage;
    const d = f.default;
    if (f.type === 'string' && d !== '') usage += ` (default ${goQuote(d as string)})`;
    else if (f.type === 'int' && d !== 0n) usage += ` (default ${d})`;
    else if (f.type === 'bool' && d === true) usage += ' (default true)';
    return [left, usage] as const;
  });
  const width = Math.max(...lines.map(([l]) => l.length));
  return lines.map(([l, u]) => `${l}${' '.repeat(width - l.length)}   ${u}\n`).join('');
}

/** Re-reads string flag values (latin1 byte strings) as UTF-8 text, for messages. */
function decodeStringFlags(values: FlagValues, specs: FlagSpec[]): void {
  for (const s of specs) {
    if (s.type === 'string' && values.changed.has(s.name)) {
      values.setFromString(s.name, Buffer.from(values.string(s.name), 'latin1').toString('utf8'));
    }
  }
}

/**
 * Parses one operation line (already trimmed), as etcdctl's parseRequestUnion: the
 * words go through a nested cobra root with put, get and del, and the command's own
 * checks then apply (their errors end etcdctl with their usual message and code).
 * Deliberate difference from 3.4.23: where the nested cobra would print help (`help`,
 * `--help`, `completion`, no command word) etcdctl then waits forever; here it is
 * `invalid txn request: <line>`.
 * @throws via failRaw: `invalid txn compare request` (< 2 words), `invalid txn
 *   request` (unknown command or flag), exit 3; CliError from the command's checks
 */
async function parseOp(line: Uint8Array, errWrite: (s: string) => void): Promise<RequestOpInit> {
  const words = argify(Buffer.from(line).toString('latin1'));
  if (words.length < 2) failRaw(ExitInvalidInput, 'invalid txn compare request: ', line);
  const invalid = (): never => failRaw(ExitInvalidInput, 'invalid txn request: ', line);
  const found = findOp(words);
  if (!found || found.kind.name === 'help' || found.kind.name === 'completion') return invalid();
  const { kind, rest } = found;
  const specs = [...kind.flags, helpFlag(kind.name)];
  let parsed;
  try {
    parsed = parseFlags(rest, specs);
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    // cobra prints the nested command's usage (default template) on stderr
    errWrite(`Usage:\n   ${kind.use} [flags]\n\nFlags:\n${pflagUsages(specs)}\n`);
    return invalid();
  }
  if (parsed.values.bool('help')) return invalid();
  decodeStringFlags(parsed.values, kind.flags);
  const args = parsed.args.map((a) => Buffer.from(a, 'latin1'));
  switch (kind.name) {
    case 'get':
      return { request: { case: 'requestRange', value: buildGetRequest(parsed.values, args) } };
    case 'del':
      return { request: { case: 'requestDeleteRange', value: buildDelRequest(parsed.values, args) } };
    default:
      // etcdctl would read the value from what is left of stdin after its buffered
      // reader: nothing for any input it could have buffered entirely.
      return { request: { case: 'requestPut', value: await buildPutRequest(parsed.values, args, async () => new Uint8Array()) } };
  }
}

// ---------------------------------------------------------------------------
// Input

/** Reads stdin line by line as it arrives (so interactive use works on a terminal). */
class LineReader {
  private buf = Buffer.alloc(0);
  private ended = false;
  private readonly it = process.stdin[Symbol.asyncIterator]();

  /**
   * The next line including its `\n`.
   * @throws CliError(ExitInvalidInput, 'EOF') when stdin ends first (Go's ReadString)
   */
  async line(): Promise<Uint8Array> {
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.buf.subarray(0, nl + 1);
        this.buf = this.buf.subarray(nl + 1);
        return line;
      }
      if (this.ended) throw new CliError(ExitInvalidInput, 'EOF');
      const next = await this.it.next();
      if (next.done) this.ended = true;
      else this.buf = Buffer.concat([this.buf, next.value as Buffer]);
    }
  }

  /**
   * Reads lines up to the next blank (after trimming) line, handing each trimmed line
   * to `each` as soon as it is read (so a bad line fails before more input is read).
   */
  async section<T>(each: (line: Uint8Array) => T | Promise<T>): Promise<T[]> {
    const out: T[] = [];
    for (;;) {
      const l = trimSpace(await this.line());
      if (l.length === 0) return out;
      out.push(await each(l));
    }
  }
}

export const txnCommand: CommandSpec = {
  use: 'txn [options]',
  short: 'Txn processes all the requests in one transaction',
  flags: [
    { name: 'interactive', short: 'i', type: 'bool', default: false, usage: 'Input transaction in interactive mode' },
  ],
  async run(ctx) {
    if (ctx.args.length !== 0) throw new CliError(ExitBadArgs, 'txn command does not accept argument');
    const interactive = ctx.flags.bool('interactive');
    const display = ctx.display();
    const client = await ctx.client();
    const prompt = (s: string) => {
      if (!interactive) return;
      ctx.out.write(s + '\n');
      ctx.out.flush();
    };
    const reader = new LineReader();

    prompt('compares:');
    const compare = await reader.section(parseCompare);
    prompt('success requests (get, put, del):');
    const success = await reader.section((l) => parseOp(l, ctx.errWrite));
    prompt('failure requests (get, put, del):');
    const failure = await reader.section((l) => parseOp(l, ctx.errWrite));

    // etcdctl sends it without a deadline; the usual command timeout applies here
    const resp = await client.txn({ compare, success, failure });
    display.txn(resp);
  },
};
