/**
 * @module util/grpc/codes
 * gRPC status codes (google.golang.org/grpc/codes; the numbers on the wire in
 * the `grpc-status` trailer) and the status shape the transports send and report.
 */

/** gRPC status codes, with grpc-js's constant names. */
export enum Code {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

/**
 * A status to end a call with: `code` goes to `grpc-status`, `details` to
 * `grpc-message` (percent-encoded). v3rpc's GrpcStatusError satisfies it.
 */
export interface StatusObject {
  readonly code: number;
  readonly details: string;
}
