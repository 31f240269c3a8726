/**
 * @module server/rafthttp/codec
 *
 * Framing of raft messages on streams and in snapshot bodies, as etcd 3.4's
 * rafthttp messageEncoder/messageDecoder (msg_codec.go): each message is an 8-byte
 * big-endian length followed by that many bytes of raftpb.Message. Pipeline POSTs
 * (`/raft`) carry one unframed raftpb.Message as the whole body.
 *
 * The `/raft/stream/msgapp` stream uses the same framing here; etcd's compact
 * msgappv2 encoding (msgappv2_codec.go) is not implemented, since mixing our
 * members with real etcd peers is out of scope.
 */

import { decodeMessage, encodeMessage } from './raftpb.js';
import { MessageType, type Message } from '../raft/types.js';

/** Largest framed message accepted on a stream (etcd readBytesLimit, 512 MiB). */
export const READ_BYTES_LIMIT = 512 * 1024 * 1024;

/** rafthttp: error limit exceeded (etcd ErrExceedSizeLimit). */
export class ExceedSizeLimitError extends Error {
  constructor() {
    super('rafthttp: error limit exceeded');
  }
}

/**
 * The link-layer keep-alive written on idle streams (etcd linkHeartbeatMessage): a
 * MsgHeartbeat with from = to = 0, which Raft itself never sends.
 */
export const LINK_HEARTBEAT: Message = {
  type: MessageType.MsgHeartbeat, to: 0n, from: 0n, term: 0, logTerm: 0, index: 0,
  entries: [], commit: 0, reject: false, rejectHint: 0,
};

/** True for {@link LINK_HEARTBEAT} (etcd isLinkHeartbeatMessage). */
export function isLinkHeartbeat(m: Message): boolean {
  return m.type === MessageType.MsgHeartbeat && m.from === 0n && m.to === 0n;
}

/** Encodes messages as consecutive frames into one buffer (one socket write per batch). */
export function encodeFrames(msgs: readonly Message[]): Buffer {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const m of msgs) {
    const body = encodeMessage(m);
    const head = Buffer.allocUnsafe(8);
    head.writeBigUInt64BE(BigInt(body.length));
    parts.push(head, body);
    total += 8 + body.length;
  }
  return Buffer.concat(parts, total);
}

/**
 * Incremental frame decoder for a byte stream: {@link push} chunks as they arrive and
 * get the complete messages back. Throws ExceedSizeLimitError for a frame above
 * `limit` bytes and RaftpbDecodeError for malformed message bytes.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1;

  constructor(private readonly limit = READ_BYTES_LIMIT) {}

  /** Bytes held waiting for the rest of a frame. */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Message[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Message[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 8) break;
        const len = this.take(8).readBigUInt64BE(0);
        if (len > BigInt(this.limit)) throw new ExceedSizeLimitError();
        this.need = Number(len);
      }
      if (this.buffered < this.need) break;
      const body = this.take(this.need);
      this.need = -1;
      out.push(decodeMessage(body));
    }
    return out;
  }

  /** Removes and returns whatever bytes are buffered beyond the last complete frame (excluding a partial header). */
  drain(): Buffer {
    const b = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    return b;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks, this.buffered);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }
}
