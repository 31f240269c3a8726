/**
 * @module server/etcdserver/api/v3rpc/transport/metadata
 * A call's request metadata (grpc-go metadata.MD from the request headers),
 * read lazily from the request header object (http2.ts): nothing is copied or decoded
 * until a key is asked for.
 *
 * Keys are lower-case. Values of `-bin` keys are base64 (padded or not) and
 * come back as Buffers; other values as strings. Several values of one key
 * (repeated headers, which node joins with ", ") come back as several entries.
 * Pseudo-headers and the gRPC reserved headers (content-type, te,
 * grpc-timeout, grpc-encoding, grpc-accept-encoding...) are not metadata.
 */
import type { RequestHeaders } from './http2.js';

const RESERVED = new Set([
  'content-type', 'te', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'grpc-message-type',
  'grpc-message', 'grpc-status', 'grpc-status-details-bin', 'connection', 'host',
]);

/** Metadata of one call; see the module doc. */
export class Metadata {
  /** @param headers the request headers (a repeated header's values joined with ", ") */
  constructor(private readonly headers: RequestHeaders) {}

  /** The values of `key` (any case), [] when absent or reserved. */
  get(key: string): (string | Buffer)[] {
    const k = key.toLowerCase();
    if (k.startsWith(':') || RESERVED.has(k)) return [];
    const raw = this.headers[k];
    if (raw === undefined) return [];
    const parts = raw.split(', ');
    return k.endsWith('-bin') ? parts.map((v) => Buffer.from(v, 'base64')) : parts;
  }

  /** The first value of `key` as a string (a `-bin` value decoded as UTF-8), or undefined. */
  first(key: string): string | undefined {
    const k = key.toLowerCase();
    if (!k.endsWith('-bin')) {
      // fast path: one plain header (what clients send for token / hasleader)
      const raw = this.headers[k];
      if (typeof raw === 'string' && !raw.includes(', ') && !k.startsWith(':') && !RESERVED.has(k)) return raw;
    }
    const v = this.get(k)[0];
    return v === undefined ? undefined : typeof v === 'string' ? v : v.toString('utf8');
  }

  /** Every metadata key present (lower-case). */
  keys(): string[] {
    return Object.keys(this.headers).filter((k) => !k.startsWith(':') && !RESERVED.has(k));
  }
}
