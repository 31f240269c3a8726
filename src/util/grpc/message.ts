/**
 * @module util/grpc/message
 * gRPC length-prefixed messages (gRPC over HTTP/2 spec "Length-Prefixed-Message";
 * grpc-go rpc_util.go parser.recvMsg / msgHeader): a 1-byte compressed flag,
 * a 4-byte big-endian length, then the message bytes. A message may span
 * DATA frames and one frame may hold several messages.
 */
import { Code, type StatusObject } from './codes.js';

const STATUS_COMPRESSED_FLAG: StatusObject = Object.freeze({ code: Code.INTERNAL, details: 'grpc: compressed flag set with identity or empty encoding' });

/**
 * grpc-go's status for a message above the receive limit (rpc_util.go
 * recvMsg): `n` is the length from the message header, `max` the limit, bytes.
 */
export function statusReceivedTooLarge(n: number, max: number): StatusObject {
  return { code: Code.RESOURCE_EXHAUSTED, details: `grpc: received message larger than max (${n} vs. ${max})` };
}

/** Bytes of the message prefix. */
export const MESSAGE_HEADER_BYTES = 5;

/** `payload` with its 5-byte prefix (uncompressed), in one new Buffer. */
export function encodeMessage(payload: Uint8Array): Buffer {
  const n = payload.length;
  const out = Buffer.allocUnsafe(MESSAGE_HEADER_BYTES + n);
  out[0] = 0;
  out.writeUInt32BE(n, 1);
  out.set(payload, MESSAGE_HEADER_BYTES);
  return out;
}

/** Receiver of a {@link MessageDecoder}'s output. */
export interface MessageSink {
  onMessage(msg: Uint8Array): void;
  onFrameError(st: StatusObject): void;
}

/**
 * Incremental parser of one stream's messages (a server's requests, a client's responses). `push` each DATA chunk
 * in order; whole messages are passed to `sink.onMessage` (a view of the chunk
 * when the message lies in one chunk, else a copy); the first framing error is
 * passed to `sink.onFrameError` and everything after it is ignored.
 *
 * Errors, with grpc-go's codes and messages (rpc_util.go):
 * - length above `maxBytes` → ResourceExhausted "grpc: received message larger
 *   than max (N vs. M)", raised as soon as the prefix is read;
 * - compressed flag 1 → Internal "grpc: compressed flag set with identity or
 *   empty encoding" (neither side has decompressors: the server refuses any
 *   other `grpc-encoding` up front, see its transport/server.ts, and the
 *   client asks for none);
 * - any other flag → Internal "grpc: received unexpected payload format F".
 */
export class MessageDecoder {
  private head: Buffer | undefined;
  private headFill = 0;
  /** payload being assembled across chunks */
  private body: Buffer | undefined;
  private bodyFill = 0;
  private failed = false;

  /** @param maxBytes largest accepted message length, bytes */
  constructor(
    private readonly maxBytes: number,
    private readonly sink: MessageSink,
  ) {}

  /** True while a message is partly read (a stream ending now is cut short). */
  get partial(): boolean {
    return this.headFill > 0 || this.body !== undefined;
  }

  /** Parses `chunk`; calls back for each complete message or the first error. */
  push(chunk: Buffer): void {
    let off = 0;
    const len = chunk.length;
    while (off < len && !this.failed) {
      if (this.body !== undefined) {
        const body = this.body;
        const n = Math.min(len - off, body.length - this.bodyFill);
        chunk.copy(body, this.bodyFill, off, off + n);
        this.bodyFill += n;
        off += n;
        if (this.bodyFill === body.length) {
          this.body = undefined;
          this.bodyFill = 0;
          this.sink.onMessage(body);
        }
        continue;
      }
      let flag: number;
      let size: number;
      if (this.headFill === 0 && len - off >= MESSAGE_HEADER_BYTES) {
        flag = chunk[off]!;
        size = chunk.readUInt32BE(off + 1);
        off += MESSAGE_HEADER_BYTES;
      } else {
        const head = (this.head ??= Buffer.allocUnsafe(MESSAGE_HEADER_BYTES));
        const n = Math.min(len - off, MESSAGE_HEADER_BYTES - this.headFill);
        chunk.copy(head, this.headFill, off, off + n);
        this.headFill += n;
        off += n;
        if (this.headFill < MESSAGE_HEADER_BYTES) return;
        this.headFill = 0;
        flag = head[0]!;
        size = head.readUInt32BE(1);
      }
      const st = this.check(flag, size);
      if (st) {
        this.failed = true;
        this.sink.onFrameError(st);
        return;
      }
      if (len - off >= size) {
        const msg = chunk.subarray(off, off + size);
        off += size;
        this.sink.onMessage(msg);
      } else {
        this.body = Buffer.allocUnsafe(size);
        this.bodyFill = 0;
      }
    }
  }

  private check(flag: number, size: number): StatusObject | undefined {
    if (size > this.maxBytes) return statusReceivedTooLarge(size, this.maxBytes);
    if (flag === 0) return undefined;
    if (flag === 1) return STATUS_COMPRESSED_FLAG;
    return { code: Code.INTERNAL, details: `grpc: received unexpected payload format ${flag}` };
  }
}
