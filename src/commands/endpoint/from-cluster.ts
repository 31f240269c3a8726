/**
 * @module commands/endpoint/from-cluster
 * etcdctl's endpointsFromCluster (ep_command.go), shared by `endpoint *` and `defrag`:
 * without `--cluster` the `--endpoints` list; with it, the client URLs of every member
 * from a MemberList sent without authentication.
 */

import type { CommandContext } from '../../cli/command.js';
import { CliError, ExitError } from '../../cli/exit-codes.js';
import { EtcdError } from '../../client/errors.js';

/** The `--cluster` flag (a persistent flag of `endpoint` and of `defrag`). */
export const CLUSTER_FLAG = { name: 'cluster', type: 'bool', default: false, usage: 'use all endpoints from the cluster member list' } as const;

/**
 * The endpoints to act on, in order.
 * @throws CliError(ExitError) `failed to fetch endpoints from etcd cluster member list: <err>`
 *   when MemberList fails; CliError(ExitBadArgs) for unusable TLS files
 */
export async function endpointsFromCluster(ctx: CommandContext): Promise<string[]> {
  const g = ctx.globals();
  if (!ctx.flags.bool('cluster')) return g.endpoints;
  const { makeClient, discoverEndpoints } = await import('../../cli/connect.js');
  await discoverEndpoints(g, ctx.errWrite);
  // MemberList needs no authentication, so no password is asked for.
  const c = await makeClient({ ...g, user: '', password: '' }, ctx.errWrite);
  try {
    const resp = await c.memberList();
    return resp.members.flatMap((m) => m.clientURLs);
  } catch (e) {
    if (e instanceof EtcdError) throw new CliError(ExitError, `failed to fetch endpoints from etcd cluster member list: ${e.message}`);
    throw e;
  } finally {
    c.close();
  }
}
