/**
 * @module server/etcdserver/api/v3rpc/health
 * grpc.health.v1.Health/Check, as etcd 3.4 registers grpc-go's health server
 * with "" SERVING (v3rpc/grpc.go): service "" → SERVING, any other service
 * name → NotFound "unknown service". Messages are coded by hand
 * (HealthCheckRequest{string service = 1}, HealthCheckResponse{ServingStatus
 * status = 1}, SERVING = 1); a request that is not valid protobuf gets
 * Internal "grpc: error unmarshalling request: ...".
 */
import { Code } from '../../../../util/grpc/codes.js';
import type { UnaryMethod } from './transport/method.js';

/** The health service name and method. */
export const HEALTH_SERVICE = 'grpc.health.v1.Health';
export const HEALTH_CHECK_METHOD = 'Check';

/** HealthCheckResponse{status: SERVING}. */
const SERVING = Uint8Array.of(0x08, 0x01);

/** The Check method for the transport (requests decode to their `service` field). */
export function healthCheckMethod(): UnaryMethod<string, Uint8Array> {
  return {
    kind: 'unary',
    decode: (b) => {
      const service = healthCheckService(b);
      if (service === undefined) throw new Error('malformed HealthCheckRequest');
      return service;
    },
    encode: (v) => v,
    handler: (call, service) => {
      if (service !== '') call.sendError({ code: Code.NOT_FOUND, details: 'unknown service' });
      else call.sendResponse(SERVING);
    },
  };
}

/** The `service` field (1, string) of a HealthCheckRequest; undefined if malformed. */
export function healthCheckService(b: Uint8Array): string | undefined {
  let i = 0;
  let service = '';
  const varint = (): number | undefined => {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (i >= b.length) return undefined;
      const x = b[i++]!;
      v += (x & 0x7f) * 2 ** shift;
      if (x < 0x80) return v;
    }
    return undefined;
  };
  while (i < b.length) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const wire = tag & 7;
    if (wire === 0) { if (varint() === undefined) return undefined; }
    else if (wire === 2) {
      const n = varint();
      if (n === undefined || i + n > b.length) return undefined;
      if (tag >>> 3 === 1) service = Buffer.from(b.buffer, b.byteOffset + i, n).toString('utf8');
      i += n;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else return undefined;
  }
  return service;
}
