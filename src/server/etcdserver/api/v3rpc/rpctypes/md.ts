/**
 * @module server/etcdserver/api/v3rpc/rpctypes/md
 * gRPC metadata keys etcd reads (rpctypes/md.go, rpctypes/metadatafields.go).
 */

/** Metadata key whose value {@link METADATA_HAS_LEADER} makes the call fail without a leader. */
export const METADATA_REQUIRE_LEADER_KEY = 'hasleader';
export const METADATA_HAS_LEADER = 'true';
/** Client API version (counted in etcd's client_requests metric only). */
export const METADATA_CLIENT_API_VERSION_KEY = 'client-api-version';
/** The auth token as sent by clientv3. */
export const TOKEN_FIELD_NAME_GRPC = 'token';
/** The auth token as sent by the grpc-gateway (swagger). */
export const TOKEN_FIELD_NAME_SWAGGER = 'authorization';
