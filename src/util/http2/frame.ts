/**
 * @module util/http2/frame
 * HTTP/2 framing constants and frame headers (RFC 7540 §4, §6, §7), shared by the
 * client's HTTP/2 transport and the server's (v3rpc/transport/http2.ts).
 */

/** HTTP/2 frame types (RFC 7540 §6). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** HTTP/2 frame flags used here. */
export const FrameFlag = {
  /** SETTINGS, PING */
  ACK: 0x1,
  /** DATA, HEADERS */
  END_STREAM: 0x1,
  /** HEADERS, CONTINUATION */
  END_HEADERS: 0x4,
  /** DATA, HEADERS */
  PADDED: 0x8,
  /** HEADERS */
  PRIORITY: 0x20,
} as const;

/** SETTINGS parameter identifiers (RFC 7540 §6.5.2). */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
} as const;

/** HTTP/2 error codes (RFC 7540 §7). */
export const H2Code = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** The name of error code `code` (e.g. "NO_ERROR"), or undefined for one RFC 7540 does not define. */
export function h2CodeName(code: number): string | undefined {
  for (const [name, v] of Object.entries(H2Code)) if (v === code) return name;
  return undefined;
}

/** RFC 7540 §6.9.2: flow-control windows start at 65,535 octets until SETTINGS say otherwise. */
export const DEFAULT_WINDOW_BYTES = 65535;
/** RFC 7540 §6.9.1: the largest flow-control window, 2^31-1 octets. */
export const MAX_WINDOW_BYTES = 2 ** 31 - 1;
/** RFC 7540 §5.1.1: stream identifiers are 31-bit; a client past this one needs a new connection. */
export const MAX_STREAM_ID = 2 ** 31 - 1;

/** The HTTP/2 client connection preface (RFC 7540 §3.5). */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Length of an HTTP/2 frame header, octets. */
export const FRAME_HEADER_BYTES = 9;

/** SETTINGS_MAX_FRAME_SIZE default (RFC 7540 §6.5.2), which our server and client keep. */
export const DEFAULT_MAX_FRAME_SIZE = 16384;

/** SETTINGS_HEADER_TABLE_SIZE default (RFC 7540 §6.5.2), which our server and client keep. */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;

/** Writes an HTTP/2 frame header (24-bit length, type, flags, stream id) at the start of `b`. */
export function putFrameHeader(b: Buffer, length: number, type: number, flags: number, streamId: number): void {
  b[0] = length >>> 16;
  b[1] = (length >>> 8) & 0xff;
  b[2] = length & 0xff;
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE((streamId & 0x7fffffff) >>> 0, 5);
}

/** An HTTP/2 frame header: 24-bit length, type, flags, stream id. */
export function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  putFrameHeader(h, length, type, flags, streamId);
  return h;
}

/** The fields of the frame header at the start of `b` (RFC 7540 §4.1, the reserved bit dropped): the inverse of {@link frameHeader}. */
export function readFrameHeader(b: Buffer): { length: number; type: number; flags: number; streamId: number } {
  return { length: b.readUIntBE(0, 3), type: b[3]!, flags: b[4]!, streamId: b.readUInt32BE(5) & 0x7fffffff };
}
