// Seeding helpers that need the typed client (kept out of run.ts, which only spawns CLIs).

import { EtcdClient } from '../../src/client/client.js';
import { serversOf, type ServerLike } from './run.js';

/**
 * Grants lease `id` (explicit ID, so it is the same on every server) with `ttlSeconds`
 * on `server` and, in serve mode, on its subject, through the typed client (gRPC
 * LeaseGrant with ID set; etcdctl 3.4 cannot choose lease IDs). Used for seeds whose
 * outputs show lease IDs in forms no normalizer can rewrite (e.g. -w protobuf).
 * @throws the client's error if a grant fails (e.g. the ID exists).
 */
export async function grantLeaseWithId(server: ServerLike, id: bigint, ttlSeconds: bigint): Promise<void> {
  for (const s of serversOf(server)) {
    const c = await EtcdClient.connect({ endpoints: [s.endpoint], dialTimeoutMs: 5000, commandTimeoutMs: 10_000, keepaliveTimeMs: 10_000, keepaliveTimeoutMs: 6000 });
    try {
      await c.leaseGrant({ ID: id, TTL: ttlSeconds });
    } finally {
      c.close();
    }
  }
}
