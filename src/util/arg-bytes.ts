/**
 * Command-line arguments byte for byte. Node decodes argv as UTF-8 and turns bytes that
 * are not UTF-8 into U+FFFD; etcdctl (Go) keeps every byte, and keys and values of
 * Kubernetes' etcd are binary. On Linux the raw bytes are in /proc/self/cmdline, so an
 * argument Node decoded lossily is taken from there and kept as a string in which each
 * byte that is not part of valid UTF-8 is the lone surrogate U+DC00 + byte (Python's
 * "surrogateescape"): valid text stays as it was, and {@link argBytes} turns the
 * string back into exactly the bytes the shell passed.
 */
import { readFileSync } from 'node:fs';

/** The string for `raw`: UTF-8 decoded, each byte of an invalid sequence as U+DC00 + byte. */
export function decodeArgBytes(raw: Uint8Array): string {
  let out = '';
  let i = 0;
  const n = raw.length;
  while (i < n) {
    const b = raw[i]!;
    if (b < 0x80) {
      out += String.fromCharCode(b);
      i++;
      continue;
    }
    // the length and the smallest code point of a sequence starting with b
    const len = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    let cp = len === 2 ? b & 0x1f : len === 3 ? b & 0x0f : b & 0x07;
    let ok = len > 0 && i + len <= n;
    for (let k = 1; ok && k < len; k++) {
      const c = raw[i + k]!;
      if ((c & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (c & 0x3f);
    }
    // overlong forms, surrogates and code points above U+10FFFF are invalid (as Go's utf8)
    if (ok && ((len === 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len === 4 && (cp < 0x10000 || cp > 0x10ffff)))) ok = false;
    if (ok) {
      out += String.fromCodePoint(cp);
      i += len;
    } else {
      out += String.fromCharCode(0xdc00 + b);
      i++;
    }
  }
  return out;
}

/** True if `s` holds an escaped byte (a U+DC80..U+DCFF not preceded by a high surrogate). */
function hasEscapes(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc80 && c <= 0xdcff && !(i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff)) return true;
  }
  return false;
}

/**
 * The bytes of a command-line string: UTF-8, except that escaped bytes from
 * {@link decodeArgBytes} become those bytes again.
 */
export function argBytes(s: string): Uint8Array {
  if (!hasEscapes(s)) return Buffer.from(s, 'utf8');
  const parts: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const prevHigh = i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff;
    if (c >= 0xdc80 && c <= 0xdcff && !prevHigh) {
      parts.push(c - 0xdc00);
      continue;
    }
    const cp = s.codePointAt(i)!;
    if (cp > 0xffff) i++;
    for (const x of Buffer.from(String.fromCodePoint(cp), 'utf8')) parts.push(x);
  }
  return Uint8Array.from(parts);
}

/**
 * `argv` (process.argv without node and the script) with every argument that Node
 * decoded lossily replaced by its raw bytes from /proc/self/cmdline (see the module
 * comment). The last argv.length entries of cmdline are the arguments (node's own
 * options come before the script); if they do not match argv (another OS, cmdline
 * changed), argv is returned as it is.
 */
export function rawArgv(argv: readonly string[], cmdline?: Uint8Array): string[] {
  if (!argv.some((a) => a.includes('\ufffd'))) return [...argv];
  let raw: Uint8Array;
  try {
    raw = cmdline ?? readFileSync('/proc/self/cmdline');
  } catch {
    return [...argv];
  }
  const parts: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0) {
      parts.push(raw.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < raw.length) parts.push(raw.subarray(start));
  if (parts.length < argv.length) return [...argv];
  const tail = parts.slice(parts.length - argv.length);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const decoded = Buffer.from(tail[i]!).toString('utf8');
    if (decoded !== argv[i]) return [...argv];
    out.push(decoded.includes('\ufffd') ? decodeArgBytes(tail[i]!) : argv[i]!);
  }
  return out;
}
