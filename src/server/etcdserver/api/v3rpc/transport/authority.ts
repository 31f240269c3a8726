/**
 * @module server/etcdserver/api/v3rpc/transport/authority
 * The `:authority` rewriting stage between a client connection and node:http2.
 *
 * grpc-go as vendored by etcdctl 3.4 sends the dial target as the HTTP/2
 * `:authority`, scheme included, when the endpoint was written with one
 * (`--endpoints=http://127.0.0.1:2379` for defrag, endpoint status/hashkv,
 * the `--cluster` variants, ...): `:authority: http://127.0.0.1:2379`. Go's
 * HTTP/2 server takes it; nghttp2 (node:http2) checks :authority and host
 * against the RFC 3986 authority characters (nghttp2_check_authority) and
 * resets the stream with PROTOCOL_ERROR before our handlers see it, and Node
 * has no option to turn that check off.
 *
 * {@link HeaderBlockRewriter} therefore sits on the client→server bytes of
 * such a connection (preamble.ts decides which connections): it parses the
 * frames, decodes each header block (HEADERS + CONTINUATION) with an HPACK
 * decoder that keeps the client's dynamic table, replaces an invalid
 * :authority or host by {@link sanitizeAuthority}, and re-encodes the block as
 * literals without indexing, so nghttp2's decoder table stays empty and the
 * client's indexes only ever refer to ours. Padding is dropped, PRIORITY and
 * END_STREAM are kept, the block is split into frames of at most
 * SETTINGS_MAX_FRAME_SIZE. Every other frame passes unchanged, payloads are
 * streamed without buffering; the server→client direction is not touched.
 *
 * Errors are left to nghttp2 so the client sees what it would have without
 * the stage: a framing error (bad padding, CONTINUATION out of place, a frame
 * inside a header block) is passed on as received, and a malformed HPACK block
 * is replaced by a block nghttp2 itself rejects (an indexed field with index 0),
 * so nghttp2 answers GOAWAY COMPRESSION_ERROR and closes the connection; in
 * both cases the stage forwards nothing after it.
 */
import { Duplex } from 'node:stream';
import type net from 'node:net';
import { encodeLiteralBlock, HpackDecoder, HpackError } from '../../../../../util/http2/hpack.js';
import { CLIENT_PREFACE, DEFAULT_HEADER_TABLE_SIZE, DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_BYTES, FrameFlag, frameHeader, FrameType, readFrameHeader } from '../../../../../util/http2/frame.js';

/** Largest compressed header block the stage buffers (HEADERS + CONTINUATION), octets. */
export const MAX_HEADER_BLOCK_BYTES = 1 << 20;

/**
 * nghttp2_check_authority's characters: RFC 3986 unreserved, sub-delims, ':',
 * '@', '[', ']' and '%' (checked against node:http2 byte by byte in
 * test/server/v3rpc/authority.test.ts).
 */
const AUTHORITY_CHARS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  const allowed = "!$%&'()*+,-.:;=@[]_~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (let i = 0; i < allowed.length; i++) t[allowed.charCodeAt(i)] = 1;
  return t;
})();

/**
 * True when nghttp2 (node:http2's server) accepts `value` as :authority or
 * host: not empty, only authority characters. `value` is latin1 (one char per octet).
 */
export function isValidAuthority(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 255 || AUTHORITY_CHARS[c] === 0) return false;
  }
  return true;
}

/**
 * A valid authority for an invalid one: without a leading `scheme://`, cut at
 * the first '/', '?' or '#' (what is left is grpc-go's host:port), other
 * disallowed octets percent-encoded, "localhost" when nothing is left
 * (e.g. `unix:///path`). A valid value is returned unchanged.
 */
export function sanitizeAuthority(value: string): string {
  if (isValidAuthority(value)) return value;
  let s = value;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(s);
  if (scheme) s = s.slice(scheme[0].length);
  const cut = s.search(/[/?#]/);
  if (cut >= 0) s = s.slice(0, cut);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) & 0xff;
    out += AUTHORITY_CHARS[c] ? s[i] : `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out === '' ? 'localhost' : out;
}

/** The header fields checked by nghttp2_check_authority. */
function isAuthorityField(name: string): boolean {
  return name === ':authority' || name === 'host';
}

/**
 * True when a decoded header list would pass nghttp2's authority check as is
 * (every :authority and host valid; absent ones are not this stage's concern).
 */
export function authorityFieldsValid(fields: readonly { name: string; value: string }[]): boolean {
  for (const f of fields) if (isAuthorityField(f.name) && !isValidAuthority(f.value)) return false;
  return true;
}

/** The parts of a HEADERS frame payload (RFC 7540 §6.2), or undefined when the padding/priority fields do not fit. */
export function splitHeadersPayload(flags: number, payload: Buffer): { priority?: Buffer; fragment: Buffer } | undefined {
  let p = 0;
  let pad = 0;
  if (flags & FrameFlag.PADDED) {
    if (payload.length < 1) return undefined;
    pad = payload[0]!;
    p = 1;
  }
  let priority: Buffer | undefined;
  if (flags & FrameFlag.PRIORITY) {
    if (payload.length - p < 5) return undefined;
    priority = payload.subarray(p, p + 5);
    p += 5;
  }
  if (pad > payload.length - p) return undefined;
  return { priority, fragment: payload.subarray(p, payload.length - pad) };
}

/** Options of {@link HeaderBlockRewriter}. */
export interface RewriterOptions {
  /**
   * Drop the client's first SETTINGS ACK: it acknowledges the SETTINGS that
   * preamble.ts sent before node:http2 owned the connection, and nghttp2
   * would take an ACK it did not ask for as a connection error.
   */
  readonly dropSettingsAck?: boolean;
  /** The server's SETTINGS_HEADER_TABLE_SIZE (default 4096). */
  readonly headerTableSize?: number;
  /** The server's SETTINGS_MAX_FRAME_SIZE: largest re-encoded frame payload (default 16384). */
  readonly maxFrameSize?: number;
  /** Largest header block buffered, octets (default {@link MAX_HEADER_BLOCK_BYTES}). */
  readonly maxHeaderBlockBytes?: number;
}

interface OpenBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly priority?: Buffer;
  readonly fragments: Buffer[];
  /** The frames as received, for passing a framing error on unchanged. */
  readonly frames: Buffer[];
  size: number;
}

/**
 * The client→server byte transformer; see the module doc. Feed it the
 * connection's bytes in order (starting with the 24-octet preface) with
 * {@link push}; it returns the bytes to give nghttp2.
 */
export class HeaderBlockRewriter {
  private readonly decoder: HpackDecoder;
  private readonly maxFrameSize: number;
  private readonly maxBlock: number;
  private dropSettingsAck: boolean;
  private prefaceLeft = CLIENT_PREFACE.length;
  private readonly hdr = Buffer.alloc(FRAME_HEADER_BYTES);
  private hdrLen = 0;
  /** Payload octets of a passed-through frame still to forward. */
  private passLeft = 0;
  /** A HEADERS/CONTINUATION frame whose payload is being collected. */
  private collecting?: { header: Buffer; parts: Buffer[]; need: number };
  private block?: OpenBlock;
  private failure?: string;
  /** Header blocks re-encoded so far. */
  blocks = 0;
  /** :authority/host values replaced so far. */
  rewritten = 0;

  constructor(opts: RewriterOptions = {}) {
    this.decoder = new HpackDecoder(opts.headerTableSize ?? DEFAULT_HEADER_TABLE_SIZE);
    this.maxFrameSize = opts.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.maxBlock = opts.maxHeaderBlockBytes ?? MAX_HEADER_BLOCK_BYTES;
    this.dropSettingsAck = opts.dropSettingsAck ?? false;
  }

  /** Why the stage stopped forwarding (the error passed on to nghttp2), or undefined. */
  get failed(): string | undefined {
    return this.failure;
  }

  /** Takes the next client bytes; returns what to hand nghttp2 (slices of `chunk` where unchanged). */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let off = 0;
    if (this.prefaceLeft > 0 && this.failure === undefined) {
      const n = Math.min(this.prefaceLeft, chunk.length);
      out.push(chunk.subarray(0, n));
      this.prefaceLeft -= n;
      off = n;
    }
    while (off < chunk.length && this.failure === undefined) {
      if (this.passLeft > 0) {
        const n = Math.min(this.passLeft, chunk.length - off);
        out.push(chunk.subarray(off, off + n));
        this.passLeft -= n;
        off += n;
        continue;
      }
      const c = this.collecting;
      if (c !== undefined) {
        const n = Math.min(c.need, chunk.length - off);
        c.parts.push(chunk.subarray(off, off + n));
        c.need -= n;
        off += n;
        if (c.need === 0) {
          this.collecting = undefined;
          this.onHeaderFrame(c.header, c.parts.length === 1 ? c.parts[0]! : Buffer.concat(c.parts), out);
        }
        continue;
      }
      const n = Math.min(FRAME_HEADER_BYTES - this.hdrLen, chunk.length - off);
      chunk.copy(this.hdr, this.hdrLen, off, off + n);
      this.hdrLen += n;
      off += n;
      if (this.hdrLen < FRAME_HEADER_BYTES) break;
      this.hdrLen = 0;
      this.onFrameHeader(Buffer.from(this.hdr), out);
    }
    return out;
  }

  private fail(reason: string): void {
    this.failure = reason;
    this.block = undefined;
    this.collecting = undefined;
  }

  private onFrameHeader(header: Buffer, out: Buffer[]): void {
    const { length, type, flags, streamId } = readFrameHeader(header);
    const block = this.block;
    if (block !== undefined && !(type === FrameType.CONTINUATION && streamId === block.streamId)) {
      // RFC 7540 §6.10: only CONTINUATION of the same stream may follow; nghttp2 reports it
      out.push(...block.frames, header);
      this.fail(`frame type ${type} on stream ${streamId} inside the header block of stream ${block.streamId}`);
      return;
    }
    if (type === FrameType.HEADERS || type === FrameType.CONTINUATION) {
      if ((block?.size ?? 0) + length > this.maxBlock) {
        out.push(poisonBlock(streamId));
        this.fail(`header block larger than ${this.maxBlock} octets`);
        return;
      }
      this.collecting = { header, parts: [], need: length };
      if (length === 0) {
        this.collecting = undefined;
        this.onHeaderFrame(header, Buffer.alloc(0), out);
      }
      return;
    }
    if (type === FrameType.SETTINGS && (flags & FrameFlag.ACK) && length === 0 && this.dropSettingsAck) {
      this.dropSettingsAck = false;
      return;
    }
    out.push(header);
    this.passLeft = length;
  }

  private onHeaderFrame(header: Buffer, payload: Buffer, out: Buffer[]): void {
    const { type, flags, streamId } = readFrameHeader(header);
    if (type === FrameType.HEADERS) {
      const parts = splitHeadersPayload(flags, payload);
      if (parts === undefined) {
        out.push(header, payload);
        this.fail(`HEADERS on stream ${streamId}: padding or priority longer than the frame`);
        return;
      }
      this.block = {
        streamId,
        endStream: (flags & FrameFlag.END_STREAM) !== 0,
        priority: parts.priority,
        fragments: [parts.fragment],
        frames: [header, payload],
        size: parts.fragment.length,
      };
    } else {
      const block = this.block;
      if (block === undefined) {
        out.push(header, payload);
        this.fail(`CONTINUATION on stream ${streamId} without HEADERS`);
        return;
      }
      block.fragments.push(payload);
      block.frames.push(header, payload);
      block.size += payload.length;
    }
    if (flags & FrameFlag.END_HEADERS) this.finishBlock(out);
  }

  private finishBlock(out: Buffer[]): void {
    const block = this.block!;
    this.block = undefined;
    const data = block.fragments.length === 1 ? block.fragments[0]! : Buffer.concat(block.fragments);
    let decoded;
    try {
      decoded = this.decoder.decode(data);
    } catch (e) {
      if (!(e instanceof HpackError)) throw e;
      out.push(poisonBlock(block.streamId));
      this.fail(`stream ${block.streamId}: ${e.message}`);
      return;
    }
    for (const f of decoded.fields) {
      if (isAuthorityField(f.name) && !isValidAuthority(f.value)) {
        f.value = sanitizeAuthority(f.value);
        this.rewritten++;
      }
    }
    this.blocks++;
    const encoded = encodeLiteralBlock(decoded.fields, decoded.sizeUpdates);
    const prio = block.priority;
    const firstRoom = this.maxFrameSize - (prio ? prio.length : 0);
    const first = encoded.subarray(0, firstRoom);
    let rest = encoded.subarray(first.length);
    const flags =
      (block.endStream ? FrameFlag.END_STREAM : 0) | (prio ? FrameFlag.PRIORITY : 0) | (rest.length === 0 ? FrameFlag.END_HEADERS : 0);
    out.push(frameHeader(first.length + (prio ? prio.length : 0), FrameType.HEADERS, flags, block.streamId));
    if (prio) out.push(prio);
    out.push(first);
    while (rest.length > 0) {
      const part = rest.subarray(0, this.maxFrameSize);
      rest = rest.subarray(part.length);
      out.push(frameHeader(part.length, FrameType.CONTINUATION, rest.length === 0 ? FrameFlag.END_HEADERS : 0, block.streamId), part);
    }
  }
}

/**
 * A complete HEADERS frame whose block nghttp2 rejects with COMPRESSION_ERROR
 * (an indexed field with index 0, RFC 7541 §6.1), so the connection ends as
 * it would have for the client's malformed block.
 */
export function poisonBlock(streamId: number): Buffer {
  return Buffer.concat([frameHeader(1, FrameType.HEADERS, FrameFlag.END_HEADERS, streamId), Buffer.of(0x80)]);
}

/**
 * How long a connection stays open after the stage stopped forwarding, ms:
 * time for nghttp2's GOAWAY to go out. (node:http2 itself leaves a connection
 * open after a GOAWAY for a connection error until the client closes it.)
 */
const FAILED_CLOSE_MS = 1000;

/**
 * The stage as a Duplex for node:http2: the readable side is the client's
 * rewritten bytes, the writable side goes to `socket` unchanged. Ending or
 * destroying either end ends the other.
 */
export class AuthorityRewritingStream extends Duplex {
  readonly rewriter: HeaderBlockRewriter;
  private failTimer?: NodeJS.Timeout;

  /**
   * @param socket the client connection (net.Socket or tls.TLSSocket), not
   *   read by anyone else; it is resumed here
   * @param initial client bytes already read from `socket`, from the preface on
   */
  constructor(private readonly socket: net.Socket, initial: Buffer, opts: RewriterOptions = {}) {
    super({ allowHalfOpen: true });
    this.rewriter = new HeaderBlockRewriter(opts);
    // node:http2 turns Nagle off on the sockets it owns; it cannot reach this one
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onClientData(d));
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    socket.on('error', (e) => this.destroy(e));
    if (initial.length > 0) this.onClientData(initial);
    socket.resume();
  }

  private onClientData(d: Buffer): void {
    if (this.rewriter.failed !== undefined) return;
    let more = true;
    for (const b of this.rewriter.push(d)) more = this.push(b) && more;
    if (!more) this.socket.pause();
    if (this.rewriter.failed !== undefined && this.failTimer === undefined) {
      this.failTimer = setTimeout(() => this.destroy(), FAILED_CLOSE_MS);
      this.failTimer.unref();
    }
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.socket.write(chunk)) cb();
    else this.socket.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.failTimer) clearTimeout(this.failTimer);
    this.socket.destroy();
    cb(err);
  }
}
