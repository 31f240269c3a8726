/**
 * @module util/http2/hpack
 * HPACK (RFC 7541) for one direction of one HTTP/2 connection: a decoder that
 * keeps the sender's dynamic table (Huffman strings, dynamic table size
 * updates, the three literal kinds), and an encoder that writes a header list
 * as literals that never touch the receiver's dynamic table.
 *
 * Used by the client's HTTP/2 transport (src/client/transport) and the
 * server's (server/etcdserver/api/v3rpc/transport/http2.ts), each decoding
 * what its peer sends and answering with literals.
 *
 * Names and values are latin1 strings: one character per octet, so any octet
 * sequence survives decode → encode unchanged, and `.length` is the octet count
 * RFC 7541 §4.1 sizes entries by.
 */

/** A malformed header block (RFC 7541 §2.3 / HTTP/2 COMPRESSION_ERROR). */
export class HpackError extends Error {
  constructor(message: string) {
    super(`hpack: ${message}`);
    this.name = 'HpackError';
  }
}

/** One decoded header field. */
export interface HeaderField {
  /** Field name, latin1 (one char per octet). */
  readonly name: string;
  /** Field value, latin1 (one char per octet). */
  value: string;
  /** Sent as "Literal Header Field Never Indexed" (RFC 7541 §6.2.3): kept so on re-encoding. */
  readonly neverIndex: boolean;
}

/** Receives the fields of a header block from {@link HpackDecoder.visit}, in order. */
export interface HeaderSink {
  /** One field; `name` and `value` are latin1. */
  field(name: string, value: string, neverIndex: boolean): void;
}

/** RFC 7541 Appendix A: the static table, index 1..61 (entry 0 unused). */
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  ['', ''],
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

const STATIC_COUNT = STATIC_TABLE.length - 1;

/** Lowest static index per name, for encoding names by index. */
const STATIC_NAME_INDEX = new Map<string, number>();
for (let i = STATIC_COUNT; i >= 1; i--) STATIC_NAME_INDEX.set(STATIC_TABLE[i]![0], i);

/**
 * RFC 7541 Appendix B: the Huffman code length, in bits, of each symbol 0..255
 * and EOS (256). The code is canonical (codes assigned in order of length, then
 * symbol), so the lengths determine the codes.
 */
export const HUFFMAN_CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6,
  12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13,
  14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14,
  13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23,
  23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22,
  22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27,
  27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27,
  27, 26,
  30, // EOS
];

const EOS = 256;

/** The canonical Huffman code of each symbol (value in the low `HUFFMAN_CODE_LENGTHS[s]` bits). */
export const HUFFMAN_CODES: readonly number[] = (() => {
  // canonical code: symbols in order of (length, symbol) get consecutive codes
  const codes = new Array<number>(HUFFMAN_CODE_LENGTHS.length);
  let code = 0;
  let prevLen = 0;
  for (let len = 1; len <= 30; len++) {
    for (let sym = 0; sym < HUFFMAN_CODE_LENGTHS.length; sym++) {
      if (HUFFMAN_CODE_LENGTHS[sym] !== len) continue;
      if (prevLen !== 0) code = ((code + 1) << (len - prevLen)) >>> 0;
      prevLen = len;
      codes[sym] = code;
    }
  }
  return codes;
})();

/**
 * The decoding tree, built on first use: node n has children at [2n] (bit 0)
 * and [2n+1] (bit 1); a child >= 0 is another node, a child < 0 is the leaf
 * of symbol -child-1. 256 internal nodes suffice for 257 leaves of a complete
 * prefix code.
 */
let huffmanTree: Int32Array | undefined;
function buildHuffmanTree(): Int32Array {
  const tree = new Int32Array(2 * 256);
  let next = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const len = HUFFMAN_CODE_LENGTHS[sym]!;
    const code = HUFFMAN_CODES[sym]!;
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const slot = 2 * node + ((code >>> i) & 1);
      if (i === 0) {
        tree[slot] = -sym - 1;
      } else {
        if (tree[slot] === 0) tree[slot] = next++;
        node = tree[slot]!;
      }
    }
  }
  return tree;
}

/**
 * Decodes a Huffman-coded string (RFC 7541 §5.2) into latin1.
 * @throws HpackError when the EOS symbol appears, or the padding is longer
 *   than 7 bits or not the most significant bits of EOS (all ones)
 */
export function huffmanDecode(src: Uint8Array): string {
  const tree = (huffmanTree ??= buildHuffmanTree());
  let out = '';
  let node = 0;
  let pendingBits = 0; // bits consumed since the last complete symbol
  let pendingOnes = true; // those bits were all 1
  for (let i = 0; i < src.length; i++) {
    const byte = src[i]!;
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >> b) & 1;
      const child = tree[2 * node + bit]!;
      if (child < 0) {
        const sym = -child - 1;
        if (sym === EOS) throw new HpackError('EOS symbol in a Huffman-coded string');
        out += String.fromCharCode(sym);
        node = 0;
        pendingBits = 0;
        pendingOnes = true;
      } else {
        node = child;
        pendingBits++;
        if (bit === 0) pendingOnes = false;
      }
    }
  }
  if (pendingBits > 7) throw new HpackError('Huffman padding longer than 7 bits');
  if (!pendingOnes) throw new HpackError('Huffman padding is not the prefix of EOS');
  return out;
}

/**
 * Huffman-codes a latin1 string (RFC 7541 §5.2), padded with ones. The rewriting
 * stage sends plain literals; this exists for tests and tools that need coded strings.
 */
export function huffmanEncode(s: string): Buffer {
  const bytes: number[] = [];
  let acc = 0; // pending bits, at most 7 + 30 < 53: exact in a double
  let accBits = 0;
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i);
    if (sym > 255) throw new RangeError(`huffmanEncode: not a latin1 string (char ${sym} at ${i})`);
    const len = HUFFMAN_CODE_LENGTHS[sym]!;
    acc = acc * 2 ** len + HUFFMAN_CODES[sym]!;
    accBits += len;
    while (accBits >= 8) {
      accBits -= 8;
      const top = Math.floor(acc / 2 ** accBits);
      bytes.push(top);
      acc -= top * 2 ** accBits;
    }
  }
  if (accBits > 0) bytes.push(acc * 2 ** (8 - accBits) + (2 ** (8 - accBits) - 1));
  return Buffer.from(bytes);
}

/** Cursor over one header block. */
class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** RFC 7541 §5.1 integer with an N-bit prefix in the current octet (which is consumed). */
  int(prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    if (this.pos >= this.buf.length) throw new HpackError('header block truncated in an integer');
    let value = this.buf[this.pos++]! & mask;
    if (value < mask) return value;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.buf.length) throw new HpackError('header block truncated in an integer');
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (value > 0x7fffffff) throw new HpackError('integer overflow');
      if ((b & 0x80) === 0) return value;
    }
  }

  /** RFC 7541 §5.2 string literal, as latin1. */
  str(): string {
    if (this.pos >= this.buf.length) throw new HpackError('header block truncated in a string');
    const huffman = (this.buf[this.pos]! & 0x80) !== 0;
    const len = this.int(7);
    if (len > this.buf.length - this.pos) throw new HpackError(`string of ${len} octets past the end of the header block`);
    const raw = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return huffman ? huffmanDecode(raw) : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  }
}

/** Octets an entry takes in the dynamic table (RFC 7541 §4.1). */
function entrySize(name: string, value: string): number {
  return name.length + value.length + 32;
}

/**
 * The decoding side of one HPACK context (RFC 7541 §3): decodes the header
 * blocks of one direction of one connection, in order, keeping the dynamic table.
 */
export class HpackDecoder {
  /** Dynamic table, newest entry first (index 62 = entries[0]). */
  private readonly entries: [string, string][] = [];
  private size = 0;
  private maxSize: number;

  /**
   * @param settingsMaxSize the receiver's SETTINGS_HEADER_TABLE_SIZE (octets):
   *   the initial maximum and the largest size update accepted
   */
  constructor(private readonly settingsMaxSize = 4096) {
    this.maxSize = settingsMaxSize;
  }

  /** Current dynamic table size, octets (for tests). */
  get tableSize(): number {
    return this.size;
  }

  /** Number of dynamic table entries (for tests). */
  get tableLength(): number {
    return this.entries.length;
  }

  /**
   * Decodes one complete header block (HEADERS + CONTINUATION fragments joined).
   * @returns the header fields in order, and the dynamic table size updates
   *   the block started with (to be passed on to the next decoder)
   * @throws HpackError for a malformed block; the context is then unusable
   *   (the connection must end with COMPRESSION_ERROR, RFC 7540 §4.3)
   */
  decode(block: Uint8Array): { fields: HeaderField[]; sizeUpdates: number[] } {
    const fields: HeaderField[] = [];
    const sizeUpdates = this.visit(block, {
      field: (name, value, neverIndex) => {
        fields.push({ name, value, neverIndex });
      },
    });
    return { fields, sizeUpdates };
  }

  /**
   * {@link decode} without building the field list: `sink.field` is called for each
   * field in order (what a server that keeps only a header object needs).
   * @returns the dynamic table size updates the block started with
   * @throws HpackError as {@link decode}
   */
  visit(block: Uint8Array, sink: HeaderSink): number[] {
    const r = new Reader(block);
    let sizeUpdates: number[] | undefined;
    let fieldsSeen = false;
    while (!r.done) {
      const b = block[r.pos]!;
      if (b & 0x80) {
        const index = r.int(7);
        if (index === 0) throw new HpackError('indexed header field with index 0');
        const e = this.lookup(index);
        fieldsSeen = true;
        sink.field(e[0], e[1], false);
      } else if (b & 0x40) {
        const index = r.int(6);
        const name = index === 0 ? r.str() : this.lookup(index)[0];
        const value = r.str();
        fieldsSeen = true;
        sink.field(name, value, false);
        this.add(name, value);
      } else if (b & 0x20) {
        if (fieldsSeen) throw new HpackError('dynamic table size update after a header field');
        const size = r.int(5);
        if (size > this.settingsMaxSize) throw new HpackError(`dynamic table size update to ${size} exceeds the limit ${this.settingsMaxSize}`);
        this.maxSize = size;
        this.evict(0);
        (sizeUpdates ??= []).push(size);
      } else {
        const neverIndex = (b & 0x10) !== 0;
        const index = r.int(4);
        const name = index === 0 ? r.str() : this.lookup(index)[0];
        const value = r.str();
        fieldsSeen = true;
        sink.field(name, value, neverIndex);
      }
    }
    return sizeUpdates ?? [];
  }

  private lookup(index: number): readonly [string, string] {
    if (index <= STATIC_COUNT) return STATIC_TABLE[index]!;
    const e = this.entries[index - STATIC_COUNT - 1];
    if (e === undefined) throw new HpackError(`index ${index} not in the table (${this.entries.length} dynamic entries)`);
    return e;
  }

  private add(name: string, value: string): void {
    const sz = entrySize(name, value);
    if (sz > this.maxSize) {
      // RFC 7541 §4.4: an entry larger than the table empties it and is not added
      this.entries.length = 0;
      this.size = 0;
      return;
    }
    this.evict(sz);
    this.entries.unshift([name, value]);
    this.size += sz;
  }

  /** Evicts oldest entries until `incoming` more octets fit in maxSize. */
  private evict(incoming: number): void {
    while (this.size + incoming > this.maxSize && this.entries.length > 0) {
      const [n, v] = this.entries.pop()!;
      this.size -= entrySize(n, v);
    }
  }
}

function pushInt(out: number[], firstBits: number, prefixBits: number, value: number): void {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out.push(firstBits | value);
    return;
  }
  out.push(firstBits | mask);
  let rest = value - mask;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

function pushStr(out: number[], s: string): void {
  pushInt(out, 0x00, 7, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
}

/**
 * Encodes `fields` as a header block that leaves the receiver's dynamic table
 * untouched: each field a "Literal Header Field without Indexing" (or "Never
 * Indexed" when `neverIndex`), RFC 7541 §6.2.2/§6.2.3, the name by static
 * table index when it has one, strings not Huffman-coded. `sizeUpdates`
 * (dynamic table size updates, §6.3) are written first.
 */
export function encodeLiteralBlock(fields: readonly HeaderField[], sizeUpdates: readonly number[] = []): Buffer {
  const out: number[] = [];
  for (const size of sizeUpdates) pushInt(out, 0x20, 5, size);
  for (const f of fields) {
    const first = f.neverIndex ? 0x10 : 0x00;
    const nameIndex = STATIC_NAME_INDEX.get(f.name);
    if (nameIndex !== undefined) {
      pushInt(out, first, 4, nameIndex);
    } else {
      out.push(first);
      pushStr(out, f.name);
    }
    pushStr(out, f.value);
  }
  return Buffer.from(out);
}
