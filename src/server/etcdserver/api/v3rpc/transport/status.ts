/**
 * @module server/etcdserver/api/v3rpc/transport/status
 * Status trailers as grpc-go writes them (internal/transport/http_util.go
 * encodeGrpcMessage): `grpc-message` keeps bytes 0x20..0x7E except '%', and
 * percent-encodes every other UTF-8 byte as %XX (upper-case hex).
 */
import { Code, type StatusObject } from '../../../../../util/grpc/codes.js';

/**
 * The `grpc-message` value of `msg` (grpc-go encodeGrpcMessage): unchanged when
 * every char is printable ASCII other than '%', else each UTF-8 byte outside
 * that set written as `%XX`. Lone surrogates become U+FFFD (EF BF BD), as Go's
 * invalid-UTF-8 handling.
 */
export function encodeGrpcMessage(msg: string): string {
  let plain = true;
  for (let i = 0; i < msg.length; i++) {
    const c = msg.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return msg;
  const bytes = Buffer.from(msg, 'utf8');
  let out = '';
  for (const b of bytes) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b < 16 ? '0' : ''}${b.toString(16).toUpperCase()}`;
  }
  return out;
}

/** The OK status. */
export const STATUS_OK: StatusObject = Object.freeze({ code: Code.OK, details: '' });

/** Status sent when a call's `grpc-timeout` expires before the handler answers. */
export const STATUS_DEADLINE_EXCEEDED: StatusObject = Object.freeze({ code: Code.DEADLINE_EXCEEDED, details: 'context deadline exceeded' });

/**
 * grpc-go's Unimplemented status for a `:path` it has no handler for
 * (server.go handleStream): "unknown service S" when the service is not
 * registered, else "unknown method M for service S".
 */
export function statusUnknownMethod(service: string, method: string, knownService: boolean): StatusObject {
  return {
    code: Code.UNIMPLEMENTED,
    details: knownService ? `unknown method ${method} for service ${service}` : `unknown service ${service}`,
  };
}

/** grpc-go's status for a `:path` without a '/' after the leading one (server.go handleStream). */
export function statusMalformedMethod(path: string): StatusObject {
  return { code: Code.RESOURCE_EXHAUSTED, details: `malformed method name: ${JSON.stringify(path)}` };
}

/**
 * Internal "grpc: error unmarshalling request: <reason>" for a request body the
 * decoder rejected (grpc-go server.go). A body cut short reads as gogo
 * protobuf's io.ErrUnexpectedEOF ("unexpected EOF", what etcd 3.4 answers);
 * other reasons keep the decoder's own text.
 */
export function statusUnmarshalError(e: unknown): StatusObject {
  const msg = e instanceof Error ? e.message : String(e);
  const reason = /premature EOF/i.test(msg) ? 'unexpected EOF' : msg;
  return { code: Code.INTERNAL, details: `grpc: error unmarshalling request: ${reason}` };
}
