/**
 * @module server/etcdserver/api/v3rpc/gateway/gojson
 * JSON reading with Go encoding/json's grammar and error texts, for the JSON
 * gateway (grpc-gateway 1.x decodes request bodies with a json.Decoder, then
 * golang/protobuf jsonpb re-reads the value with json.Unmarshal).
 *
 * {@link GoJsonDecoder} reads successive top-level values from a growing byte
 * buffer as json.Decoder.Decode does: whitespace-only input at the end is EOF,
 * a value cut short by the end is "unexpected EOF", and a syntax error is Go's
 * SyntaxError text, e.g. "invalid character 'x' after object key:value pair".
 * {@link goUnmarshalText} is json.Unmarshal's check of a whole text (used for
 * the contents of quoted numbers).
 *
 * Values are returned as a tree keeping numbers as their literal text (so
 * int64s lose nothing) and strings unescaped as Go does (invalid UTF-8 and
 * lone surrogates become U+FFFD).
 */

/** A JSON value; object entries keep their order and duplicates (Go keeps the last). */
export type JNode =
  | { readonly t: 'obj'; readonly entries: ReadonlyArray<readonly [string, JNode]> }
  | { readonly t: 'arr'; readonly items: readonly JNode[] }
  | { readonly t: 'str'; readonly value: string; readonly raw: Buffer }
  | { readonly t: 'num'; readonly raw: string }
  | { readonly t: 'true' | 'false' | 'null' };

/** A Go encoding/json error; `message` is Go's text. */
export class GoJsonError extends Error {}

/** The end of input was reached inside a value. */
class Incomplete extends Error {}
const INCOMPLETE = new Incomplete('incomplete');

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

/** Go encoding/json quoteChar: how a byte is shown in a SyntaxError. */
export function goQuoteChar(c: number): string {
  if (c === 0x27) return "'\\''";
  if (c === 0x22) return "'\"'";
  // strconv.Quote(string(rune(c))) without its quotes
  let s: string;
  if (c === 0x07) s = '\\a';
  else if (c === 0x08) s = '\\b';
  else if (c === 0x0c) s = '\\f';
  else if (c === 0x0a) s = '\\n';
  else if (c === 0x0d) s = '\\r';
  else if (c === 0x09) s = '\\t';
  else if (c === 0x0b) s = '\\v';
  else if (c === 0x5c) s = '\\\\';
  else if (c < 0x20 || c === 0x7f) s = `\\x${c.toString(16).padStart(2, '0')}`;
  else if (c < 0x7f) s = String.fromCharCode(c);
  else if (c < 0xa0 || c === 0xad) s = `\\u00${c.toString(16).padStart(2, '0')}`;
  else s = String.fromCharCode(c);
  return `'${s}'`;
}

function syntaxError(c: number, context: string): GoJsonError {
  return new GoJsonError(`invalid character ${goQuoteChar(c)} ${context}`);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Parser over buf[0..end); throws INCOMPLETE when it runs off the end. */
class Parser {
  pos: number;
  constructor(private readonly buf: Buffer, start: number, private readonly end: number) {
    this.pos = start;
  }

  private peek(): number {
    if (this.pos >= this.end) throw INCOMPLETE;
    return this.buf[this.pos]!;
  }

  skipSpace(): void {
    while (this.pos < this.end && isSpace(this.buf[this.pos]!)) this.pos++;
  }

  value(context = 'looking for beginning of value'): JNode {
    this.skipSpace();
    const c = this.peek();
    if (c === 0x7b) return this.object();
    if (c === 0x5b) return this.array();
    if (c === 0x22) return this.string();
    if (c === 0x2d || isDigit(c)) return this.number();
    if (c === 0x74) return this.literal('true');
    if (c === 0x66) return this.literal('false');
    if (c === 0x6e) return this.literal('null');
    throw syntaxError(c, context);
  }

  private object(): JNode {
    this.pos++;
    const entries: Array<[string, JNode]> = [];
    this.skipSpace();
    if (this.peek() === 0x7d) {
      this.pos++;
      return { t: 'obj', entries };
    }
    for (;;) {
      this.skipSpace();
      const c = this.peek();
      if (c !== 0x22) throw syntaxError(c, 'looking for beginning of object key string');
      const key = this.string() as { value: string };
      this.skipSpace();
      const colon = this.peek();
      if (colon !== 0x3a) throw syntaxError(colon, 'after object key');
      this.pos++;
      entries.push([key.value, this.value()]);
      this.skipSpace();
      const d = this.peek();
      this.pos++;
      if (d === 0x2c) continue;
      if (d === 0x7d) return { t: 'obj', entries };
      throw syntaxError(d, 'after object key:value pair');
    }
  }

  private array(): JNode {
    this.pos++;
    const items: JNode[] = [];
    this.skipSpace();
    if (this.peek() === 0x5d) {
      this.pos++;
      return { t: 'arr', items };
    }
    for (;;) {
      items.push(this.value());
      this.skipSpace();
      const d = this.peek();
      this.pos++;
      if (d === 0x2c) continue;
      if (d === 0x5d) return { t: 'arr', items };
      throw syntaxError(d, 'after array element');
    }
  }

  private string(): JNode {
    const start = ++this.pos;
    let simple = true;
    for (;;) {
      const c = this.peek();
      if (c === 0x22) break;
      if (c === 0x5c) {
        simple = false;
        this.pos++;
        const e = this.peek();
        if (e === 0x75) {
          for (let i = 0; i < 4; i++) {
            this.pos++;
            const h = this.peek();
            if (!isHex(h)) throw syntaxError(h, 'in \\u hexadecimal character escape');
          }
        } else if (!'"\\/bfnrt'.includes(String.fromCharCode(e))) {
          throw syntaxError(e, 'in string escape code');
        }
        this.pos++;
        continue;
      }
      if (c < 0x20) throw syntaxError(c, 'in string literal');
      if (c >= 0x80) simple = false;
      this.pos++;
    }
    const raw = this.buf.subarray(start, this.pos);
    this.pos++;
    return { t: 'str', raw, value: simple ? raw.toString('latin1') : unescapeGo(raw) };
  }

  private number(): JNode {
    const start = this.pos;
    let c = this.peek();
    if (c === 0x2d) {
      this.pos++;
      c = this.peek();
      if (!isDigit(c)) throw syntaxError(c, 'in numeric literal');
    }
    // the scanner needs the byte after a number to know it ended: at the end of
    // the input the number is complete only if the input is final (see NumberEnd)
    const more = () => (this.pos < this.end ? this.buf[this.pos]! : -1);
    if (c === 0x30) this.pos++;
    else while (isDigit(more())) this.pos++;
    if (more() === 0x2e) {
      this.pos++;
      const d = this.peek();
      if (!isDigit(d)) throw syntaxError(d, 'after decimal point in numeric literal');
      while (isDigit(more())) this.pos++;
    }
    if (more() === 0x65 || more() === 0x45) {
      this.pos++;
      let d = this.peek();
      if (d === 0x2b || d === 0x2d) {
        this.pos++;
        d = this.peek();
      }
      if (!isDigit(d)) throw syntaxError(d, 'in exponent of numeric literal');
      while (isDigit(more())) this.pos++;
    }
    if (this.pos >= this.end) this.numberAtEnd = true;
    return { t: 'num', raw: this.buf.toString('latin1', start, this.pos) };
  }

  /** True when the last number read ran to the end of the input. */
  numberAtEnd = false;

  private literal(word: 'true' | 'false' | 'null'): JNode {
    this.pos++;
    for (let i = 1; i < word.length; i++) {
      const c = this.peek();
      if (c !== word.charCodeAt(i)) throw syntaxError(c, `in literal ${word} (expecting '${word[i]}')`);
      this.pos++;
    }
    return { t: word };
  }
}

/** Go's unquote of a JSON string's bytes (between the quotes). */
function unescapeGo(raw: Buffer): string {
  let out = '';
  let i = 0;
  let run = 0;
  const flush = (to: number) => {
    if (to > run) out += utf8.decode(raw.subarray(run, to));
  };
  while (i < raw.length) {
    if (raw[i] !== 0x5c) {
      i++;
      continue;
    }
    flush(i);
    const e = raw[i + 1]!;
    i += 2;
    switch (e) {
      case 0x62: out += '\b'; break;
      case 0x66: out += '\f'; break;
      case 0x6e: out += '\n'; break;
      case 0x72: out += '\r'; break;
      case 0x74: out += '\t'; break;
      case 0x75: {
        let u = parseInt(raw.toString('latin1', i, i + 4), 16);
        i += 4;
        if (u >= 0xd800 && u < 0xdc00 && raw[i] === 0x5c && raw[i + 1] === 0x75) {
          const lo = parseInt(raw.toString('latin1', i + 2, i + 6), 16);
          if (lo >= 0xdc00 && lo < 0xe000) {
            out += String.fromCharCode(u, lo);
            i += 6;
            break;
          }
        }
        if (u >= 0xd800 && u < 0xe000) u = 0xfffd;
        out += String.fromCharCode(u);
        break;
      }
      default: out += String.fromCharCode(e);
    }
    run = i;
  }
  flush(raw.length);
  return out;
}

/**
 * Successive top-level values of a byte stream, as Go's json.Decoder reads
 * them: `push` bytes, `end()` at EOF, then `next()`.
 */
export class GoJsonDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private failed: GoJsonError | undefined;

  /** Appends body bytes. */
  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** Marks the end of the body. */
  end(): void {
    this.ended = true;
  }

  /**
   * The next value: a node; 'more' when the buffered bytes do not hold a
   * whole value yet and the body has not ended; 'eof' when only whitespace is
   * left at the end. After an error, every call throws it again (as Go's Decoder).
   * @throws GoJsonError Go's SyntaxError text, or "unexpected EOF"
   */
  next(): JNode | 'more' | 'eof' {
    if (this.failed) throw this.failed;
    const p = new Parser(this.buf, 0, this.buf.length);
    p.skipSpace();
    if (p.pos === this.buf.length) {
      this.buf = Buffer.alloc(0);
      return this.ended ? 'eof' : 'more';
    }
    try {
      const v = p.value();
      if (p.numberAtEnd && !this.ended) return 'more';
      this.buf = this.buf.subarray(p.pos);
      return v;
    } catch (e) {
      if (e instanceof Incomplete) {
        if (!this.ended) return 'more';
        this.failed = new GoJsonError('unexpected EOF');
        throw this.failed;
      }
      this.failed = e as GoJsonError;
      throw e;
    }
  }
}

/**
 * json.Unmarshal's parse of a whole text: one value and only whitespace
 * after it. @throws GoJsonError "unexpected end of JSON input", a syntax
 * error, or "invalid character 'x' after top-level value"
 */
export function goUnmarshalText(text: Buffer): JNode {
  const p = new Parser(text, 0, text.length);
  let v: JNode;
  try {
    v = p.value();
  } catch (e) {
    if (!(e instanceof Incomplete)) throw e;
    // Go's checkValid steps one more ' ' at the end: a number or literal cut short
    // is a syntax error at that space, anything else "unexpected end of JSON input"
    try {
      new Parser(Buffer.concat([text, Buffer.from(' ')]), 0, text.length + 1).value();
    } catch (e2) {
      if (e2 instanceof GoJsonError) throw e2;
    }
    throw new GoJsonError('unexpected end of JSON input');
  }
  p.skipSpace();
  if (p.pos < text.length) throw syntaxError(text[p.pos]!, 'after top-level value');
  return v;
}
