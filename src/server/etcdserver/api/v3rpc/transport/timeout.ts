/**
 * @module server/etcdserver/api/v3rpc/transport/timeout
 * The `grpc-timeout` request header (gRPC over HTTP/2 spec; grpc-go
 * internal/transport/http_util.go decodeTimeout): 1 to 8 ASCII digits and a
 * unit, H hours, M minutes, S seconds, m milliseconds, u microseconds,
 * n nanoseconds.
 */

const UNIT_MS: Readonly<Record<string, number>> = { H: 3600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * The timeout of a `grpc-timeout` value, in ms (fractions kept); undefined
 * when malformed (too short, more than 8 digits, non-digits, unknown unit),
 * which grpc-go answers with RST_STREAM PROTOCOL_ERROR.
 */
export function parseGrpcTimeout(v: string): number | undefined {
  const n = v.length;
  if (n < 2 || n > 9) return undefined;
  const unit = UNIT_MS[v[n - 1]!];
  if (unit === undefined) return undefined;
  let t = 0;
  for (let i = 0; i < n - 1; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    t = t * 10 + d;
  }
  return t * unit;
}
