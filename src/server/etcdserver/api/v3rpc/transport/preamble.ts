/**
 * @module server/etcdserver/api/v3rpc/transport/preamble
 * Accepting an HTTP/2 connection for node:http2: decides, from the client's
 * first header block, whether the connection can go to nghttp2 as it is (the
 * socket itself, natively read: the fast path) or needs the :authority
 * rewriting stage of authority.ts for its lifetime (grpc-go's
 * `:authority: http://host:port`, which nghttp2 rejects).
 *
 * A client that sends its first request together with the preface (node:http2
 * clients with a request queued before the connection was up) is decided at
 * once, before the server has sent anything. grpc-go (etcdctl, clientv3) sends
 * no request before it has the server's connection preface, and node:http2
 * sends its SETTINGS only once it owns the socket. So, when the bytes that
 * came with the client preface hold no complete header block, we send an
 * empty SETTINGS frame (a valid server preface: all values default until
 * nghttp2's SETTINGS follows, which HTTP/2 allows at any time), answer PINGs
 * ourselves from then on, and read until both the first complete header block
 * and the client's ACK of our SETTINGS are in. That ACK is removed (nghttp2 did
 * not send those SETTINGS and would take an ACK it did not ask for as a
 * connection error); every other byte read is put back (unshift) for nghttp2,
 * or fed to the stage. grpc-go and grpc-js send the ACK with their first
 * request, so the hand-over costs no extra round trip; a client that sends its
 * request before it read our SETTINGS waits one round trip more at connection
 * start. Requests on an established connection cost nothing more.
 *
 * - every :authority/host of the first block valid (our etcdctl, grpc-js,
 *   clientv3 with host:port endpoints) → the socket goes to nghttp2 untouched;
 * - an invalid one, a malformed first block, or no ACK within
 *   {@link SETTINGS_ACK_WAIT_MS} of the first block → the stage (which then
 *   drops the ACK when it comes);
 * - bytes that are not the client preface → the socket as it is (nghttp2
 *   answers them as it would have).
 */
import type net from 'node:net';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import {
  AuthorityRewritingStream,
  authorityFieldsValid,
  splitHeadersPayload,
  type RewriterOptions,
} from './authority.js';
import { CLIENT_PREFACE, DEFAULT_HEADER_TABLE_SIZE, FRAME_HEADER_BYTES, FrameFlag, frameHeader, FrameType, readFrameHeader } from '../../../../../util/http2/frame.js';
import { HpackDecoder, HpackError } from '../../../../../util/http2/hpack.js';

/** Wait for the client's SETTINGS ACK once its first header block is in, ms. */
export const SETTINGS_ACK_WAIT_MS = 1000;

/** Bytes read before deciding past which the connection goes to the stage. */
export const MAX_PREAMBLE_BYTES = 256 * 1024;

/** The empty SETTINGS frame sent as the server connection preface. */
const EMPTY_SETTINGS = frameHeader(0, FrameType.SETTINGS, 0, 0);

/** How {@link acceptHttp2} handed the connection over. */
export type Handoff = 'direct' | 'rewrite' | 'as-is';

/** Options of {@link acceptHttp2}. */
export interface AcceptOptions {
  /** The server's SETTINGS_HEADER_TABLE_SIZE and SETTINGS_MAX_FRAME_SIZE (defaults 4096, 16384). */
  readonly headerTableSize?: number;
  readonly maxFrameSize?: number;
  /** Called with the way the connection was handed over (tests, logging). */
  readonly onDecision?: (how: Handoff) => void;
}

/**
 * Reads the start of the HTTP/2 connection `socket` (preface and frames, see
 * the module doc) and calls `handoff` once with what node:http2 must serve:
 * `socket` itself with the bytes read unshifted (paused; the caller must not
 * resume it), or an {@link AuthorityRewritingStream} over it. A socket that
 * closes or errors first is destroyed and `handoff` is not called.
 *
 * @param socket a connected net.Socket or tls.TLSSocket (after the handshake)
 *   whose first bytes, if read, were unshifted; nothing else may read it
 * @returns a function that abandons the wait (destroys the socket) when it has
 *   not been handed over yet
 */
export function acceptHttp2(socket: net.Socket, handoff: (conn: Duplex) => void, opts: AcceptOptions = {}): () => void {
  const kept: Buffer[] = [];
  let buf: Buffer = Buffer.alloc(0);
  let total = 0;
  let prefaceDone = false;
  /** EMPTY_SETTINGS was sent (and its ACK is to be removed). */
  let settingsSent = false;
  let ackSeen = false;
  let block: { streamId: number; fragments: Buffer[]; done: boolean; bad: boolean } | undefined;
  let ackTimer: NodeJS.Timeout | undefined;
  let finished = false;

  const cleanup = () => {
    finished = true;
    if (ackTimer) clearTimeout(ackTimer);
    socket.off('data', onData);
    socket.off('end', onGone);
    socket.off('error', onGone);
    socket.off('close', onGone);
  };
  const onGone = () => {
    if (finished) return;
    cleanup();
    socket.destroy();
  };
  const pending = (): Buffer => Buffer.concat([...kept, buf]);
  const direct = (how: Handoff) => {
    // A TLS socket handed to node:http2 directly loses a response now and then (the real
    // etcdctl 3.4 hung on about 1 call in 30 against a bare GrpcServer behind tls.Server;
    // none did through the stage), so TLS connections always go through the stage.
    if (how === 'direct' && (socket as tls.TLSSocket).encrypted === true) return rewrite();
    const bytes = pending();
    cleanup();
    socket.pause();
    if (bytes.length > 0) socket.unshift(bytes);
    opts.onDecision?.(how);
    handoff(socket);
  };
  const rewrite = () => {
    const bytes = pending();
    cleanup();
    const ropts: RewriterOptions = {
      dropSettingsAck: settingsSent && !ackSeen,
      headerTableSize: opts.headerTableSize,
      maxFrameSize: opts.maxFrameSize,
    };
    const stage = new AuthorityRewritingStream(socket, bytes, ropts);
    opts.onDecision?.('rewrite');
    handoff(stage);
  };

  /** Hands over once the first block is in: directly when its authority is fine and our SETTINGS are acknowledged. */
  let blockValid = false;
  const decide = (): void => {
    if (block === undefined || !block.done) return;
    if (!blockValid) {
      if (block.bad) return rewrite(); // the stage passes the framing error on to nghttp2
      try {
        const data = block.fragments.length === 1 ? block.fragments[0]! : Buffer.concat(block.fragments);
        if (!authorityFieldsValid(new HpackDecoder(opts.headerTableSize ?? DEFAULT_HEADER_TABLE_SIZE).decode(data).fields)) return rewrite();
      } catch (e) {
        if (!(e instanceof HpackError)) throw e;
        return rewrite(); // the stage makes nghttp2 answer COMPRESSION_ERROR
      }
      blockValid = true;
    }
    if (ackSeen || !settingsSent) return direct('direct');
    ackTimer ??= setTimeout(() => {
      if (!finished) rewrite();
    }, SETTINGS_ACK_WAIT_MS);
  };

  const onFrame = (frame: Buffer): void => {
    const { length, type, flags, streamId } = readFrameHeader(frame);
    const payload = frame.subarray(FRAME_HEADER_BYTES);
    if (type === FrameType.SETTINGS && (flags & FrameFlag.ACK) && length === 0 && settingsSent && !ackSeen) {
      ackSeen = true; // acknowledges EMPTY_SETTINGS: not for nghttp2
      return;
    }
    if (type === FrameType.PING && !(flags & FrameFlag.ACK) && length === 8 && settingsSent) {
      // (before our SETTINGS went out, a PING ACK cannot be the first server frame: nghttp2 answers it)
      socket.write(Buffer.concat([frameHeader(8, FrameType.PING, FrameFlag.ACK, 0), payload]));
      return;
    }
    kept.push(frame);
    if (block === undefined) {
      if (type !== FrameType.HEADERS) return;
      const parts = splitHeadersPayload(flags, payload);
      block = { streamId, fragments: parts ? [parts.fragment] : [], done: parts === undefined || (flags & FrameFlag.END_HEADERS) !== 0, bad: parts === undefined };
    } else if (!block.done) {
      if (type === FrameType.CONTINUATION && streamId === block.streamId) {
        block.fragments.push(payload);
        block.done = (flags & FrameFlag.END_HEADERS) !== 0;
      } else {
        block.done = true;
        block.bad = true;
      }
    }
  };

  const onData = (d: Buffer): void => {
    total += d.length;
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    if (!prefaceDone) {
      const n = Math.min(buf.length, CLIENT_PREFACE.length);
      if (!buf.subarray(0, n).equals(CLIENT_PREFACE.subarray(0, n))) return direct('as-is');
      if (n < CLIENT_PREFACE.length) return;
      kept.push(buf.subarray(0, n));
      buf = buf.subarray(n);
      prefaceDone = true;
    }
    while (buf.length >= FRAME_HEADER_BYTES) {
      const end = FRAME_HEADER_BYTES + buf.readUIntBE(0, 3);
      if (buf.length < end) break;
      onFrame(buf.subarray(0, end));
      buf = buf.subarray(end);
      decide();
      if (finished) return;
    }
    if (total > MAX_PREAMBLE_BYTES) return rewrite();
    if (!settingsSent) {
      // the first request was not in the bytes that came with the preface: the client
      // may be waiting for the server preface (grpc-go does)
      settingsSent = true;
      socket.write(EMPTY_SETTINGS);
    }
  };

  socket.on('data', onData);
  socket.on('end', onGone);
  socket.on('error', onGone);
  socket.on('close', onGone);
  socket.resume();
  return onGone;
}
