/**
 * @module commands/migrate/zap-example
 * The log lines of zap's example logger (`zap.NewExample()`), which etcdctl 3.4's
 * `migrate` hands to etcd's snapshotter, WAL reader and membership code: one JSON object
 * per line on stdout, `{"level":"info","msg":"...",<fields in call order>}`, no time
 * stamp and no caller. Strings are escaped as zap's JSON encoder does (only `"`, `\`
 * and control characters; `<`, `>` and `&` stay as they are), string lists are JSON
 * arrays, and a key given twice is written twice (etcd's `updated cluster version` line
 * has two `from` fields).
 */

/** One field: a string, a list of strings, or an unsigned number (zap.String, zap.Strings, zap.Uint32). */
export type ZapValue = string | readonly string[] | number | bigint;

/** A line's fields in the order etcd passes them. */
export type ZapFields = ReadonlyArray<readonly [key: string, value: ZapValue]>;

/** zap's jsonEncoder.safeAddString: the string between quotes. */
export function zapString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x20 && c < 0x80 && ch !== '\\' && ch !== '"') {
      out += ch;
      continue;
    }
    if (c >= 0x80) {
      // a lone surrogate is invalid UTF-8 for Go: written as the replacement character
      out += c >= 0xd800 && c <= 0xdfff ? '\\ufffd' : ch;
      continue;
    }
    switch (ch) {
      case '\\': out += '\\\\'; break;
      case '"': out += '\\"'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\t': out += '\\t'; break;
      default: out += '\\u00' + c.toString(16).padStart(2, '0');
    }
  }
  return out + '"';
}

function zapValue(v: ZapValue): string {
  if (typeof v === 'string') return zapString(v);
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return `[${v.map(zapString).join(',')}]`;
}

/** The line (with its newline) of `zap.NewExample().<level>(msg, fields...)`. */
export function zapExampleLine(level: 'debug' | 'info' | 'warn' | 'error' | 'panic' | 'fatal', msg: string, fields: ZapFields = []): string {
  let out = `{"level":${zapString(level)},"msg":${zapString(msg)}`;
  for (const [k, v] of fields) out += `,${zapString(k)}:${zapValue(v)}`;
  return out + '}\n';
}
