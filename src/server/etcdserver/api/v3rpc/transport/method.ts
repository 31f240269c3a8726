/**
 * @module server/etcdserver/api/v3rpc/transport/method
 * What a service registers with the transport for one RPC method (grpc-go
 * MethodDesc / StreamDesc): its kind, how to decode requests and encode
 * responses, and the handler.
 */
import type { ServerStream } from './stream.js';
import type { ServerUnaryCall } from './unary.js';

/** RPC kinds, as in the proto (protobuf-es `methodKind`). */
export type MethodKind = 'unary' | 'server_streaming' | 'client_streaming' | 'bidi_streaming';

/**
 * Message coding of one method. `decode` may throw (the call then ends with
 * Internal "grpc: error unmarshalling request: <message>", as grpc-go);
 * `encode` must not.
 */
export interface MethodCodec<Req, Resp> {
  decode(bytes: Uint8Array): Req;
  encode(msg: Resp): Uint8Array;
  /**
   * Told of each response sent already encoded (`ServerStream.writeFramed`), with
   * its message size in bytes, as `encode` would have counted it.
   */
  onSentEncoded?(bytes: number): void;
}

/**
 * A unary method: the handler gets the decoded request and its encoded size
 * (bytes) and answers through `call.sendResponse` or `call.sendError`, once.
 */
export interface UnaryMethod<Req, Resp> extends MethodCodec<Req, Resp> {
  readonly kind: 'unary';
  handler(call: ServerUnaryCall<Req, Resp>, request: Req, size: number): void;
}

/**
 * A streaming method. Server-streaming handlers start once the single request
 * arrived (`stream.request`); bidi and client-streaming handlers start at
 * once and read requests from 'data' events.
 */
export interface StreamMethod<Req, Resp> extends MethodCodec<Req, Resp> {
  readonly kind: 'server_streaming' | 'client_streaming' | 'bidi_streaming';
  handler(stream: ServerStream<Req, Resp>): void;
}

/** Any method. */
export type Method = UnaryMethod<unknown, unknown> | StreamMethod<unknown, unknown>;
